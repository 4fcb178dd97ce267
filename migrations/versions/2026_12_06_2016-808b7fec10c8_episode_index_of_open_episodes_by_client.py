"""episode index of open episodes by client

A check-in looks for the client's own episode that is still open
(`services/checkins/entries.py` `open_episode`). Along `(client_id, source, started_at)` a
client with none open was walked back through every episode they had closed, a cost that grew
with their history (0.25 ms at 100 closed episodes, 0.82 ms at 5,000 on SQLite). A partial
index of the open episodes alone makes it one seek. Only an index is added or dropped: no rows
change.

Revision ID: 808b7fec10c8
Revises: 95d43773cc63
Create Date: 2026-12-06 20:16:30.381100+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "808b7fec10c8"
down_revision: str | None = "95d43773cc63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.create_index(
            "ix_episode_client_open",
            ["client_id", "source", "started_at"],
            unique=False,
            sqlite_where=sa.text("baseline_at IS NULL"),
            postgresql_where=sa.text("baseline_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_episode_client_open",
            sqlite_where=sa.text("baseline_at IS NULL"),
            postgresql_where=sa.text("baseline_at IS NULL"),
        )
