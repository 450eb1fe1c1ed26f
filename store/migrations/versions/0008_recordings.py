"""The meeting's recordings, as Graph lists them after a lesson, and whether they could be read.

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


def downgrade() -> None:
    op.drop_column("lessons", "recordings_lookup")
    op.drop_column("lessons", "recordings")
