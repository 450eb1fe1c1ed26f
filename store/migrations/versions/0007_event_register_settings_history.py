"""The live record of joins and leaves (the register is rebuilt from it in event-time order),
the meeting's settings as observed through the lesson, when they were last read, and the
findings as raised on each alert.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participant_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("aad_object_id", sa.String(64)),
        sa.Column("teams_user_id", sa.String(256)),
        sa.Column("display_name", sa.String(256)),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("role", sa.String(32)),
        sa.Column("joined", sa.Boolean, nullable=False),
        sa.Column("in_meeting", sa.Boolean),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_participant_events_lesson_person", "participant_events", ["lesson_id", "person_id"])
    op.create_table(
        "settings_observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_settings_observations_lesson_id", "settings_observations", ["lesson_id"])
    op.add_column("lessons", sa.Column("settings_read_at", TS))
    op.add_column("messages", sa.Column("raised", sa.JSON))
    op.add_column("alert_states", sa.Column("cleared_at", TS))
    op.add_column("alert_states", sa.Column("cleared_reason", sa.Text))


def downgrade() -> None:
    op.drop_column("alert_states", "cleared_reason")
    op.drop_column("alert_states", "cleared_at")
    op.drop_column("messages", "raised")
    op.drop_column("lessons", "settings_read_at")
    op.drop_index("ix_settings_observations_lesson_id", "settings_observations")
    op.drop_table("settings_observations")
    op.drop_index("ix_participant_events_lesson_person", "participant_events")
    op.drop_table("participant_events")
