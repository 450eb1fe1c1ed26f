"""The outbox of cards to deliver (with SLT actions on alerts), and reported concerns.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("organizer_teams_id", sa.String(256)))
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(200), unique=True),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("finding_ids", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("service_url", sa.String(512)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("conversation_id", sa.String(512)),
        sa.Column("activity_id", sa.String(256)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("acknowledged_by", sa.String(256)),
        sa.Column("acknowledged_at", TS),
        sa.Column("resolved_by", sa.String(256)),
        sa.Column("resolved_at", TS),
        sa.Column("exception_id", sa.Integer),
        sa.Column("exception_by", sa.String(256)),
    )
    op.create_index("ix_messages_lesson_id", "messages", ["lesson_id"])
    op.create_table(
        "concerns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="SET NULL")),
        sa.Column("reporter_aad_id", sa.String(64)),
        sa.Column("reporter_name", sa.String(256)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("message_id", sa.Integer),
    )
    op.create_index("ix_concerns_lesson_id", "concerns", ["lesson_id"])


def downgrade() -> None:
    op.drop_table("concerns")
    op.drop_table("messages")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("organizer_teams_id")
