"""audit chain, list client ids and append-only triggers

Every audit row gets its place in a hash chain (`seq`, `prev_hash`, `hash`); existing rows are
chained in (at, id) order. List views record the clients shown (`client_ids`). Triggers refuse
UPDATE and DELETE on audit_event (and TRUNCATE on PostgreSQL).

Revision ID: b07084c13366
Revises: 06bc0e884fa6
Create Date: 2026-12-05 17:55:52.075973+00:00
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = "b07084c13366"
down_revision: str | None = "06bc0e884fa6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
BATCH = 1000

_audit = sa.table(
    "audit_event",
    sa.column("id", sa.Uuid()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Uuid()),
    sa.column("checkin_link_id", sa.Uuid()),
    sa.column("action", sa.String()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("client_id", sa.Uuid()),
    sa.column("ip", sa.String()),
    sa.column("detail", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _hash(row: Any, seq: int, prev_hash: str) -> str:
    # The formula of services/audit.py `event_hash` at this revision, frozen here so that this
    # migration keeps producing the chain the app verifies (tests run `verify_chain` after it).
    at: datetime = row.at
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    fields = {
        "seq": seq,
        "id": _text(row.id),
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": _text(row.actor_id),
        "checkin_link_id": _text(row.checkin_link_id),
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "client_id": _text(row.client_id),
        "ip": row.ip,
        "detail": row.detail,
        "client_ids": None,
        "prev_hash": prev_hash,
    }
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _chain_existing_rows() -> None:
    """Give every existing row its place in the chain, oldest first, in batches."""
    connection = op.get_bind()
    seq, prev_hash = 0, GENESIS_HASH
    after: tuple[Any, Any] | None = None
    while True:
        stmt = sa.select(_audit).order_by(_audit.c.at, _audit.c.id).limit(BATCH)
        if after is not None:
            at, row_id = after
            stmt = stmt.where(
                sa.or_(_audit.c.at > at, sa.and_(_audit.c.at == at, _audit.c.id > row_id))
            )
        rows = connection.execute(stmt).all()
        if not rows:
            return
        updates = []
        for row in rows:
            seq += 1
            digest = _hash(row, seq, prev_hash)
            updates.append({"row_id": row.id, "s": seq, "p": prev_hash, "h": digest})
            prev_hash = digest
        connection.execute(
            _audit.update()
            .where(_audit.c.id == sa.bindparam("row_id"))
            .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            updates,
        )
        after = (rows[-1].at, rows[-1].id)


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    _chain_existing_rows()

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_audit_event_seq", ["seq"], unique=True)

    # After the batch operations: a SQLite batch rebuild would drop the triggers.
    is_sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if is_sqlite else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    else:
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.drop_column("client_ids")
