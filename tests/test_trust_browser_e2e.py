"""The trust view and the school picker in a real browser (headless Chromium, Debian's, through
Playwright), signed in as the trust's lead with a Teams SSO token from the Entra stand-in, after
a lesson in each school and one no school claimed. The trust view's screenshot goes to
build/screenshots/trust.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import TRUST_LEAD, chromium, run_app_with_tab, script_trust_people, seed_two_schools, tab_settings, tab_token, trust_env

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).parent.parent / "build" / "screenshots"


async def test_the_trust_lead_sees_the_schools_side_by_side_and_picks_a_school(database_url, connector, graph, entra):
    SHOTS.mkdir(parents=True, exist_ok=True)
    script_trust_people(graph)
    async with run_app_with_tab(trust_env(database_url, graph.base_url), connector.url, tab_settings(entra)) as app, chromium() as b:
        await seed_two_schools(app, connector, graph, unknown=True)
        context = await b.new_context(viewport={"width": 1280, "height": 900})
        # Outside Teams the tab reads its token from sessionStorage: here, the one Teams' getAuthToken() would give the lead.
        token = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
        await context.add_init_script(f"sessionStorage.setItem('chaperone.token', {json.dumps(token)});")
        page = await context.new_page()
        await page.goto(f"{app.url}/tab/trust?from=2026-11-01&to=2028-12-31")
        await page.wait_for_selector("table.trust")
        names = await page.locator("table.trust tbody tr td:first-child").all_inner_texts()
        assert names == ["Valence School", "Brook Primary School", "School unknown", "Riverside Learning Trust: all schools"]
        assert await page.locator("table.unknown-school tbody tr").count() == 1
        assert "Saturday Robotics Club" in await page.inner_text("table.unknown-school")
        await page.screenshot(path=SHOTS / "trust.png", full_page=True)

        # The picker: Valence's register first, then Brook's, chosen in the page.
        await page.goto(f"{app.url}/tab/register?from=2026-11-23&to=2026-11-23")
        await page.wait_for_selector("table.register")
        assert "Year 7 Maths" in await page.inner_text("table.register")
        await page.select_option("form.school-picker select[name=school]", "brook")
        await page.click("form.school-picker button")
        await page.wait_for_selector('form.school-picker[data-school="brook"]')
        register = await page.inner_text("table.register")
        assert "Year 3 Reading" in register and "Year 7 Maths" not in register
        assert "school=brook" in page.url
        await context.close()
