"""The whole studio in a real browser (headless Chromium through Playwright), on the embedded model:
open the page, load the pirate sample, see the health report, train with the Quick demo preset (cut to a
few steps), watch the chart gain points, chat with base and tuned, then reload and restart the app and
find the run again. Screenshots of every tab go to test-artifacts/screenshots/, timings to
test-artifacts/pace.json.

    STUDIO_BROWSER_STEPS=30 pytest tests/test_browser.py -m browser -s   # the full Quick demo (workshop pace)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
STEPS = int(os.environ.get("STUDIO_BROWSER_STEPS", "10"))

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``python app.py`` in a subprocess, its output in a log file (never a pipe nobody reads)."""

    def __init__(self, runs: Path, log: Path, env: dict | None = None):
        self.runs, self.log, self.port, self.env = runs, log, free_port(), env or {}
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = None

    def start(self, timeout=120):
        env = {**os.environ, "STUDIO_PORT": str(self.port), "STUDIO_HOST": "127.0.0.1", "STUDIO_RUNS": str(self.runs),
               "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **self.env}
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"the app did not start: {self.log.read_text()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.8)  # let plots finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def tab(page, name):
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def wait_until(fn, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_open_train_and_chat_in_the_browser(browser, tmp_path):
    runs = tmp_path / "runs"
    app = App(runs, tmp_path / "app.log").start()
    marks = {}
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.time()
        page.goto(app.url)
        page.wait_for_selector("#model-facts table", timeout=60_000)
        assert "LlamaForCausalLM" in page.inner_text("#model-facts")
        shot(page, "1-model")

        # Data: the pirate sample, its report and the trained-token preview
        tab(page, "Data")
        page.locator("#data-sample input").click()
        page.get_by_role("option", name="pirate_style.jsonl").click()
        page.wait_for_selector("#data-report:has-text('No problems found')", timeout=60_000)
        assert "60 records" in page.inner_text("#data-summary")
        assert "learned from" in page.inner_text("#data-preview")
        marks["data_loaded"] = time.time() - t0
        shot(page, "2-data")

        # Train: Quick demo (the default preset), cut to STEPS steps
        tab(page, "Train")
        assert "pirate_style.jsonl" in page.inner_text("#train-summary")
        box = page.locator("#knob-train-max_steps input")
        box.fill(str(STEPS))
        box.press("Enter")
        page.wait_for_selector(f"#train-estimate:has-text('for {STEPS} steps')", timeout=30_000)
        shot(page, "3-train-before")
        page.locator("#start-training").click()
        marks["start_clicked"] = time.time() - t0
        page.wait_for_selector("#train-chart .js-plotly-plot .scatterlayer .trace", timeout=180_000)
        marks["first_point"] = time.time() - t0
        points = lambda: page.locator("#train-chart .scatterlayer .trace").first.locator(".point").count()  # noqa: E731
        first = points()
        wait_until(lambda: points() > first, 120, "the chart to gain points")
        shot(page, "4-train-running")
        page.wait_for_selector("#train-status:has-text('Finished')", timeout=600_000)
        marks["finished"] = time.time() - t0
        assert f"step {STEPS}/{STEPS}" in page.inner_text("#train-progress")
        shot(page, "5-train-finished")

        # Chat: one message, two replies, and they differ
        tab(page, "Chat")
        page.wait_for_selector("#chat-which:has-text('Tuned:')", timeout=30_000)
        page.locator("#chat-input textarea").fill("What is the capital of Spain?")
        page.locator("#chat-send").click()

        def replies():
            if any(s in page.inner_text("#chat-message") for s in ("writing", "Loading")):
                return None
            base = page.locator("#chat-base .bot").all_inner_texts()
            tuned = page.locator("#chat-tuned .bot").all_inner_texts()
            base, tuned = "".join(base).strip(), "".join(tuned).strip()
            return (base, tuned) if base and tuned else None

        base, tuned = wait_until(replies, 180, "two replies")
        marks["chatted"] = time.time() - t0
        assert base != tuned, (base, tuned)
        shot(page, "6-chat")
        print(f"\nbase: {base!r}\ntuned: {tuned!r}")

        for name in ("Evaluate", "Export", "Classify"):
            if page.get_by_role("tab", name=name).count():
                tab(page, name)
                shot(page, f"7-{name.lower()}")

        # A reload and a second tab see the run, with its whole chart
        page.reload()
        page.wait_for_selector("#model-facts table", timeout=60_000)
        tab(page, "Runs")
        page.wait_for_selector("#runs-table:has-text('finished')", timeout=30_000)
        page.wait_for_selector("#runs-chart .js-plotly-plot .scatterlayer .trace", timeout=30_000)
        shot(page, "8-runs")
        assert not errors, errors
    finally:
        app.stop()
        pace = {"steps": STEPS, **{k: round(v, 1) for k, v in marks.items()}}
        (REPO / "test-artifacts").mkdir(exist_ok=True)
        (REPO / "test-artifacts" / "pace.json").write_text(json.dumps(pace, indent=1))
        print(f"\npace: {pace}")

    # A restarted app shows the same run, finished, from its folder
    again = App(runs, tmp_path / "app2.log").start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(again.url)
        page.wait_for_selector("#model-facts table", timeout=60_000)
        tab(page, "Runs")
        page.wait_for_selector("#runs-table:has-text('finished')", timeout=30_000)
        page.wait_for_selector("#runs-chart .js-plotly-plot .scatterlayer .trace", timeout=30_000)
    finally:
        again.stop()


def sign_in(browser, url, name, password):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#studio-banner:has-text('Signed in as')", timeout=60_000)
    return page


def test_a_shared_studio_in_the_browser(browser, tmp_path):
    """Sign-in from a users file and a join code, the instructor's locked step count, each person sees only
    their own runs, the admin sees everyone's."""
    from studio.server.users import UserBook

    book = UserBook(tmp_path / "users.json")
    book.add("alice", "alice-password")
    book.add("teach", "teach-password", admin=True)
    code = book.make_codes(1, hours=1)[0]
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_steps: 10\nqueued_per_user: 2\nlocked:\n  method: lora\n  train.max_steps: 3\n")
    app = App(tmp_path / "runs", tmp_path / "app.log",
              env={"STUDIO_USERS": str(tmp_path / "users.json"), "STUDIO_POLICY": str(policy)}).start()
    try:
        alice = sign_in(browser, app.url, "alice", "alice-password")
        assert "Limits here" in alice.inner_text("#studio-banner")
        tab(alice, "Data")
        alice.locator("#data-sample input").click()
        alice.get_by_role("option", name="pirate_style.jsonl").click()
        alice.wait_for_selector("#data-report:has-text('No problems found')", timeout=60_000)
        tab(alice, "Train")
        assert alice.locator("#knob-train-max_steps input").is_disabled()  # fixed by the instructor
        alice.locator("#start-training").click()
        alice.wait_for_selector("#train-status:has-text('Finished')", timeout=300_000)
        tab(alice, "Runs")
        alice.wait_for_selector("#runs-table:has-text('finished')", timeout=30_000)
        import re

        run_id = re.search(r"\d{8}-\d{6}-pirate[\w-]*", alice.inner_text("#runs-table")).group()
        shot(alice, "shared-1-alice-runs")
        tab(alice, "Export")  # the zip comes from her run folder through the per-person download route
        alice.wait_for_selector("#export-what:has-text('LoRA adapter')", timeout=30_000)
        alice.locator("#export-go").click()
        link = alice.locator("#export-file a")
        link.wait_for(timeout=120_000)
        href = link.get_attribute("href")
        with alice.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "export.zip" and href.endswith("/export.zip")

        student = sign_in(browser, app.url, "kim", code)  # a join code: any name, the code as password
        tab(student, "Runs")
        time.sleep(1.5)
        assert run_id not in student.inner_text("#runs-table")
        assert student.request.get(app.url + href).status == 404  # her download is not his
        assert alice.request.get(app.url + href).status == 200
        assert student.get_by_role("tab", name="Admin").count() == 0 or not student.get_by_role("tab", name="Admin").is_visible()
        shot(student, "shared-2-student-runs")

        admin = sign_in(browser, app.url, "teach", "teach-password")
        tab(admin, "Admin")
        admin.wait_for_selector(f"#admin-table:has-text('{run_id}')", timeout=30_000)
        assert "alice" in admin.inner_text("#admin-table")
        shot(admin, "shared-3-admin")
    finally:
        app.stop()
