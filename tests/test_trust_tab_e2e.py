"""The record tab in a two-school trust, over HTTP against the real app: each view is of one
school (a picker for someone with more than one), a lesson's page names its school and how it
was placed, the shared teacher sees her own lessons in both schools, a read-only trust lead may
read but not act, and a school that is unknown or not the viewer's is refused before anything
is read."""

from __future__ import annotations

import pytest

from .helpers import (
    BROOK_DSL, BROOK_SLT, SHARED_TEACHER, TRUST_FILE, TRUST_LEAD, VALENCE_DSL, VALENCE_SLT, rows, run_app_with_tab, script_trust_people,
    seed_two_schools, tab_get as get, tab_settings, tab_token, trust_env,
)

pytestmark = pytest.mark.e2e

DAY = "from=2026-11-23&to=2026-11-23"


@pytest.fixture
async def trust_tab(database_url, connector, graph, entra):
    script_trust_people(graph)
    async with run_app_with_tab(trust_env(database_url, graph.base_url), connector.url, tab_settings(entra)) as running:
        running.lesson_ids = await seed_two_schools(running, connector, graph)
        yield running


async def test_seeded(trust_tab):
    assert set(trust_tab.lesson_ids) == {"valence", "brook"}
    concerns = await rows(trust_tab.services.engine, "concerns")
    assert len(concerns) == 2
