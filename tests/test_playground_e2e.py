"""The README's "Try it in Teams' Agents Playground" section, as written: `app.py playground`
(Chaperone in dev mode with the example school's Graph stand-in) and Microsoft 365 Agents
Playground (npm, run in the repository so it reads `.m365agentsplayground.yml`), driven headless
by Playwright in Debian's chromium: a teacher sends `sign`, signs the AUP on its card, and gets
the receipt; then `aup status` and `aup remind` see the same school."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from standins.server import free_port
from standins.school import people

from .helpers import chromium

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent
PLAYGROUND = ROOT / "tests" / "playground" / "node_modules" / ".bin" / "agentsplayground"


async def answers(url: str, seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, f"{url} did not answer"
            await asyncio.sleep(0.3)


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.fixture
def playground_installed():
    if not PLAYGROUND.exists():
        message = "npm @microsoft/m365agentsplayground is not installed in tests/playground (scripts/setup.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


async def test_a_teacher_signs_the_aup_in_the_playground_and_aup_status_and_remind_see_it(playground_installed, tmp_path):
    bot_port, graph_port, playground_port = free_port(), free_port(), free_port()
    env = {**os.environ, "PORT": str(bot_port), "CHAPERONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chaperone.sqlite3"}
    env.pop("CHAPERONE_POLICY_FILE", None)  # dev mode's example policy, as in the README
    chaperone = subprocess.Popen([sys.executable, "app.py", "playground", "--graph-port", str(graph_port)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    playground = None
    try:
        await answers(f"http://127.0.0.1:{bot_port}/healthz")
        playground = subprocess.Popen(
            [str(PLAYGROUND), "start", "-e", f"http://127.0.0.1:{bot_port}/api/messages", "-c", "msteams",
             "-p", str(playground_port), "--dt"],
            cwd=ROOT, env={**os.environ, "BROWSER": "none"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        await answers(f"http://127.0.0.1:{playground_port}/")
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"http://127.0.0.1:{playground_port}/")
            await page.get_by_text("Personal Chat").first.click()
            await page.locator("[data-lexical-editor=true]").click()
            await page.keyboard.type("sign")
            await page.keyboard.press("Enter")
            await page.get_by_role("button", name="Read the policy").first.wait_for(timeout=30_000)
            card = page.locator(".ac-adaptiveCard").last
            assert await card.get_by_label("Your name").input_value() == "Amara Okafor"  # prefilled from Teams
            await card.get_by_label("Your position").fill("Class teacher")
            await card.locator("input[type=checkbox]").check()
            await card.get_by_role("button", name="Sign").click()
            receipt = page.locator(".ac-adaptiveCard", has_text="Signed: thank you")
            await receipt.wait_for(timeout=30_000)
            text = await receipt.inner_text()
            assert "Class teacher" in text and "2022-11" in text

        # The same school from the command line, while Chaperone and its Graph stand-in run.
        cli_env = {**env, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_GRAPH_BASE_URL": f"http://127.0.0.1:{graph_port}/v1.0"}
        status = await asyncio.to_thread(subprocess.run, [sys.executable, "app.py", "aup", "status"], cwd=ROOT, env=cli_env,
                                         capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        assert re.search(r"Amara Okafor .*signed .* as Class teacher", status.stdout)
        staff = [p for p in people() if "@pupils." not in p["userPrincipleName"]]
        assert f"1 of {len(staff)} signed" in status.stdout
        remind = await asyncio.to_thread(subprocess.run, [sys.executable, "app.py", "aup", "remind"], cwd=ROOT, env=cli_env,
                                         capture_output=True, text=True, timeout=120)
        assert remind.returncode == 0, remind.stderr
        assert f"reminded {len(staff) - 1} member(s) of staff" in remind.stdout
    finally:
        if playground is not None:
            stop(playground)
        log = stop(chaperone)
    assert "Traceback" not in log, log[-3000:]
