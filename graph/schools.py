"""Which of a trust's schools a lesson belongs to, as the directory knows it.

Two questions, each read as plain JSON through Graph batching (graph/batch.py):
- which schools' staff groups the organizer is in (`checkMemberGroups`, 20 groups a request);
- which schools a class team's education class belongs to (`/education/classes/{id}/schools`:
  a class team's group id is its education class id).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from .batch import BatchRequest
from .client import GraphClient, GraphUnavailable

GROUPS_PER_CHECK = 20  # checkMemberGroups takes at most 20 group ids


async def staff_schools(graph: GraphClient, person: str, groups: Mapping[str, str]) -> set[str]:
    """The schools (ids) whose staff group has this person, given {group id: school id}.
    Raises GraphUnavailable when Graph could not say."""
    ids = list(groups)
    if not ids:
        return set()
    chunks = [ids[i : i + GROUPS_PER_CHECK] for i in range(0, len(ids), GROUPS_PER_CHECK)]
    requests = [BatchRequest(id=f"groups:{n}", method="POST", url=f"/users/{quote(person, safe='')}/checkMemberGroups",
                             body={"groupIds": chunk}) for n, chunk in enumerate(chunks)]
    member_of: set[str] = set()
    for answer in (await graph.batch(requests, "the organizer's school staff groups")).values():
        if not answer.ok:
            raise answer.unavailable("the organizer's school staff groups")
        member_of.update(str(g) for g in answer.body.get("value") or [])
    return {groups[g] for g in member_of if g in groups}


async def class_education_schools(graph: GraphClient, class_id: str) -> set[str]:
    """The educationSchool ids a class (team) belongs to; empty when it is not an education
    class (a 404). Raises GraphUnavailable when Graph could not say."""
    request = BatchRequest(id="schools", url=f"/education/classes/{quote(class_id, safe='')}/schools?$select=id")
    answer = (await graph.batch([request], "the class team's school"))["schools"]
    if answer.status == 404:
        return set()
    if not answer.ok:
        raise answer.unavailable("the class team's school")
    return {str(item.get("id")) for item in answer.body.get("value") or [] if isinstance(item, dict) and item.get("id")}


__all__ = ["GraphUnavailable", "class_education_schools", "staff_schools"]
