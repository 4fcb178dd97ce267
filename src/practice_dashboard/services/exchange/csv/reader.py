"""The one streaming CSV reader: UTF-8 (a byte-order mark allowed), bounded rows, RFC 4180.

The file is read line by line as bytes, so a line or a record longer than `MAX_RECORD_BYTES`
stops reading without holding the rest of it in memory, and the csv module's field limit
(128 KiB) bounds any one cell. Any encoding but UTF-8 is reported at the first line that is
not UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Final

MAX_RECORD_BYTES: Final = 1024 * 1024
_UTF8_BOM: Final = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its row (1 = the header; 0 = the file as a whole) and column."""

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


def shown(value: object) -> str:
    """The offending value, when short enough to help: strings quoted, numbers as they are."""
    text = str(value)
    if not 0 < len(text) <= 40:
        return ""
    return f" (got {text!r})" if isinstance(value, str) else f" (got {text})"


class Unreadable(Exception):
    """A problem with the file as a whole: reading cannot go on."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class CsvReader:
    """CSV records from a binary stream, never holding more than one record in memory."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.bytes_read = 0
        self.row = 0  # the record being read (1 = the header), as a spreadsheet numbers rows
        self._record_bytes = 0

    def _lines(self) -> Iterator[str]:
        first = True
        while True:
            line = self.stream.readline(MAX_RECORD_BYTES + 1)
            if not line:
                return
            self.bytes_read += len(line)
            self._record_bytes += len(line)
            if self._record_bytes > MAX_RECORD_BYTES:
                raise Unreadable(
                    Problem(
                        self.row + 1,
                        None,
                        f"this row is longer than {MAX_RECORD_BYTES:,} bytes; reading stopped "
                        "(is this a CSV file?)",
                    )
                )
            if first:
                first = False
                if line.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise Unreadable(
                        Problem(0, None, "the file is UTF-16 text; save it as CSV UTF-8")
                    )
                line = line.removeprefix(_UTF8_BOM)
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Unreadable(
                    Problem(
                        self.row + 1,
                        None,
                        f"the file is not UTF-8 text (byte 0x{line[exc.start]:02x} cannot be "
                        "read); save it as CSV UTF-8 and import it again",
                    )
                ) from exc

    def records(self) -> Iterator[list[str] | Problem]:
        """Each record's cells, or the csv module's complaint about it.

        Raises `Unreadable` when the file cannot be read on (encoding, an endless row).
        """
        reader = csv.reader(self._lines(), strict=True)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.row += 1
                self._record_bytes = 0
                yield Problem(self.row, None, f"not valid CSV: {exc}")
                continue
            self.row += 1
            self._record_bytes = 0
            yield cells
