"""The example school as the Agents Playground and the Graph stand-in both see it: the people
in `.m365agentsplayground.yml` (its tenant, the teacher typing, and five more), with the role
each has in `policy.example.toml`. One file says who they are; this reads it."""

from __future__ import annotations

from pathlib import Path

import yaml

from .graph import GraphStandIn

PLAYGROUND_CONFIG = Path(__file__).parent.parent / ".m365agentsplayground.yml"
STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"  # policy.example.toml's [people] staff_group_ids
PUPILS_DOMAIN = "@pupils."  # the example school's pupils sign in on a domain of their own


def people() -> list[dict]:
    config = yaml.safe_load(PLAYGROUND_CONFIG.read_text(encoding="utf-8"))
    return [config["currentUser"], *config["users"]]


def seed(graph: GraphStandIn) -> GraphStandIn:
    """Every Playground user in the Graph stand-in: staff in the roster and the All Staff
    group, pupils in the roster as students."""
    for person in people():
        upn = person["userPrincipleName"]  # (the Playground's spelling)
        if PUPILS_DOMAIN in upn:
            graph.add_person(person["aadObjectId"], primary_role="student", name=person["name"], upn=upn)
        else:
            graph.add_person(person["aadObjectId"], primary_role="teacher", name=person["name"], upn=upn, groups=(STAFF_GROUP,))
    return graph
