"""Which words of a school's AUP each rule enforces: a clause map per AUP document.

The maps live outside the rules (as prowler keeps a framework's requirement-to-check map
outside its checks), so a school with another AUP adds its own map, and every card and report
quotes the document the school has adopted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Clause(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str  # the rule id
    text: str = Field(min_length=1)  # quoted word for word; " ... " joins parts of one sentence
    section: str | None = None


class ClauseMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str = Field(min_length=1)
    text: str  # the document's text file, relative to the map
    clause: tuple[Clause, ...] = ()

    def for_rule(self, rule_id: str) -> list[Clause]:
        return [c for c in self.clause if c.rule == rule_id]

    @property
    def document(self) -> str:
        """How a card names where a clause comes from."""
        return self.title
