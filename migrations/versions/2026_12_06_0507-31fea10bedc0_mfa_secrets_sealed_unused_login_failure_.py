"""mfa secrets sealed, unused login-failure columns dropped

`mfa_authenticator.secret` widens to hold a sealed key ("fernet:" + a Fernet token, about 150
characters); keys stored before stay plain base32 and still work until the `practice-dashboard
migrate` command seals them after this upgrade (the migration has no access to the app's keys). `user.failed_login_count`
and `last_failed_login_at` have not been read or written since login throttling moved to
`login_failure` (9523a37104c2), and are dropped.

Downgrade restores the two columns (count 0, no time) and narrows `secret` again; it refuses
while any key is sealed, since the older code could not open it: reset those accounts'
two-factor authentication (`practice-dashboard reset-mfa`) first.

Revision ID: 31fea10bedc0
Revises: f21ec4c9276b
Create Date: 2026-12-06 05:07:43.201152+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "31fea10bedc0"
down_revision: str | None = "f21ec4c9276b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mfa_authenticator", schema=None) as batch_op:
        batch_op.alter_column(
            "secret",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("failed_login_count")
        batch_op.drop_column("last_failed_login_at")



def downgrade() -> None:
    sealed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM mfa_authenticator WHERE secret LIKE 'fernet:%'")
    )
    if sealed:
        raise RuntimeError(
            f"{sealed} authenticator key(s) are sealed and the older code cannot open them: "
            "reset those accounts' two-factor authentication (practice-dashboard reset-mfa) "
            "before downgrading"
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_failed_login_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "failed_login_count", sa.Integer(), nullable=False, server_default=sa.text("0")
            )
        )

    with op.batch_alter_table("mfa_authenticator", schema=None) as batch_op:
        batch_op.alter_column(
            "secret",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )

