"""The tab in a real browser: headless Chromium (Debian's, through Playwright) against the real
server and database after the demo morning, signed in with Teams SSO tokens from the Entra
stand-in as SLT, the DSL, a teacher and a pupil. Screenshots go to build/screenshots/."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from demo.morning import DAY, OKAFOR, PUPILS, follow_the_day
from standins.identity import EntraIdentityStandIn
from tab.settings import TabSettings

from .helpers import DSL_ID, SLT, dev_env, rows, run_app_with_tab, tab_settings, tab_token

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent.parent / "build" / "screenshots"
DATE = DAY.date().isoformat()


async def browser(p) -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium (apt-get install chromium)")
    return await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


async def signed_in(b: Browser, token: str, width: int = 1100):
    context = await b.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    # Outside Teams the tab reads its token from sessionStorage (where dev sign-in puts it):
    # here the token is the one Teams' getAuthToken() would give this person.
    await context.add_init_script(f"sessionStorage.setItem('chaperone.token', {json.dumps(token)});")
    return context, await context.new_page()


async def test_each_role_sees_what_it_may_a_lesson_to_its_timeline_and_a_csv_equal_to_the_database(tmp_path, connector, graph):
    SHOTS.mkdir(parents=True, exist_ok=True)
    database = f"sqlite+aiosqlite:///{tmp_path}/demo.sqlite3"
    await follow_the_day(database)
    with EntraIdentityStandIn() as entra:
        async with run_app_with_tab(dev_env(database, graph.base_url), connector.url, tab_settings(entra)) as app, async_playwright() as p:
            b = await browser(p)
            lessons = {l.title: l for l in await app.services.lessons.list_lessons()}
            science = lessons["Year 9 Science (9C)"]

            # SLT: the whole school, no concerns.
            context, page = await signed_in(b, tab_token(entra, SLT.aad_object_id, SLT.name))
            await page.goto(f"{app.url}/tab/today?date={DATE}")
            await page.wait_for_selector(".lesson-cards")
            # The demo morning's nine lessons and the direct call found in its call record (issue 16).
            assert await page.locator(".lesson-card").count() == len(lessons) == 10
            coverage = await page.inner_text("section.coverage")
            assert "10 sessions with pupils · 9 followed live · 1 seen only afterwards (unmonitored) · 1 could not enrol" in coverage
            assert await page.locator(".lesson-card", has_text="Direct call (not followed live)").locator(".badge",
                                                                                                        has_text="unmonitored").count() == 1
            assert await page.locator("nav.tabs a").all_inner_texts() == ["Today", "Register", "Staff AUP", "Exceptions", "Review"]
            await page.screenshot(path=SHOTS / "today.png", full_page=True)
            await page.click("text=Year 9 Science (9C)")  # follow a lesson from the demo morning to its timeline
            await page.wait_for_selector("svg.timeline")
            assert page.url.endswith(f"/tab/lesson/{science.id}")
            # SVG text is not an HTML element: read the label's own text (its <title> is the tooltip).
            assert await page.locator(".lane-external .lane-label").evaluate("n => n.firstChild.textContent") == "Visiting Speaker"
            assert await page.locator(".lane-staff").count() == 2 and await page.locator(".lane-pupil").count() == 6
            assert await page.locator("rect.shade-understaffed").count() >= 1  # Mr Hale left at 11:20
            two_staff = page.locator(".verdict-breach", has_text="two-staff")
            assert "at least 2 members of staff will be present" in await two_staff.inner_text()
            assert await page.locator("#concerns").count() == 0
            await page.screenshot(path=SHOTS / "lesson-timeline.png", full_page=True)
            await page.goto(f"{app.url}/tab/concerns")
            await page.wait_for_selector(".notice")
            assert "You do not have access" in await page.inner_text("main")

            # The register for the day, and its CSV compared with the database.
            await page.goto(f"{app.url}/tab/register?from={DATE}&to={DATE}")
            await page.wait_for_selector("table.register")
            shown = await page.locator("table.register tbody tr").count()
            await page.screenshot(path=SHOTS / "register.png", full_page=True)
            async with page.expect_download() as waiting:
                await page.click("text=Download CSV")
            download = await waiting.value
            saved = tmp_path / "register.csv"
            await download.save_as(saved)
            got = list(csv.DictReader(saved.open(encoding="utf-8")))
            assert len(got) == shown == 10
            stored = {r["id"]: r for r in await rows(app.services.engine, "lessons")}
            people = await rows(app.services.engine, "attendance")
            for row in got:
                lesson = stored[int(row["lesson_id"])]
                assert row["title"] == lesson["title"] and row["organizer"] == lesson["organizer_name"]
                assert int(row["minutes"]) == int((lesson["actual_end"] - lesson["actual_start"]).total_seconds() // 60)
                pupils = {a["person_id"] for a in people if a["lesson_id"] == lesson["id"] and a["classification"] == "pupil"}
                assert int(row["pupils"]) == len(pupils)
            assert [r["action"] for r in await rows(app.services.engine, "audit_log") if r["action"] == "tab.download"] == ["tab.download"]

            # Themes and a phone's width.
            for theme in ("dark", "contrast"):
                await page.goto(f"{app.url}/tab/lesson/{science.id}?theme={theme}")
                await page.wait_for_selector("svg.timeline")
                assert await page.evaluate("document.documentElement.dataset.theme") == theme
                await page.screenshot(path=SHOTS / f"lesson-timeline-{theme}.png", full_page=True)
            await context.close()
            context, page = await signed_in(b, tab_token(entra, SLT.aad_object_id, SLT.name), width=320)
            for path in (f"/tab/today?date={DATE}", f"/tab/register?from={DATE}&to={DATE}", f"/tab/lesson/{science.id}"):
                await page.goto(app.url + path)
                await page.wait_for_selector("main .page")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 320, path
            await page.screenshot(path=SHOTS / "lesson-320px.png", full_page=True)
            await context.close()

            # The DSL: concerns too.
            context, page = await signed_in(b, tab_token(entra, DSL_ID, "Lisa Kavanagh"))
            await page.goto(f"{app.url}/tab/lesson/{science.id}")
            await page.wait_for_selector("#concerns")
            assert "Concerns" in await page.locator("nav.tabs").inner_text()
            await page.click("nav >> text=Concerns")
            await page.wait_for_selector(".page-concerns")
            await context.close()

            # A teacher: their own lessons only.
            context, page = await signed_in(b, tab_token(entra, OKAFOR.aad_object_id, OKAFOR.name))
            await page.goto(f"{app.url}/tab/today?date={DATE}")
            await page.wait_for_selector(".lesson-cards")
            titles = set(await page.locator(".lesson-link").all_inner_texts())
            assert titles == {t for t, l in lessons.items() if l.organizer_aad_id == OKAFOR.aad_object_id} == {"Year 7 Maths (7B)", "Year 9 Science (9C)"}
            assert await page.locator("nav.tabs a").all_inner_texts() == ["Today", "Register"]
            await page.goto(f"{app.url}/tab/lesson/{lessons['Year 8 English (8A)'].id}")
            await page.wait_for_selector(".notice")
            assert "You do not have access" in await page.inner_text("main") and "Year 8 English" not in await page.inner_text("main")
            await context.close()

            # A pupil: nothing.
            context, page = await signed_in(b, tab_token(entra, PUPILS[0].aad_object_id, PUPILS[0].name))
            await page.goto(f"{app.url}/tab/today?date={DATE}")
            await page.wait_for_selector(".notice")
            assert "You do not have access" in await page.inner_text("main") and await page.locator(".lesson-card").count() == 0
            await context.close()
            await b.close()


async def test_dev_mode_offers_a_visible_sign_in_as_one_of_the_policys_people(database_url, connector, graph):
    async with run_app_with_tab(dev_env(database_url, graph.base_url), connector.url, TabSettings(dev_mode=True, _env_file=None)) as app, \
            async_playwright() as p:
        b = await browser(p)
        page = await b.new_page()
        await page.goto(f"{app.url}/tab/today")
        await page.wait_for_selector("text=Dev sign-in")
        await page.click("text=Lisa Kavanagh")
        await page.wait_for_selector(".page-today")
        assert "Dev sign-in: Lisa Kavanagh" in await page.inner_text("#dev-banner")
        assert await page.locator("nav.tabs a").all_inner_texts() == ["Today", "Register", "Staff AUP", "Exceptions", "Concerns", "Review"]
        await b.close()
