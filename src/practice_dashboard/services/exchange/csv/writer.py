"""The one streaming CSV writer: RFC 4180 quoting, CRLF line ends, header first."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")


def csv_pieces(header: Sequence[str], batches: Iterable[Iterable[Sequence[Any]]]) -> Iterator[str]:
    """The CSV text in pieces, one per batch of rows; memory holds one batch at a time.

    Cells are written as given: text cells must already have passed the formula guard.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for rows in batches:
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter): itertools.batched before 3.12."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
