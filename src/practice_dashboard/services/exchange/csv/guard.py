"""The spreadsheet formula guard of the CSV export, and its reversal for the import.

Free-text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
tab or carriage return) are prefixed with a single quote; `restore` undoes exactly that, so
export → import → export gives the same bytes.
"""

from __future__ import annotations

from typing import Final

# OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS: Final = frozenset({"=", "+", "-", "@", "\t", "\r"})
QUOTE: Final = "'"


def neutralise(text: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula.

    Text that already starts with quotes followed by a trigger gets one more quote, so that
    `restore` can always take exactly one off: the pair is a bijection.
    """
    if text[:1] in FORMULA_STARTS or (
        text[:1] == QUOTE and text.lstrip(QUOTE)[:1] in FORMULA_STARTS
    ):
        return QUOTE + text
    return text


def restore(cell: str) -> str:
    """Undo `neutralise` (cells that were never neutralised pass unchanged)."""
    if cell[:1] == QUOTE and cell.lstrip(QUOTE)[:1] in FORMULA_STARTS:
        return cell[1:]
    return cell
