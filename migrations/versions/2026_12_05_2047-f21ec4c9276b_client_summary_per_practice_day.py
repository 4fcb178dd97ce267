"""client summary per practice day

A client's summary is keyed by (client, practice day), so the next day's summary can be rolled
over ahead of need and stored beside today's; `valid_until` is the day the next row takes over.
Alembic's autogenerate does not compare primary keys, so the key change is written by hand; `tests/migrations` checks the key on both engines.
Downgrade keeps each client's earliest row (today's; a row rolled over ahead is dropped).

Revision ID: f21ec4c9276b
Revises: b07084c13366
Create Date: 2026-12-05 20:47:12.998228+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "f21ec4c9276b"
down_revision: str | None = "b07084c13366"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _table_without_key() -> sa.Table:
    """The table as it stands, minus its primary key (SQLite's batch copy adds the new one)."""
    return sa.Table(
        "client_summary",
        sa.MetaData(),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_session_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovery_median_minutes", sa.Float(), nullable=True),
        sa.Column("recovery_direction", sa.String(length=20), nullable=False),
        sa.Column("time_in_window", sa.Float(), nullable=True),
        sa.Column("flag_rank", sa.Integer(), nullable=False),
        sa.Column("raised_rank", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("flag_codes", sa.String(length=200), nullable=False),
        sa.Column("headline", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name="fk_client_summary_client_id_client"
        ),
        sa.Index("ix_client_summary_as_of", "as_of"),
    )


def _set_primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a key in place: batch mode copies the table with the new key.
        with op.batch_alter_table(
            "client_summary", recreate="always", copy_from=_table_without_key()
        ) as batch_op:
            batch_op.create_primary_key("pk_client_summary", columns)
        return
    op.drop_constraint("pk_client_summary", "client_summary", type_="primary")
    op.create_primary_key("pk_client_summary", "client_summary", columns)


def upgrade() -> None:
    # Existing rows are each client's only row: valid until replaced (NULL).
    with op.batch_alter_table("client_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
    _set_primary_key(["client_id", "as_of"])


def downgrade() -> None:
    summary = sa.table("client_summary", sa.column("client_id", sa.Uuid()), sa.column("as_of"))
    earlier = sa.table("client_summary", sa.column("client_id", sa.Uuid()), sa.column("as_of"))
    earlier = earlier.alias("earlier")
    op.execute(
        summary.delete().where(
            sa.exists().where(
                earlier.c.client_id == summary.c.client_id, earlier.c.as_of < summary.c.as_of
            )
        )
    )
    _set_primary_key(["client_id"])
    with op.batch_alter_table("client_summary", schema=None) as batch_op:
        batch_op.drop_column("valid_until")
