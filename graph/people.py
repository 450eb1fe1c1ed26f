"""Who is staff, who is a pupil: the directory's answer, cached.

In order: the education roster's primaryRole (EduRoster.Read.All), then membership of the
school's staff and pupil security groups (GroupMember.Read.All via checkMemberGroups), then
userType (a Guest is external). What none of them settles stays unknown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.transitive_members.transitive_members_request_builder import TransitiveMembersRequestBuilder
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from pydantic import BaseModel

from domain.lesson import DirectoryEntry, PersonClass

from .client import GraphClient, GraphUnavailable

log = logging.getLogger(__name__)


class PeopleDirectory:
    def __init__(
        self,
        graph: GraphClient,
        *,
        staff_groups: tuple[str, ...] = (),
        pupil_groups: tuple[str, ...] = (),
        ttl_seconds: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._graph = graph
        self._staff_groups = staff_groups
        self._pupil_groups = pupil_groups
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, DirectoryEntry]] = {}
        self._in_flight: dict[str, asyncio.Future[DirectoryEntry]] = {}

    async def classify(self, aad_object_id: str) -> DirectoryEntry:
        """The person's class; raises GraphUnavailable when Graph could not be asked.

        Answers are cached for the TTL; concurrent questions about one person share one
        lookup (30 pupils joining in the same second cost 30 lookups, not 30 x events).
        """
        cached = self._cache.get(aad_object_id)
        if cached and cached[0] > self._clock():
            return cached[1]
        pending = self._in_flight.get(aad_object_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[DirectoryEntry] = asyncio.get_running_loop().create_future()
        self._in_flight[aad_object_id] = future
        try:
            answer = await self._look_up(aad_object_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it; nobody else must log it
            raise
        else:
            self._cache[aad_object_id] = (self._clock() + self._ttl, answer)
            future.set_result(answer)
            return answer
        finally:
            del self._in_flight[aad_object_id]

    async def _look_up(self, person: str) -> DirectoryEntry:
        try:
            edu = await self._graph.call("education role", lambda sdk: sdk.education.users.by_education_user_id(person).get())
            role = getattr(getattr(edu, "primary_role", None), "value", None)
            upn = (edu.user_principal_name or edu.mail) if edu else None
            if role == "teacher":
                return DirectoryEntry(classification=PersonClass.staff, upn=upn)
            if role == "student":
                return DirectoryEntry(classification=PersonClass.pupil, upn=upn)
        except GraphUnavailable as exc:
            if exc.status not in (403, 404):  # 404: not in the roster; 403: no roster permission
                raise
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "userType", "userPrincipalName", "mail"])
        user = await self._graph.call(
            "user type", lambda sdk: sdk.users.by_user_id(person).get(request_configuration=RequestConfiguration(query_parameters=query))
        )
        upn = (user.user_principal_name or user.mail) if user else None
        groups = self._staff_groups + self._pupil_groups
        if groups:
            body = CheckMemberGroupsPostRequestBody(group_ids=list(groups))
            found = await self._graph.call("group membership", lambda sdk: sdk.users.by_user_id(person).check_member_groups.post(body))
            member_of = set(found.value or []) if found else set()
            if member_of & set(self._staff_groups):
                return DirectoryEntry(classification=PersonClass.staff, upn=upn)
            if member_of & set(self._pupil_groups):
                return DirectoryEntry(classification=PersonClass.pupil, upn=upn)
        if user is not None and (user.user_type or "").lower() == "guest":
            return DirectoryEntry(classification=PersonClass.external, upn=upn)
        return DirectoryEntry(classification=PersonClass.unknown, upn=upn)


class StaffMember(BaseModel):
    aad_object_id: str
    name: str | None = None
    upn: str | None = None


async def staff_members(graph: GraphClient, group_ids: tuple[str, ...]) -> list[StaffMember]:
    """Everyone in the school's staff groups (transitively), for AUP reminders and status."""
    if not group_ids:
        raise GraphUnavailable("the policy names no staff group ([people] staff_group_ids)")
    found: dict[str, StaffMember] = {}
    for group in group_ids:
        query = TransitiveMembersRequestBuilder.TransitiveMembersRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName"], top=999
        )
        page = await graph.call(
            "staff group members",
            lambda sdk: sdk.groups.by_group_id(group).transitive_members.get(request_configuration=RequestConfiguration(query_parameters=query)),
        )
        while page is not None:
            for member in page.value or []:
                if getattr(member, "odata_type", "") == "#microsoft.graph.user" and member.id:
                    found[member.id] = StaffMember(aad_object_id=member.id, name=getattr(member, "display_name", None),
                                                   upn=getattr(member, "user_principal_name", None))
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await graph.call(
                    "staff group members",
                    lambda sdk: sdk.groups.by_group_id(group).transitive_members.with_url(next_link).get(),
                )
    return sorted(found.values(), key=lambda m: (m.name or "", m.aad_object_id))
