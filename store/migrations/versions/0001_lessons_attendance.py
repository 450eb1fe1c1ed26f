"""Lessons, attendance, processed activities, conversations, alert destinations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("meeting_id", sa.String(512), nullable=False),
        sa.Column("title", sa.String(512)),
        sa.Column("organizer_aad_id", sa.String(64)),
        sa.Column("organizer_name", sa.String(256)),
        sa.Column("join_url", sa.Text),
        sa.Column("meeting_type", sa.String(64)),
        sa.Column("graph_meeting_id", sa.String(512)),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("conversation_id", sa.String(512)),
        sa.Column("service_url", sa.String(512)),
        sa.Column("scheduled_start", TS),
        sa.Column("scheduled_end", TS),
        sa.Column("actual_start", TS),
        sa.Column("actual_end", TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_event_missing", sa.Boolean, nullable=False),
        sa.Column("end_event_missing", sa.Boolean, nullable=False),
        sa.Column("details_status", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_lessons_meeting_id", "lessons", ["meeting_id"])
    op.create_index(
        "uq_lessons_one_open_per_meeting",
        "lessons",
        ["meeting_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("aad_object_id", sa.String(64)),
        sa.Column("teams_user_id", sa.String(256)),
        sa.Column("display_name", sa.String(256)),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("meeting_role", sa.String(32)),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("joined_at", TS),
        sa.Column("left_at", TS),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_attendance_lesson_id", "attendance", ["lesson_id"])
    op.create_index("ix_attendance_lesson_person", "attendance", ["lesson_id", "person_id"])
    op.create_table(
        "processed_activities",
        sa.Column("activity_key", sa.String(700), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("meeting_id", sa.String(512)),
        sa.Column("lesson_id", sa.Integer),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_processed_activities_received_at", "processed_activities", ["received_at"])
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(512), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("team_id", sa.String(512)),
        sa.Column("channel_id", sa.String(512)),
        sa.Column("service_url", sa.String(512), nullable=False),
        sa.Column("reference", sa.JSON, nullable=False),
        sa.Column("installed", sa.Boolean, nullable=False),
        sa.Column("installed_by_aad_id", sa.String(64)),
        sa.Column("installed_at", TS),
        sa.Column("removed_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "alert_destinations",
        sa.Column("purpose", sa.String(16), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(512),
            sa.ForeignKey("conversations.conversation_id"),
            nullable=False,
        ),
        sa.Column("set_by_aad_id", sa.String(64), nullable=False),
        sa.Column("set_by_name", sa.String(256)),
        sa.Column("set_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_destinations")
    op.drop_table("conversations")
    op.drop_table("processed_activities")
    op.drop_table("attendance")
    op.drop_table("lessons")
