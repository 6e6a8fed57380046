"""The Data tab's placeholder form in a real browser: upload a file with placeholders, see one box per
placeholder under the report, type values, fill, and get a new version without them."""

import shutil
import socket
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
SAMPLE = REPO / "tests" / "data" / "formats" / "identity_placeholders.json"

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    from studio.ui.app import build_app

    demo = build_app(tmp_path / "runs")
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def wait_text(page, selector, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in (page.locator(selector).inner_text() or ""):
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not in {selector}: {page.locator(selector).inner_text()[:500]}")


def test_fill_placeholders_from_the_page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="Data").click()
        page.locator("#data-upload input[type=file]").set_input_files(str(SAMPLE))
        wait_text(page, "#data-report", "placeholder")
        wait_text(page, "#data-fill-note", "Placeholders found")
        wait_text(page, "#data-fill-0 label", "{{name}} (3 records)")
        page.locator("#data-fill-0 textarea").fill("Aria")
        page.locator("#data-fill-1 textarea").fill("Acme Labs")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "data-fill-placeholders.png"), full_page=True)
        page.locator("#data-fill-apply").click()
        wait_text(page, "#data-message", "Filled placeholders")
        # the new version: name and author filled, the two placeholders left empty are still reported
        wait_text(page, "#data-report", "[INSERT COMPANY NAME]")
        report = page.locator("#data-report").inner_text()
        assert "{{name}}" not in report and "{{author}}" not in report
        wait_text(page, "#data-fill-0 label", "[INSERT COMPANY NAME] (1 record)")
        browser.close()
