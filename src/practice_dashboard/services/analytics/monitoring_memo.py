"""Monitoring checkpoints kept by a worker, so a client's page need not read their whole course.

The monitoring charts score every episode since intake against the ones before it, so each
view of a long course used to read and score years of episodes to draw six months. A worker
now keeps, per client it has shown, the charts' state at a cut some months before the view
(``domain.metrics.MonitoringCheckpoint``): the next view of that client reads the baseline
period's episodes and those from the cut on, and goes on from the state.

A kept checkpoint is used only while the client's records are as they were: it carries the
client's records stamp (``fact_loading.EpisodeBounds.records_stamp``), which every write to
their records moves. What else it depends on (settings, intake, the baseline end, the
restart) the checkpoint checks itself. Bounded: the least recently shown clients go first.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from practice_dashboard.domain.metrics import MonitoringCheckpoint

#: Clients whose checkpoint a worker keeps (a few hundred kilobytes for a 20-year course of
#: daily check-ins, a few tens for a typical one).
CHECKPOINTS_KEPT: Final = 256
#: How far before the view's earliest need a new checkpoint is cut, so the views of the
#: coming weeks (whose needs move forward day by day) can all go on from it.
CUT_MARGIN: Final = timedelta(days=35)


@dataclass(frozen=True, slots=True)
class Kept:
    records_stamp: datetime
    checkpoint: MonitoringCheckpoint


class Checkpoints:
    """Least recently used first out; safe across a worker's request threads."""

    def __init__(self, size: int = CHECKPOINTS_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[uuid.UUID, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, client_id: uuid.UUID, records_stamp: datetime | None) -> Kept | None:
        """The client's checkpoint, if kept under this records stamp."""
        with self._lock:
            kept = self._kept.get(client_id)
            if kept is None or records_stamp is None or kept.records_stamp != records_stamp:
                return None
            self._kept.move_to_end(client_id)
            return kept

    def put(self, client_id: uuid.UUID, kept: Kept) -> None:
        with self._lock:
            self._kept[client_id] = kept
            self._kept.move_to_end(client_id)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def drop(self, client_id: uuid.UUID) -> None:
        with self._lock:
            self._kept.pop(client_id, None)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


CHECKPOINTS: Final = Checkpoints()
