"""Duplicate detection: a 16-byte key per row, and the keys of every row taken so far.

A row's key is its id, or without one a digest of its natural key (client plus the kind's
time and values). To know the earlier rows of a file without holding them, `SeenKeys` keeps
a key and a row number per row: about 20 MB per million rows, the only memory of an import
that grows with the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_U64 = npt.NDArray[np.uint64]


class SeenKeys:
    """The 16-byte keys of the rows taken so far, and the row each came from.

    Kept as sorted runs merged like a binary counter, so a lookup is a few binary searches and
    each key is merged O(log n) times. 20 bytes a key (two 64-bit halves and a 32-bit row
    number): 20 MB per million rows, briefly twice that while the two largest runs merge.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[_U64, _U64, npt.NDArray[np.uint32]]] = []

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)

    def check_and_add(self, keys: Sequence[bytes], rows: Sequence[int]) -> list[int | None]:
        """For each (distinct) key, the row it was first seen on, or None; adds the new ones."""
        if not keys:
            return []
        halves = np.frombuffer(b"".join(keys), dtype=">u8").reshape(-1, 2)
        hi = halves[:, 0].astype(np.uint64)
        lo = halves[:, 1].astype(np.uint64)
        earlier: list[int | None] = [None] * len(keys)
        for run_hi, run_lo, run_row in self._runs:
            left = np.searchsorted(run_hi, hi, "left")
            right = np.searchsorted(run_hi, hi, "right")
            for i in np.nonzero(right > left)[0]:
                for j in range(int(left[i]), int(right[i])):
                    if run_lo[j] == lo[i]:
                        earlier[i] = int(run_row[j])
                        break
        fresh = np.array([e is None for e in earlier], dtype=bool)
        new_hi = hi[fresh]
        order = np.argsort(new_hi, kind="stable")
        self._runs.append(
            (
                new_hi[order],
                lo[fresh][order],
                np.asarray(rows, dtype=np.uint32)[fresh][order],
            )
        )
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]):
            (a_hi, a_lo, a_row), (b_hi, b_lo, b_row) = self._runs[-2], self._runs[-1]
            merged = np.concatenate((a_hi, b_hi))
            # A stable sort of two sorted runs: timsort merges them in linear time.
            order = np.argsort(merged, kind="stable")
            lows, rows_ = np.concatenate((a_lo, b_lo)), np.concatenate((a_row, b_row))
            self._runs[-2:] = [(merged[order], lows[order], rows_[order])]
        return earlier


def _norm(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return str((value - _EPOCH) // _MICROSECOND)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def natural_key(scope: str | None, values: Iterable[Any]) -> bytes:
    """A 16-byte digest of a row's natural key within `scope` (a client's hex id).

    A 128-bit BLAKE2b digest: two different keys collide with negligible probability
    (about n²/2^129 among n rows: 10^-27 for a million).
    """
    text = "\x1f".join((scope or "", *(_norm(v) for v in values)))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def client_natural(
    external_ref: str | None, display_name: str, intake_date: date
) -> tuple[str | date, ...]:
    """A client's natural key among the importer's clients: external_ref, else name and intake."""
    if external_ref:
        return ("ref", external_ref)
    return ("name", display_name, intake_date)
