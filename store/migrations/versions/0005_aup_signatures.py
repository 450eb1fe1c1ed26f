"""AUP signatures (append-only) and the reminders sent about them.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "aup_signatures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.String(120), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("signed_at", TS, nullable=False),
    )
    op.create_index("uq_aup_signatures_person_version", "aup_signatures", ["aad_object_id", "version"], unique=True)
    op.create_table(
        "aup_reminders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
    )
    op.create_index("ix_aup_reminders_aad_object_id", "aup_reminders", ["aad_object_id"])


def downgrade() -> None:
    op.drop_table("aup_reminders")
    op.drop_table("aup_signatures")
