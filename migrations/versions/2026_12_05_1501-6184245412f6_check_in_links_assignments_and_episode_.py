"""check-in links, assignments and episode source

Client check-ins: `checkin_link` (a client's private link, token and code stored hashed; at most
one unrevoked link per client, a partial unique index on both databases), `assignment`
(questionnaires on a rhythm), and `episode.source`, which existing episodes read as
`practitioner` through its server default; `audit_event.checkin_link_id` names the link as
the actor of what a client entered through it.

Revision ID: 6184245412f6
Revises: cefa5899abe1
Create Date: 2026-12-05 15:01:53.629126+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "6184245412f6"
down_revision: str | None = "cefa5899abe1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("instrument", sa.String(length=40), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
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
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "archived_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_assignment_ends_after_start")
        ),
        sa.CheckConstraint(
            "every_days BETWEEN 1 AND 365", name=op.f("ck_assignment_every_days_range")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_assignment_client_id_client")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_assignment_created_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignment_client_instrument", ["client_id", "instrument"], unique=False
        )

    op.create_table(
        "checkin_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "revoked_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "last_used_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("failed_code_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("show_progress", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint(
            "failed_code_attempts >= 0", name=op.f("ck_checkin_link_failed_code_attempts_range")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_checkin_link_client_id_client")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_checkin_link_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["user.id"], name=op.f("fk_checkin_link_revoked_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_checkin_link_token_hash")),
    )
    with op.batch_alter_table("checkin_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_link_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            "uq_checkin_link_one_unrevoked_per_client",
            ["client_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    # Entries made through a check-in link name the link as the actor (no user).
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkin_link_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_event_checkin_link_id_checkin_link"),
            "checkin_link",
            ["checkin_link_id"],
            ["id"],
        )

    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sa.Enum(
                    "practitioner",
                    "client",
                    name="source",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                server_default="practitioner",
                nullable=False,
            )
        )



def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        # Named first: SQLite's batch copy would otherwise keep a CHECK on a dropped column.
        batch_op.drop_constraint(op.f("ck_episode_source"), type_="check")
        batch_op.drop_column("source")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_event_checkin_link_id_checkin_link"), type_="foreignkey"
        )
        batch_op.drop_column("checkin_link_id")

    with op.batch_alter_table("checkin_link", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_checkin_link_one_unrevoked_per_client",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_checkin_link_client_id"))

    op.drop_table("checkin_link")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_client_instrument")

    op.drop_table("assignment")
