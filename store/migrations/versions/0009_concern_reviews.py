"""What the DSL did with each concern (seen, closed with a note), for the tab's Concerns page.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concern_reviews",
        sa.Column("concern_id", sa.Integer, sa.ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("by_aad_id", sa.String(64), nullable=False),
        sa.Column("by_name", sa.String(256)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("concern_reviews")
