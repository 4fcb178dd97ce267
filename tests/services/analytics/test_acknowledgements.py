"""Latest acknowledgements (services/analytics/acknowledgements.py), read through a kept
statement (`db.kept_statement`) whose client ids and moment are bound when it runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, FlagAcknowledgement, User
from practice_dashboard.services.analytics.acknowledgements import latest_acknowledgements
from tests.builders import NOW, make_client, make_user


def _acknowledge(db: DbSession, client: Client, by: User, code: str, days_ago: int) -> None:
    db.add(
        FlagAcknowledgement(
            client_id=client.id,
            code=code,
            level="watch",
            fingerprint=f"{code}-{days_ago}",
            evidence={},
            acknowledged_by_id=by.id,
            at=NOW - timedelta(days=days_ago),
        )
    )


def test_each_call_reads_its_own_clients_and_moment(db: DbSession, settings: Settings) -> None:
    owner = make_user(db, settings)
    one, two = make_client(db, owner), make_client(db, owner)
    _acknowledge(db, one, owner, "stale_data", days_ago=10)
    _acknowledge(db, one, owner, "stale_data", days_ago=2)  # the newest of its code
    _acknowledge(db, two, owner, "recovery_trend", days_ago=5)
    db.flush()

    def fingerprints(
        client_ids: list[uuid.UUID], as_of: datetime | None = None
    ) -> dict[tuple[uuid.UUID, str], str]:
        found = latest_acknowledgements(db, client_ids, as_of=as_of)
        return {key: ack.fingerprint for key, ack in found.items()}

    for _ in range(2):  # the second round runs the statements kept by the first
        assert fingerprints([one.id]) == {(one.id, "stale_data"): "stale_data-2"}
        assert fingerprints([two.id]) == {(two.id, "recovery_trend"): "recovery_trend-5"}
        assert fingerprints([one.id, two.id]) == {
            (one.id, "stale_data"): "stale_data-2",
            (two.id, "recovery_trend"): "recovery_trend-5",
        }
        assert fingerprints([one.id], as_of=NOW - timedelta(days=7)) == {
            (one.id, "stale_data"): "stale_data-10"
        }
        assert fingerprints([two.id], as_of=NOW - timedelta(days=7)) == {}
        assert fingerprints([]) == {}
    # A subquery of ids is written into a statement built for the call.
    both = select(Client.id).where(Client.practitioner_id == owner.id)
    assert set(latest_acknowledgements(db, both)) == {
        (one.id, "stale_data"),
        (two.id, "recovery_trend"),
    }
