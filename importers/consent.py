"""Parental consent forms and agreements on file, from the MIS: CSV.

Columns: pupil, kind[, given_on, expires_on]
- pupil: the pupil's email (UPN) or Entra object id
- kind: remote-learning (the Consent for Remote Learning Form), one-to-one, pupil-aup (the
  Pupil/Parent AUP Agreement) or image (consent to display or distribute images of the pupil)

A register of one kind only (`import-pupil-aup`, `import-image-consent`) needs no kind column.
"""

from __future__ import annotations

from domain.school import Consent, ConsentKind

from .common import ImportProblems, csv_rows, optional_date

KINDS = tuple(k.value for k in ConsentKind)


def parse_consents(text: str, source: str, only: ConsentKind | None = None) -> list[tuple[Consent, str]]:
    rows, problems = csv_rows(text, {"pupil"} if only else {"pupil", "kind"})
    consents = []
    for line, row in rows:
        try:
            if not row["pupil"]:
                raise ValueError("pupil is empty")
            kind = only.value if only else row["kind"].lower()
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
