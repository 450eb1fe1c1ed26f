"""Typed look-up outcomes on lessons, a typed recheck time on findings, and what SLT did
with an alert as its own record (not columns on the outbox row).

Revision ID: 0006
Revises: 0005
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
LOOKUPS = ("details", "settings", "calendar", "report", "roster")
ALERT_COLUMNS = ("acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "exception_id", "exception_by")


def _lookup(status: str | None) -> dict | None:
    """The free-text status of revision 0005 as a typed look-up outcome."""
    if status is None:
        return None
    for prefix, outcome in (("could not verify: ", "could-not-verify"), ("pending: ", "pending"), ("none: ", "none"),
                            ("ok: ", "ok"), ("ok; ", "ok")):
        if status.startswith(prefix):
            return {"outcome": outcome, "reason": status[len(prefix):]}
    if status == "ok":
        return {"outcome": "ok", "reason": None}
    if status == "no calendar event":
        return {"outcome": "none", "reason": status}
    return {"outcome": "could-not-verify", "reason": status}


def upgrade() -> None:
    bind = op.get_bind()
    for name in LOOKUPS:
        op.add_column("lessons", sa.Column(f"{name}_lookup", sa.JSON))
    lessons = sa.table("lessons", sa.column("id", sa.Integer),
                       *(sa.column(f"{n}_status", sa.Text) for n in LOOKUPS), *(sa.column(f"{n}_lookup", sa.JSON) for n in LOOKUPS))
    for row in bind.execute(sa.select(lessons)).mappings().all():
        values = {f"{n}_lookup": _lookup(row[f"{n}_status"]) for n in LOOKUPS}
        bind.execute(lessons.update().where(lessons.c.id == row["id"]).values(**values))
    for name in LOOKUPS:
        _drop_column("lessons", f"{name}_status")

    op.add_column("findings", sa.Column("recheck_at", TS))
    findings = sa.table("findings", sa.column("id", sa.Integer), sa.column("details", sa.JSON), sa.column("recheck_at", TS))
    for row in bind.execute(sa.select(findings)).mappings().all():
        details = dict(row["details"] or {})
        if "check_at" in details:
            when = datetime.fromisoformat(details.pop("check_at"))
            bind.execute(findings.update().where(findings.c.id == row["id"]).values(details=details, recheck_at=when))

    op.create_table(
        "alert_states",
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("acknowledged_by", sa.String(256)),
        sa.Column("acknowledged_at", TS),
        sa.Column("resolved_by", sa.String(256)),
        sa.Column("resolved_at", TS),
        sa.Column("exception_id", sa.Integer),
        sa.Column("exception_by", sa.String(256)),
    )
    messages = sa.table("messages", sa.column("id", sa.Integer), *(sa.column(c) for c in ALERT_COLUMNS))
    states = sa.table("alert_states", sa.column("alert_id", sa.Integer), *(sa.column(c) for c in ALERT_COLUMNS))
    acted = sa.or_(*(messages.c[c].is_not(None) for c in ALERT_COLUMNS))
    for row in bind.execute(sa.select(messages).where(acted)).mappings().all():
        bind.execute(states.insert().values(alert_id=row["id"], **{c: row[c] for c in ALERT_COLUMNS}))
    for column in ALERT_COLUMNS:
        _drop_column("messages", column)


def _drop_column(table: str, column: str) -> None:
    # Not a batch (copy-and-rename) operation: on SQLite, dropping the old table would
    # cascade to every row that references it (attendance, findings, jobs). SQLite 3.35+
    # and PostgreSQL both drop a plain column in place.
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def downgrade() -> None:
    # The schema only: the typed values and alert actions are not turned back into text.
    for column, kind in (("acknowledged_by", sa.String(256)), ("acknowledged_at", TS), ("resolved_by", sa.String(256)),
                         ("resolved_at", TS), ("exception_id", sa.Integer), ("exception_by", sa.String(256))):
        op.add_column("messages", sa.Column(column, kind))
    op.drop_table("alert_states")
    _drop_column("findings", "recheck_at")
    for name in LOOKUPS:
        op.add_column("lessons", sa.Column(f"{name}_status", sa.Text))
        _drop_column("lessons", f"{name}_lookup")
