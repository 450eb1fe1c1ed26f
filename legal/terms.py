"""The terms of use at /terms: who provides Chaperone, for whom, and under which policy."""

from __future__ import annotations

from config.policy import Policy

from .page import bullets, page, paragraphs
from .privacy import _controller


def terms_of_use(policy: Policy) -> str:
    school = policy.school.name
    adopted = [m.title for m in policy.clause_maps]
    body = paragraphs(
        f"{school} provides Chaperone to its staff and pupils for live lessons in Microsoft Teams. Using it is part "
        f"of working and learning online at {school}, under the school's acceptable use policies:"
    )
    body += bullets(adopted or ["the school's Remote Learning Acceptable Use Policy"])
    body += paragraphs(
        "Chaperone checks lessons and tells people when something needs attention; it does not replace the "
        "judgement of staff or the school's safeguarding procedures. A check it could not make is reported as "
        "\u201ccould not verify\u201d, never as passed.",
        "Report a concern with 'report' in Teams, or directly to the Designated Safeguarding Lead. In an emergency, "
        "call 999.",
        "How personal data is handled is in the privacy notice at /privacy.",
    )
    body += "<h2>Contact</h2>" + _controller(policy)
    return page(f"Chaperone at {school}: terms of use", body)
