"""Matching words of a query against words of a lead: accent- and case-insensitive, with a
crude stemming that keeps leadgen free of language dependencies ("dentist" ~ "dental",
"plumber" ~ "plumbing", "gym" ~ "gyms", but not "law" ~ "lawyer")."""

import re

from leadgen.leads.normalise import fold


def words(text: str) -> list[str]:
    """The words of ``text``, accents stripped and lower-cased."""
    return re.findall(r"[^\W_]+", fold(text).lower())


def related(term: str, word: str) -> bool:
    """True when ``word`` is ``term`` or a close form of it."""
    if term == word:
        return True
    short, long = sorted((term, word), key=len)
    common = next(
        (i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short)
    )
    if common == len(short) and len(long) - len(short) <= 1:
        return True
    return common >= 4 and common >= len(short) - 2
