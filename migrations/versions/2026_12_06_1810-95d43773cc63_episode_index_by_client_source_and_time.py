"""episode index by client, source and time

The client page now reads where its windows and look-backs need episodes
(`services/analytics/fact_loading.py` `episode_bounds`), among them the client's own last
episode before the view. Along `(client_id, started_at)` alone, a client whose episodes are all
entered by their practitioner was looked through in full for one of their own. With the source
in the index it is one seek, as 2a233d689677 made it for observations. Only an index is added
or dropped: no rows change.

Revision ID: 95d43773cc63
Revises: 2a233d689677
Create Date: 2026-12-06 18:10:38.962348+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "95d43773cc63"
down_revision: str | None = "2a233d689677"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.create_index(
            "ix_episode_client_source_started_at",
            ["client_id", "source", "started_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_index("ix_episode_client_source_started_at")
