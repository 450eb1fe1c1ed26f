"""Many schools in one deployment: every school-owned record says whose it is.

Lessons carry the school they were placed in and how (domain/placement.py); registers,
signatures, messages, concerns, the audit log and enrolments carry their school; alert
channels are set per school. Rows written before this revision are the single school's, whose
id (the policy's `[school] id`) defaults to "school".

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SOLE = "school"
OWNED = ("exceptions", "audit_log", "timetable_entries", "consents", "messages", "concerns", "aup_reminders", "enrolments")


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("school_id", sa.String(40)))
        batch.add_column(sa.Column("placement", sa.String(16), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("placement_reason", sa.Text))
        batch.add_column(sa.Column("class_team_id", sa.String(64)))
    op.execute(sa.text("UPDATE lessons SET school_id = :s, placement = 'only-school', "
                       "placement_reason = 'recorded before schools were kept'").bindparams(s=SOLE))
    op.create_index("ix_lessons_school_id", "lessons", ["school_id"])
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("school_id", sa.String(40)))
        op.execute(sa.text(f"UPDATE {table} SET school_id = :s").bindparams(s=SOLE))
        op.create_index(f"ix_{table}_school_id", table, ["school_id"])
    with op.batch_alter_table("aup_signatures") as batch:
        batch.add_column(sa.Column("school_id", sa.String(40), nullable=False, server_default=SOLE))
        batch.drop_index("uq_aup_signatures_person_version")
        batch.create_index("uq_aup_signatures_person_school_version", ["aad_object_id", "school_id", "version"], unique=True)
    # A trust's escalation sweep: the recent sent alerts.
    op.create_index("ix_messages_kind_sent_at", "messages", ["kind", "sent_at"])
    # Alert channels per school: the key becomes (school, purpose).
    op.create_table(
        "alert_destinations_new",
        sa.Column("school_id", sa.String(40), primary_key=True),
        sa.Column("purpose", sa.String(16), primary_key=True),
        sa.Column("conversation_id", sa.String(512), sa.ForeignKey("conversations.conversation_id"), nullable=False),
        sa.Column("set_by_aad_id", sa.String(64), nullable=False),
        sa.Column("set_by_name", sa.String(256)),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(sa.text("INSERT INTO alert_destinations_new (school_id, purpose, conversation_id, set_by_aad_id, set_by_name, set_at) "
                       "SELECT :s, purpose, conversation_id, set_by_aad_id, set_by_name, set_at FROM alert_destinations").bindparams(s=SOLE))
    op.drop_table("alert_destinations")
    op.rename_table("alert_destinations_new", "alert_destinations")


def downgrade() -> None:
    op.create_table(
        "alert_destinations_old",
        sa.Column("purpose", sa.String(16), primary_key=True),
        sa.Column("conversation_id", sa.String(512), sa.ForeignKey("conversations.conversation_id"), nullable=False),
        sa.Column("set_by_aad_id", sa.String(64), nullable=False),
        sa.Column("set_by_name", sa.String(256)),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(sa.text("INSERT INTO alert_destinations_old SELECT purpose, conversation_id, set_by_aad_id, set_by_name, set_at "
                       "FROM alert_destinations WHERE school_id = :s").bindparams(s=SOLE))
    op.drop_table("alert_destinations")
    op.rename_table("alert_destinations_old", "alert_destinations")
    with op.batch_alter_table("aup_signatures") as batch:
        batch.drop_index("uq_aup_signatures_person_school_version")
        batch.create_index("uq_aup_signatures_person_version", ["aad_object_id", "version"], unique=True)
        batch.drop_column("school_id")
    op.drop_index("ix_messages_kind_sent_at", "messages")
    for table in OWNED:
        op.drop_index(f"ix_{table}_school_id", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("school_id")
    op.drop_index("ix_lessons_school_id", "lessons")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("class_team_id")
        batch.drop_column("placement_reason")
        batch.drop_column("placement")
        batch.drop_column("school_id")
