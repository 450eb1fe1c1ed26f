"""What a page needs: the stores, the school's policy, who is looking, and when "now" is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from config.policy import Policy
from config.trust import Schools
from store.coverage import Coverage
from store.exports import Exports
from store.records import Records, Scope
from store.register import ExceptionRegister
from store.signatures import SignatureRegister
from store.tab_actions import TabActions

from .access import Viewer
from .html import e, query
from .settings import TabSettings


class StaffList(Protocol):
    """Who is staff and whether each has signed the current AUP (service.aup.AupSigning.status,
    which asks Graph for the staff group): app.py hands it in, so tab/ needs no Graph. In a
    trust it is asked for one school's staff and that school's AUP (`school_id`)."""

    async def status(self, *, school_id: str | None = None) -> list[Any]: ...


@dataclass
class TabServices:
    records: Records
    exports: Exports
    actions: TabActions
    exceptions: ExceptionRegister
    signatures: SignatureRegister
    staff: StaffList
    schools: Schools
    settings: TabSettings
    coverage: Coverage | None = None  # the coverage panel on Today (SLT and the DSL)

    @property
    def policy(self) -> Policy:
        """The single school's policy; in a trust, the default policy (the trust's own)."""
        return self.schools.default


@dataclass
class Ctx:
    services: TabServices
    viewer: Viewer
    now: datetime

    @property
    def policy(self) -> Policy:
        """The policy of the school shown: its time zone, its AUP, its people."""
        return self.services.schools.get(self.viewer.school_id)

    @property
    def records(self) -> Records:
        return self.services.records

    @property
    def scope(self) -> Scope:
        return self.viewer.scope

    @property
    def school_kw(self) -> dict[str, str]:
        """For the registers that keep each school's rows apart: this school's id in a trust;
        nothing for a single school (the registers' own default, as before schools were kept)."""
        return {} if self.viewer.school_id is None else {"school_id": self.viewer.school_id}

    def href(self, path: str, params: dict[str, object] | None = None) -> str:
        """A link or form target that stays in the school shown."""
        return query(path, {**(params or {}), "school": self.viewer.school_id if self.viewer.schools else None})

    @property
    def school_field(self) -> str:
        """A GET form's hidden field that keeps the school shown."""
        if not self.viewer.schools or self.viewer.school_id is None:
            return ""
        return f'<input type="hidden" name="school" value="{e(self.viewer.school_id)}">'
