"""Trust scale: the meeting-event log (appended in the HTTP turn, derived by the workers), the
directory cache shared by instances, and job priorities.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("activity_key", sa.String(700), unique=True),
        sa.Column("meeting_id", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("activity", sa.Text),
        sa.Column("processed_at", TS),
        sa.Column("error", sa.String(500)),
    )
    op.create_index("ix_inbound_events_processed_at", "inbound_events", ["processed_at"])
    op.create_index("ix_inbound_events_waiting", "inbound_events", ["meeting_id", "event_at"],
                    sqlite_where=sa.text("processed_at IS NULL"), postgresql_where=sa.text("processed_at IS NULL"))
    op.create_table(
        "directory_cache",
        sa.Column("aad_object_id", sa.String(64), primary_key=True),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("upn", sa.String(256)),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_directory_cache_expires_at", "directory_cache", ["expires_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="5"))
        batch.add_column(sa.Column("lane", sa.String(512)))
    op.create_index("ix_jobs_lane", "jobs", ["lane"])
    op.create_index("ix_jobs_waiting", "jobs", ["due_at"],
                    sqlite_where=sa.text("done_at IS NULL"), postgresql_where=sa.text("done_at IS NULL"))
    # Finished jobs are deleted from now on; the ones already there only bloat the index.
    op.execute("DELETE FROM jobs WHERE outcome = 'done'")


def downgrade() -> None:
    op.drop_index("ix_jobs_waiting", "jobs")
    op.drop_index("ix_jobs_lane", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lane")
        batch.drop_column("priority")
    op.drop_table("directory_cache")
    op.drop_table("inbound_events")
