"""The ``file:PATH`` lead source: CSV and JSON Lines lists supplied by the customer."""

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from leadgen.errors import ConfigurationError
from leadgen.providers import RawLead, lead_source
from leadgen.providers.file import FileLeadSource, LeadFileError

CSV = """\
name,website,location,industry,keywords,phone,email,employees,rating,reviews
Bright Smile Dental,https://brightsmile.example/,"Austin, TX",Dentist,cosmetic;implants,\
(512) 555-0142,hi@brightsmile.example,12,4.8,310
Lone Star Dentistry,,Austin,Dental clinic,"family, emergency",,,,,
Montréal Dentisterie,https://dentisterie.example,Montréal,Dentiste,,,,,4.1,
Joe's Plumbing,https://joesplumbing.example,"Austin, TX",Plumber,,,,,,
Café Olé,https://cafeole.example,"AUSTIN, Texas",Coffee shop,espresso,,,,,
Dallas Dental,https://dallasdental.example,"Dallas, TX",Dentist,,,,,,
Hill Country Dental Care,https://hillcountry.example,,Dentist,,,,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A file called ``name`` in ``tmp_path`` holding ``text``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def find(path: Path, query: str, location: str | None = None, limit: int = 25) -> list[str]:
    """The names a file source at ``path`` finds."""
    return [lead.name for lead in await FileLeadSource(path).find(query, location, limit)]


async def test_a_csv_row_becomes_a_raw_lead(tmp_path: Path) -> None:
    """Every documented column lands in its RawLead field; numbers become signals."""
    path = write(tmp_path, "leads.csv", CSV)
    leads = await FileLeadSource(path).find("dentist", "Austin, TX", 2)
    assert leads == [
        RawLead(
            source_id=f"file:{path}:2",
            name="Bright Smile Dental",
            website="https://brightsmile.example/",
            location="Austin, TX",
            phone="(512) 555-0142",
            email="hi@brightsmile.example",
            industry="Dentist",
            keywords=["cosmetic", "implants"],
            signals={"employees": 12, "rating": 4.8, "reviews": 310},
        ),
        RawLead(
            source_id=f"file:{path}:3",
            name="Lone Star Dentistry",
            location="Austin",
            industry="Dental clinic",
            keywords=["family", "emergency"],
        ),
    ]


async def test_query_and_location_match_ignoring_case_and_accents(tmp_path: Path) -> None:
    """ "cafes" finds "Café Olé" in "AUSTIN, Texas" from "austin"; "montreal" finds "Montréal"
    (and the row without a location, which matches anywhere)."""
    path = write(tmp_path, "leads.csv", CSV)
    assert await find(path, "cafes", "austin") == ["Café Olé"]
    assert await find(path, "DENTISTERIE", "montreal, qc") == [
        "Montréal Dentisterie",
        "Hill Country Dental Care",
    ]


async def test_rows_outside_the_city_are_left_out_and_rows_without_one_kept(
    tmp_path: Path,
) -> None:
    """Dallas is not Austin; a row without a location is kept; other trades are left out."""
    path = write(tmp_path, "leads.csv", CSV)
    assert await find(path, "best dentists near me", "Austin, TX") == [
        "Bright Smile Dental",
        "Lone Star Dentistry",
        "Hill Country Dental Care",
    ]
    assert await find(path, "dentist") == [
        "Bright Smile Dental",
        "Lone Star Dentistry",
        "Montréal Dentisterie",
        "Dallas Dental",
        "Hill Country Dental Care",
    ]


async def test_rows_matching_more_terms_come_first(tmp_path: Path) -> None:
    """A row matching two query terms ranks above rows matching one, file order otherwise."""
    path = write(tmp_path, "leads.csv", CSV)
    names = await find(path, "emergency dentist", "Austin")
    assert names == ["Lone Star Dentistry", "Bright Smile Dental", "Hill Country Dental Care"]


async def test_json_lines_are_read_like_csv(tmp_path: Path) -> None:
    """A .jsonl file gives the same fields; keywords may be a list or a string."""
    rows = [
        {"name": "Bright Smile Dental", "website": "https://brightsmile.example/",
         "location": "Austin, TX", "industry": "Dentist", "keywords": ["cosmetic", "implants"],
         "rating": 4.8, "reviews": "310"},
        {"Name": "Lone Star Dentistry", "Website": None, "keywords": "family; emergency"},
    ]  # fmt: skip
    path = write(tmp_path, "leads.ndjson", "\n".join(json.dumps(row) for row in rows) + "\n\n")
    leads = await FileLeadSource(path).find("dentist", None, 25)
    assert [(lead.name, lead.website, lead.keywords, lead.signals) for lead in leads] == [
        ("Bright Smile Dental", "https://brightsmile.example/", ["cosmetic", "implants"],
         {"rating": 4.8, "reviews": 310}),
        ("Lone Star Dentistry", None, ["family", "emergency"], {}),
    ]  # fmt: skip
    assert leads[1].source_id == f"file:{path}:2"


async def test_unreadable_csv_rows_are_logged_with_their_line_and_skipped(tmp_path: Path) -> None:
    """Rows with a wrong field count, a bad number or no name are reported and skipped."""
    text = (
        "name,website,rating\n"
        "Good Dental,https://good.example,4.5\n"
        "Short Row Dental\n"
        '"Multi\nLine Dental",https://multi.example,not-a-number\n'
        ",https://nameless.example,4\n"
        "\n"
        "Also Good Dental,,\n"
    )
    path = write(tmp_path, "leads.csv", text)
    with capture_logs() as logs:
        names = await find(path, "dental")
    assert names == ["Good Dental", "Also Good Dental"]
    skipped = [(e["line"], e["reason"]) for e in logs if e["event"] == "lead_file_row_skipped"]
    assert skipped == [
        (3, "expected 3 fields, found 1"),
        (5, "rating is not a number: 'not-a-number'"),
        (6, "name is empty"),
    ]
    assert all(e["log_level"] == "warning" and e["path"] == str(path) for e in logs)


async def test_skipped_rows_come_back_with_the_leads(tmp_path: Path) -> None:
    """What ``find`` returns carries every skipped row's line and reason, for the job."""
    path = write(tmp_path, "leads.csv", "name,website\nGood Dental,\n,x.example\nShort\n")
    found = await FileLeadSource(path).find("dental", None, 5)
    assert [lead.name for lead in found] == ["Good Dental"]
    assert getattr(found, "skipped", None) == [
        {"line": 3, "reason": "name is empty"},
        {"line": 4, "reason": "expected 2 fields, found 1"},
    ]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
async def test_a_row_that_is_not_utf8_is_skipped_alone(tmp_path: Path, suffix: str) -> None:
    """One cp1252 byte costs its row, with the reason and the byte, not the whole file."""
    rows = (
        [b"name,website", b"Good Dental,", b"Caf\xe9 Dental,", b"Also Good Dental,"]
        if suffix == ".csv"
        else [
            b'{"name": "Good Dental", "website": ""}',
            b'{"name": "Caf\xe9 Dental", "website": ""}',
            b'{"name": "Also Good Dental", "website": ""}',
        ]
    )
    path = tmp_path / f"leads{suffix}"
    path.write_bytes(b"\n".join(rows) + b"\n")
    found = await FileLeadSource(path).find("dental", None, 5)
    assert [lead.name for lead in found] == ["Good Dental", "Also Good Dental"]
    line = 3 if suffix == ".csv" else 2
    assert getattr(found, "skipped", None) == [
        {"line": line, "reason": "name is not UTF-8 text (byte 0xe9); save the file as UTF-8"}
    ]


async def test_unreadable_json_lines_are_logged_with_their_line_and_skipped(
    tmp_path: Path,
) -> None:
    """Broken JSON, a non-object, a missing website key and a bad type are reported."""
    text = (
        '{"name": "Good Dental", "website": "https://good.example"}\n'
        '{"name": "Broken Dental", "website": \n'
        '["Array Dental"]\n'
        '{"name": "No Site Key Dental"}\n'
        '{"name": "Typed Dental", "website": "", "keywords": 7}\n'
    )
    path = write(tmp_path, "leads.jsonl", text)
    with capture_logs() as logs:
        names = await find(path, "dental")
    assert names == ["Good Dental"]
    assert [(e["line"], e["reason"]) for e in logs] == [
        (2, "not JSON: Expecting value at column 38"),
        (3, "not a JSON object but list"),
        (4, "website is missing (leave it empty rather than out)"),
        (5, "keywords is neither a list nor text: 7"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "cannot read {path}: No such file or directory"),
        ("columns.csv", "title,url\nA,b\n", "{path} has no name and no website column"),
        ("empty.jsonl", None, "cannot read {path}: Is a directory"),
    ],
    ids=["missing", "no-columns", "directory"],
)
async def test_an_unusable_file_raises_lead_file_error(
    tmp_path: Path, name: str, content: str | bytes | None, message: str
) -> None:
    """A missing, unreadable or column-less file raises LeadFileError with a one-line message."""
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif name == "empty.jsonl":
        path.mkdir()
    with pytest.raises(LeadFileError) as caught:
        await FileLeadSource(path).find("dentist", None, 5)
    assert str(caught.value).startswith(message.format(path=path))
    assert "\n" not in str(caught.value) and caught.value.__cause__ is None


async def test_limit_keeps_the_best_rows(tmp_path: Path) -> None:
    """``limit`` caps the answer; a smaller limit returns a prefix of a larger one."""
    path = write(tmp_path, "leads.csv", CSV)
    assert await find(path, "dentist", None, 1) == ["Bright Smile Dental"]
    assert await find(path, "dentist", None, 0) == []


def test_the_spec_names_the_file(tmp_path: Path) -> None:
    """``file:PATH`` builds the source; no path or an unknown extension is a configuration error."""
    source = lead_source(f"file:{tmp_path}/leads.csv")
    assert isinstance(source, FileLeadSource) and source.path == tmp_path / "leads.csv"
    with pytest.raises(ConfigurationError, match="give the path"):
        lead_source("file")
    with pytest.raises(ConfigurationError, match=r"must end in \.csv, \.jsonl or \.ndjson"):
        lead_source("file:/data/leads.xlsx")
