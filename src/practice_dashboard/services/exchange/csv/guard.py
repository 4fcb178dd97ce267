"""The one spreadsheet formula guard, for every CSV the product writes, and its reversal.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (OWASP "CSV
injection"), also behind leading blanks, tabs or line breaks, and in every compatibility form
that Unicode folds to those (NFKC): the full-width `＝＋－＠`, the small `﹦﹢﹣﹫`, the
superscript and subscript `⁼⁺₌₊`. Spreadsheets fold such forms to the ASCII ones, so the
guard asks NFKC rather than keeping a list that misses one. Such text gets a leading single
quote, which spreadsheets read as "this is text" and do not show.

Text that already starts with quotes followed by such a start gets one more quote, so that
`restore` can always take exactly one off: `restore(neutralise(t)) == t` for every text, which
keeps export → import → export byte-identical. Only text passes through here: numbers, times
and codes are written as they are, so a negative number stays a number.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# The characters a formula starts with, after NFKC (tab, CR and LF are also blanks that hide
# one, and start one in some spreadsheets).
FORMULA_STARTS: Final = frozenset("=+-@\t\r\n")
QUOTE: Final = "'"


def _starts_formula(text: str) -> bool:
    first = text[:1]
    return first in FORMULA_STARTS or unicodedata.normalize("NFKC", first)[:1] in FORMULA_STARTS


def _runs_as_formula(text: str) -> bool:
    return _starts_formula(text) or _starts_formula(text.lstrip())


def neutralise(text: str) -> str:
    """The text as a cell a spreadsheet shows as text: a quote before a formula-like start."""
    first = text[:1]
    if _starts_formula(first) or first == QUOTE or first.isspace():
        if _runs_as_formula(text.lstrip(QUOTE)):
            return QUOTE + text
    return text


def restore(cell: str) -> str:
    """Undo `neutralise`: one quote off a cell that `neutralise` would have quoted."""
    if cell[:1] == QUOTE and _runs_as_formula(cell.lstrip(QUOTE)):
        return cell[1:]
    return cell
