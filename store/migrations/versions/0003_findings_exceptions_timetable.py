"""Findings, the exceptions register, the audit log, the timetable and consent registers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("organizer_upn", sa.String(256)))
        batch.add_column(sa.Column("roster_status", sa.Text))
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(sa.Column("upn", sa.String(256)))
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("moment", sa.String(16), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("first_failed_at", TS),
        sa.Column("evaluated_at", TS, nullable=False),
    )
    op.create_index("ix_findings_lesson_id", "findings", ["lesson_id"])
    op.create_index("uq_findings_lesson_rule", "findings", ["lesson_id", "rule_id"], unique=True)
    op.create_table(
        "exceptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("lesson_id", sa.Integer, sa.ForeignKey("lessons.id", ondelete="SET NULL")),
        sa.Column("meeting_id", sa.String(512)),
        sa.Column("person_id", sa.String(128)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=False),
        sa.Column("approved_by_name", sa.String(256)),
        sa.Column("approved_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("revoked_at", TS),
        sa.Column("revoked_by", sa.String(64)),
    )
    op.create_index("ix_exceptions_rule_id", "exceptions", ["rule_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(256)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256)),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "timetable_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organizer", sa.String(256), nullable=False),
        sa.Column("class_name", sa.String(128)),
        sa.Column("subject", sa.String(128)),
        sa.Column("on_date", sa.Date),
        sa.Column("weekday", sa.Integer),
        sa.Column("starts", sa.Time, nullable=False),
        sa.Column("ends", sa.Time, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.Column("source", sa.String(300), nullable=False),
    )
    op.create_index("ix_timetable_entries_organizer", "timetable_entries", ["organizer"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("given_on", sa.Date),
        sa.Column("expires_on", sa.Date),
        sa.Column("source", sa.String(300), nullable=False),
    )
    op.create_index("ix_consents_person", "consents", ["person"])


def downgrade() -> None:
    for table in ("consents", "timetable_entries", "audit_log", "exceptions", "findings"):
        op.drop_table(table)
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("upn")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("roster_status")
        batch.drop_column("organizer_upn")
