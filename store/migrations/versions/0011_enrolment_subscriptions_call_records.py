"""Enrolment, Graph subscriptions and call records: how each lesson was seen (followed live,
or only in a call record afterwards), what each sweep did, the subscriptions any instance renews.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False, server_default="live"))
        batch.add_column(sa.Column("call_record_id", sa.String(128)))
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organizer_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512)),
        sa.Column("start", sa.DateTime(timezone=True)),
        sa.Column("end", sa.DateTime(timezone=True)),
        sa.Column("join_url", sa.Text),
        sa.Column("chat_id", sa.String(512)),
        sa.Column("team_id", sa.String(512)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_enrolments_organizer_event", "enrolments", ["organizer_id", "event_id"], unique=True)
    op.create_index("ix_enrolments_start", "enrolments", ["start"])
    op.create_index("ix_enrolments_chat_id", "enrolments", ["chat_id"])
    op.create_table(
        "graph_subscriptions",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("change_type", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64)),
        sa.Column("client_state", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "call_records",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("organizer_id", sa.String(64)),
        sa.Column("start", sa.DateTime(timezone=True)),
        sa.Column("end", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="SET NULL")),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_records_start", "call_records", ["start"])


def downgrade() -> None:
    op.drop_table("call_records")
    op.drop_table("graph_subscriptions")
    op.drop_table("enrolments")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("call_record_id")
        batch.drop_column("origin")
