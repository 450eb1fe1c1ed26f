"""Every rule quotes the policy it enforces: the quoted words must be in that document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules.base import ANNEX_2023, STAFF_2023, VALENCE
from rules.registry import RULES

POLICIES = Path(__file__).parent.parent / "policies"
DOCUMENTS = {
    VALENCE: "valence-staff-remote-learning-aup-2022.txt",
    STAFF_2023: "staff-volunteers-remote-learning-aup-2023.txt",
    ANNEX_2023: "staff-volunteers-remote-learning-aup-2023.txt",
}


def normalise(text: str) -> str:
    text = text.replace("·", " ").replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_each_clause_is_quoted_from_its_document(rule):
    assert rule.clauses, f"{rule.id} quotes no clause"
    assert rule.remediation and rule.title
    for clause in rule.clauses:
        document = normalise((POLICIES / DOCUMENTS[clause.document]).read_text(encoding="utf-8"))
        for part in clause.text.split(" ... "):
            assert normalise(part) in document, f"{rule.id}: not in {clause.document}: {part!r}"


def test_rule_ids_are_unique_and_stable():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert {"waiting-room", "two-staff", "operating-hours", "timetabled"} <= set(ids)
