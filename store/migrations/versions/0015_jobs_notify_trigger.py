"""Waking workers from the database: a NOTIFY from a trigger on queued jobs (PostgreSQL).

Every transaction that queued jobs sent its own `SELECT pg_notify(...)`: one more round trip
in each group commit of the HTTP front, and six in each lesson start. A statement-level trigger
on INSERT into jobs sends the same notification inside the same transaction (PostgreSQL folds
duplicates within a transaction and delivers at commit), without the round trip. SQLite has
no notifications (its workers poll); nothing to do there.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION chaperone_jobs_queued() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('chaperone_jobs', '');
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER chaperone_jobs_queued AFTER INSERT ON jobs
        FOR EACH STATEMENT EXECUTE FUNCTION chaperone_jobs_queued()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS chaperone_jobs_queued ON jobs")
    op.execute("DROP FUNCTION IF EXISTS chaperone_jobs_queued()")
