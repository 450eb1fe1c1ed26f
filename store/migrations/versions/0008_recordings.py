"""The meeting's recordings, as Graph lists them after a lesson, and the organizer's device from
the sign-in logs, each with whether it could be read.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lessons", sa.Column("recordings", sa.JSON))
    op.add_column("lessons", sa.Column("recordings_lookup", sa.JSON))
    op.add_column("lessons", sa.Column("organizer_device", sa.JSON))
    op.add_column("lessons", sa.Column("organizer_device_lookup", sa.JSON))


def downgrade() -> None:
    op.drop_column("lessons", "organizer_device_lookup")
    op.drop_column("lessons", "organizer_device")
    op.drop_column("lessons", "recordings_lookup")
    op.drop_column("lessons", "recordings")
