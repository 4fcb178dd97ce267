"""record status, versions and revisions

Corrections and history: every client-scoped record gets `status` (recorded, the value given
to every existing row, or entered_in_error) with `status_reason`; observations and measures get
the optimistic `version` the other records already had (existing rows start at 1); and the
`revision` table keeps each edit's old and new values.

Revision ID: cefa5899abe1
Revises: 86e8b8a96095
Create Date: 2026-12-05 12:16:15.486786+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "cefa5899abe1"
down_revision: str | None = "86e8b8a96095"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "record_kind",
            sa.Enum(
                "session",
                "observation",
                "episode",
                "measure",
                "annotation",
                name="record_kind",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_revision_actor_id_user")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_revision_client_id_client")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
    )
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revision_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            "ix_revision_record", ["record_kind", "record_id", "version"], unique=False
        )

    # Added nullable, filled, then made NOT NULL: existing rows get their values without a
    # server default lingering in the schema (the models give new rows theirs).
    for table in _RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in _NEWLY_VERSIONED:
                batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("status", _status_type(), nullable=True))
            batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        filled = "status = 'recorded'" + (", version = 1" if table in _NEWLY_VERSIONED else "")
        op.execute(sa.text(f"UPDATE {table} SET {filled}"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in _NEWLY_VERSIONED:
                batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
            batch_op.alter_column("status", existing_type=_status_type(), nullable=False)


def downgrade() -> None:
    for table in reversed(_RECORDS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            # Named first: SQLite's batch copy would otherwise keep a CHECK on a dropped column.
            batch_op.drop_constraint(op.f(f"ck_{table}_record_status"), type_="check")
            batch_op.drop_column("status_reason")
            batch_op.drop_column("status")
            if table in _NEWLY_VERSIONED:
                batch_op.drop_column("version")

    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.drop_index("ix_revision_record")
        batch_op.drop_index(batch_op.f("ix_revision_client_id"))

    op.drop_table("revision")


_RECORDS = ("annotation", "episode", "measure", "observation", "session")
_NEWLY_VERSIONED = frozenset({"measure", "observation"})


def _status_type() -> sa.Enum:
    return sa.Enum(
        "recorded",
        "entered_in_error",
        name="record_status",
        native_enum=False,
        create_constraint=True,
        length=20,
    )
