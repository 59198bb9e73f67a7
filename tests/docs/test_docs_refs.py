"""The code's references to the documentation point at something that exists: every
"invariant N" at an invariant of docs/architecture.md, every "contract section N" at a section
of docs/contract.md, and every document the README links to is in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [*(ROOT / "leadgen").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]


def cited(pattern: str) -> set[int]:
    """The numbers the code cites with ``pattern`` (one group: the number)."""
    return {int(n) for path in CODE for n in re.findall(pattern, path.read_text())}


def test_every_cited_invariant_is_in_the_architecture_document() -> None:
    """Each "invariant N" (also "invariants N and M") names a numbered invariant."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index("## Invariants") : text.index("## The outbox")]
    documented = {int(n) for n in re.findall(r"(?m)^(\d+)\. \*\*", section)}
    numbers = cited(r"[Ii]nvariants? (\d+)") | cited(r"[Ii]nvariants \d+ and (\d+)")
    assert numbers and numbers <= documented, numbers - documented
    assert documented == set(range(1, max(documented) + 1))


def test_every_cited_contract_section_is_in_the_contract_document() -> None:
    """Each "contract section N" names a numbered section of docs/contract.md."""
    text = (ROOT / "docs" / "contract.md").read_text()
    documented = {int(n) for n in re.findall(r"(?m)^## (\d+)\. ", text)}
    numbers = cited(r"contract section (\d+)")
    assert numbers and numbers <= documented, numbers - documented


def test_the_readme_links_to_files_that_exist() -> None:
    """Every relative link of the README and of docs/ leads to a file or folder of the
    repository."""
    for document in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", document.read_text()):
            assert (document.parent / target).exists(), f"{document.name}: {target}"
