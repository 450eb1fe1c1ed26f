"""Parental consent forms on file, from the MIS: CSV.

Columns: pupil, kind[, given_on, expires_on]
- pupil: the pupil's email (UPN) or Entra object id
- kind: remote-learning (the Consent for Remote Learning Form) or one-to-one
"""

from __future__ import annotations

from domain.school import Consent

from .common import ImportProblems, csv_rows, optional_date

KINDS = ("remote-learning", "one-to-one")


def parse_consents(text: str, source: str) -> list[tuple[Consent, str]]:
    rows, problems = csv_rows(text, {"pupil", "kind"})
    consents = []
    for line, row in rows:
        try:
            if not row["pupil"]:
                raise ValueError("pupil is empty")
            kind = row["kind"].lower()
            if kind not in KINDS:
                raise ValueError(f"kind {row['kind']!r} is not one of {', '.join(KINDS)}")
            consent = Consent(
                person=row["pupil"].lower(),
                kind=kind,
                given_on=optional_date(row.get("given_on", ""), "given_on"),
                expires_on=optional_date(row.get("expires_on", ""), "expires_on"),
            )
            consents.append((consent, f"{source}:{line}"))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise ImportProblems(source, problems)
    return consents
