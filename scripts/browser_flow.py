"""Drive a running studio in headless Chromium (Playwright) and print the times as one JSON line.

    python scripts/browser_flow.py URL [--steps N]      # Quick demo cut to N steps on the pirate sample, then chat
    python scripts/browser_flow.py URL --find-run       # a (restarted) studio lists a finished run

Used by scripts/docker-test.sh against the container and against ``python app.py`` on the host; the same
flow as tests/test_browser.py. Exits non-zero with a message when a step does not happen in time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def wait_until(fn, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def quick_demo(page, url: str, steps: int, shots: str | None) -> dict:
    marks, t0 = {}, time.time()
    page.goto(url)
    page.wait_for_selector("#model-facts table", timeout=120_000)
    marks["page_ready_s"] = time.time() - t0
    tab(page, "Data")
    page.locator("#data-sample input").click()
    page.get_by_role("option", name="pirate_style.jsonl").click()
    page.wait_for_selector("#data-report:has-text('No problems found')", timeout=60_000)
    tab(page, "Train")
    box = page.locator("#knob-train-max_steps input")
    box.fill(str(steps))
    box.press("Enter")
    page.wait_for_selector(f"#train-estimate:has-text('for {steps} steps')", timeout=30_000)
    page.locator("#start-training").click()
    started = time.time()
    page.wait_for_selector("#train-status:has-text('Finished')", timeout=900_000)
    marks["train_s"] = time.time() - started
    if f"step {steps}/{steps}" not in page.inner_text("#train-progress"):
        raise AssertionError(f"the run did not reach step {steps}: {page.inner_text('#train-progress')}")
    if shots:
        page.screenshot(path=f"{shots}-train.png", full_page=True)
    tab(page, "Chat")
    page.wait_for_selector("#chat-which:has-text('Tuned:')", timeout=30_000)
    page.locator("#chat-input textarea").fill("What is the capital of Spain?")
    asked = time.time()
    page.locator("#chat-send").click()

    def replies():
        if any(s in page.inner_text("#chat-message") for s in ("writing", "Loading")):
            return None
        base = "".join(page.locator("#chat-base .bot").all_inner_texts()).strip()
        tuned = "".join(page.locator("#chat-tuned .bot").all_inner_texts()).strip()
        return (base, tuned) if base and tuned else None

    base, tuned = wait_until(replies, 300, "two chat replies")
    marks["chat_s"] = time.time() - asked
    marks["total_s"] = time.time() - t0
    if shots:
        page.screenshot(path=f"{shots}-chat.png", full_page=True)
    return {**{k: round(v, 1) for k, v in marks.items()}, "steps": steps, "base": base[:80], "tuned": tuned[:80]}


def find_run(page, url: str) -> dict:
    t0 = time.time()
    page.goto(url)
    page.wait_for_selector("#model-facts table", timeout=120_000)
    tab(page, "Runs")
    page.wait_for_selector("#runs-table:has-text('finished')", timeout=60_000)
    page.wait_for_selector("#runs-chart .js-plotly-plot .scatterlayer .trace", timeout=60_000)
    return {"run_found": True, "page_ready_s": round(time.time() - t0, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--find-run", action="store_true")
    parser.add_argument("--screenshots", help="a path prefix for screenshots (PNG)")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            result = find_run(page, args.url) if args.find_run else quick_demo(page, args.url, args.steps, args.screenshots)
        except Exception as err:  # noqa: BLE001 - report what did not happen, with a picture of the page
            if args.screenshots:
                page.screenshot(path=f"{args.screenshots}-failed.png", full_page=True)
            print(f"browser flow failed at {args.url}: {err}", file=sys.stderr)
            return 1
        finally:
            browser.close()
    if errors:
        result["page_errors"] = errors
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
