"""Graph facts on lessons (settings, calendar, attendance report) and the jobs table.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("meeting_settings", sa.JSON))
        batch.add_column(sa.Column("settings_status", sa.Text))
        batch.add_column(sa.Column("calendar_event", sa.JSON))
        batch.add_column(sa.Column("calendar_status", sa.Text))
        batch.add_column(sa.Column("report_status", sa.Text))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="CASCADE")),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("leased_until", TS),
        sa.Column("leased_by", sa.String(64)),
        sa.Column("done_at", TS),
        sa.Column("outcome", sa.String(16)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_jobs_lesson_id", "jobs", ["lesson_id"])
    op.create_index("ix_jobs_due", "jobs", ["done_at", "due_at"])
    op.create_index(
        "uq_jobs_waiting_dedupe_key",
        "jobs",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("jobs")
    with op.batch_alter_table("lessons") as batch:
        for column in ("report_status", "calendar_status", "calendar_event", "settings_status", "meeting_settings"):
            batch.drop_column(column)
