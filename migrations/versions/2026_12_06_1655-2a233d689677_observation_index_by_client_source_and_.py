"""observation index by client, source and time

Views read each source's latest check-in before the period they show
(`services/analytics/fact_loading.py`). Along `(client_id, observed_at)` alone, a source the
client has never used (check-ins only from the client, or only from the practitioner) was
looked for back through their whole history: 2.3 ms for 20 years of daily check-ins on
SQLite, and growing with the history. With the source in the index it is one index seek.
Only an index is added or dropped: no rows change.

Revision ID: 2a233d689677
Revises: 31fea10bedc0
Create Date: 2026-12-06 16:55:54.495885+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "2a233d689677"
down_revision: str | None = "31fea10bedc0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observation_client_source_observed_at",
            ["client_id", "source", "observed_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_client_source_observed_at")
