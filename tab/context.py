"""What a page needs: the stores, the policy, who is looking, and when "now" is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from config.policy import Policy
from store.coverage import Coverage
from store.exports import Exports
from store.records import Records
from store.register import ExceptionRegister
from store.signatures import SignatureRegister
from store.tab_actions import TabActions

from .access import Viewer
from .settings import TabSettings


class StaffList(Protocol):
    """Who is staff and whether each has signed the current AUP (service.aup.AupSigning.status,
    which asks Graph for the staff group): app.py hands it in, so tab/ needs no Graph."""

    async def status(self) -> list[Any]: ...


@dataclass
class TabServices:
    records: Records
    exports: Exports
    actions: TabActions
    exceptions: ExceptionRegister
    signatures: SignatureRegister
    staff: StaffList
    policy: Policy
    settings: TabSettings
    coverage: Coverage | None = None  # the coverage panel on Today (SLT and the DSL)


@dataclass
class Ctx:
    services: TabServices
    viewer: Viewer
    now: datetime

    @property
    def policy(self) -> Policy:
        return self.services.policy

    @property
    def records(self) -> Records:
        return self.services.records
