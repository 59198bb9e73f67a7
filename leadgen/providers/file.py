"""The ``file:PATH`` lead source: businesses from a CSV or JSON Lines file the customer supplies.

The format follows the extension: ``.csv`` (UTF-8, a header row; Excel's byte-order mark is
accepted), ``.jsonl`` or ``.ndjson`` (one JSON object per line). Columns (keys): ``name`` and
``website`` are required (``website`` may be empty), ``location``, ``industry``, ``keywords``
(a list, or a string split on ``;`` or else on ``,``), ``phone``, ``email``, ``employees``,
``rating`` and ``reviews`` are optional; others are ignored. A row that cannot be read (a
missing name, a bad number, bytes that are not UTF-8 ...) is skipped, logged
(``lead_file_row_skipped`` with its line number and the reason) and reported with the leads
found (``Found.skipped``, kept in the job's ``source`` detail); a file that is missing,
unreadable or lacks a required column raises ``LeadFileError``. The file is read again on every
``find``, so an edited file is used by the next job."""

import asyncio
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadgen.errors import ConfigurationError, ProviderError
from leadgen.leads import matching
from leadgen.log import log
from leadgen.providers.base import Found, RawLead
from leadgen.providers.catalogue import QUERY_STOPWORDS

REQUIRED = ("name", "website")
TEXT_FIELDS = ("location", "industry", "phone", "email")
NUMBER_FIELDS: dict[str, type[int] | type[float]] = {
    "employees": int,
    "rating": float,
    "reviews": int,
}
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class LeadFileError(ProviderError):
    """Raised when the lead file is missing, unreadable, or lacks a required column."""


class _BadRow(ValueError):
    """A row that cannot become a lead; the text says why."""


@dataclass(frozen=True)
class _Row:
    line: int
    lead: RawLead


def _query_hits(lead: RawLead, terms: list[str]) -> int:
    haystack = set(matching.words(" ".join([lead.name, lead.industry or "", *lead.keywords])))
    return sum(any(matching.related(term, word) for word in haystack) for term in terms)


def _in_place(lead: RawLead, city: list[str]) -> bool:
    # A listing without a location is kept: the customer's own list is usually local already.
    if not city or not lead.location:
        return True
    words = matching.words(lead.location)
    return any(words[i : i + len(city)] == city for i in range(len(words) - len(city) + 1))


def _text(value: Any, column: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _BadRow(f"{column} is not text: {value!r}")
    return str(value).strip() or None


def _number(value: Any, column: str, kind: type[int] | type[float]) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _BadRow(f"{column} is not a number: {value!r}") from None


def _keywords(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        items = [_text(item, "keywords") for item in value]
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(";" if ";" in value else ",")]
    else:
        raise _BadRow(f"keywords is neither a list nor text: {value!r}")
    return [item for item in items if item]


def _check_decoded(record: dict[str, Any]) -> None:
    """_BadRow when a value of the row holds bytes that were not UTF-8."""
    for column, value in record.items():
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str) and (bad := _undecoded(text)) is not None:
                raise _BadRow(
                    f"{column} is not UTF-8 text (byte 0x{bad:02x}); save the file as UTF-8"
                )


def _undecoded(text: str) -> int | None:
    """The first byte ``surrogateescape`` kept of ``text``, if any."""
    return next((ord(ch) - 0xDC00 for ch in text if 0xDC80 <= ord(ch) <= 0xDCFF), None)


def raw_lead(record: dict[str, Any], source_id: str) -> RawLead:
    """The raw lead of one row, its keys already lower-case; _BadRow when unusable."""
    name = _text(record.get("name"), "name")
    if not name:
        raise _BadRow("name is empty")
    if "website" not in record:
        raise _BadRow("website is missing (leave it empty rather than out)")
    texts = {column: _text(record.get(column), column) for column in TEXT_FIELDS}
    signals = {
        column: number
        for column, kind in NUMBER_FIELDS.items()
        if (number := _number(record.get(column), column, kind)) is not None
    }
    return RawLead(
        source_id=source_id,
        name=name,
        website=_text(record["website"], "website"),
        keywords=_keywords(record.get("keywords")),
        signals=signals,
        **texts,
    )


class FileLeadSource:
    """A lead source reading the customer's own list of businesses.

    Rows are matched against the query (a row matches when at least one of the query's terms,
    stop words left out, appears in its name, industry or keywords, in any inflection, case or
    accent) and the location (the requested city, the part before the first comma, appears in
    the row's location; a row without one matches anywhere). Rows matching more terms come
    first, otherwise the file's order is kept."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise ConfigurationError(
                f"file lead source: {self.path} must end in .csv, .jsonl or .ndjson"
            )
        self.format = fmt

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        """Up to ``limit`` matching rows, with the rows skipped; LeadFileError when the file
        cannot be used."""
        skipped: list[dict[str, Any]] = []
        rows = await asyncio.to_thread(self.read, skipped)
        words = list(dict.fromkeys(matching.words(query)))
        terms = [word for word in words if word not in QUERY_STOPWORDS] or words
        city = matching.words((location or "").split(",")[0])
        ranked: list[tuple[int, int, RawLead]] = []
        for index, row in enumerate(rows):
            hits = _query_hits(row.lead, terms) if terms else 1
            if hits and _in_place(row.lead, city):
                ranked.append((-hits, index, row.lead))
        ranked.sort(key=lambda item: item[:2])
        return Found([lead for _, _, lead in ranked[: max(0, limit)]], skipped=skipped)

    def read(self, skipped: list[dict[str, Any]] | None = None) -> list["_Row"]:
        """Every readable row of the file, blocking; the others go to ``skipped``.
        LeadFileError when the file is unusable."""
        skipped = [] if skipped is None else skipped
        try:
            # Bytes that are not UTF-8 are kept as surrogates, so that only their row fails.
            with self.path.open(
                encoding="utf-8-sig", errors="surrogateescape", newline=""
            ) as handle:
                records = self._csv(handle) if self.format == "csv" else self._jsonl(handle)
                return list(self._rows(records, skipped))
        except OSError as exc:
            raise LeadFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except csv.Error as exc:
            raise LeadFileError(f"cannot read {self.path}: malformed CSV ({exc})") from None

    def _rows(
        self, records: Iterator[tuple[int, dict[str, Any] | str]], skipped: list[dict[str, Any]]
    ) -> Iterator[_Row]:
        for line, record in records:
            try:
                if isinstance(record, str):
                    raise _BadRow(record)
                _check_decoded(record)
                yield _Row(line, raw_lead(record, f"file:{self.path}:{line}"))
            except _BadRow as exc:
                log.warning(
                    "lead_file_row_skipped", path=str(self.path), line=line, reason=str(exc)
                )
                skipped.append({"line": line, "reason": str(exc)})

    def _csv(self, handle: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
        reader = csv.reader(handle)
        header = [column.strip().lower() for column in next(reader, [])]
        missing = [column for column in REQUIRED if column not in header]
        if missing:
            raise LeadFileError(
                f"{self.path} has no {' and no '.join(missing)} column "
                f"(the first line must name the columns; found: {', '.join(header) or 'none'})"
            )
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield reader.line_num, f"expected {len(header)} fields, found {len(cells)}"
                continue
            yield reader.line_num, dict(zip(header, cells, strict=True))

    def _jsonl(self, handle: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                yield line, f"not JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(record, dict):
                yield line, f"not a JSON object but {type(record).__name__}"
                continue
            yield line, {str(key).strip().lower(): value for key, value in record.items()}
