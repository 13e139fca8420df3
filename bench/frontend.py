"""`python -m bench.frontend`: the chat page's own figures, written to bench/FRONTEND.md.

1. The production build's JS + CSS, gzipped.
2. Cold page load to an interactive composer, in headless Chromium with an empty cache
   (a new browser context per run), median of several runs.
3. Time from pressing Enter to the first streamed token on screen, with a zero-latency model
   (the loopback OpenAI stand-in answering at once, streamed in pieces), timed by the page's
   own clock (`performance.now()` at the Enter keydown, at the websocket frames, and when a
   DOM mutation puts the reply's first word on screen). The driver's own view (Python's clock
   around Playwright's calls) is reported beside it: it adds Playwright's round trips and
   polling, about 200-300 ms here, which the person does not wait for.

The app runs the way production runs it (`reflex run --env prod`, one port), started by the
browser tests' launcher (`tests/support/app_server.py`), so both measure the same thing.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from taskpilot.core.config import PROJECT_ROOT
from tests.support.app_server import (
    CHROMIUM_ARGS,
    missing_prerequisites,
    start_app,
    stop_app,
)
from tests.support.openai_standin import OpenAIStandIn, reply

OUTPUT = Path(__file__).resolve().parent / "FRONTEND.md"
ASSETS = PROJECT_ROOT / ".web" / "build" / "client" / "assets"
LOAD_AIM_MS = 1000
TOKEN_AIM_MS = 120
REPLY = "Streaming answer, in small pieces."
FIRST_WORD = REPLY.split()[0]

# The page's own clock for one Enter: when the key went down, when the send event left on the
# websocket, when the first frame carrying the reply's first word arrived, and when the reply's
# first word was on screen (a DOM mutation, so no polling delay).
PAGE_CLOCK = """
window.__turn = {};
const Socket = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Socket(...args);
  const send = ws.send.bind(ws);
  ws.send = (data) => {
    const t = window.__turn;
    const sending = String(data).includes('chat_state.send');
    if (t.enter !== undefined && t.sent === undefined && sending) t.sent = performance.now();
    return send(data);
  };
  ws.addEventListener('message', (event) => {
    const t = window.__turn;
    if (t.sent !== undefined && t.frame === undefined && String(event.data).includes(WORD))
      t.frame = performance.now();
  });
  return ws;
};
window.WebSocket.prototype = Socket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') window.__turn = {enter: performance.now()};
}, true);
new MutationObserver(() => {
  const t = window.__turn;
  if (t.enter === undefined || t.shown !== undefined) return;
  const replies = document.querySelectorAll('[data-testid=message-assistant]');
  if ([...replies].some((el) => el.innerText.includes(WORD))) t.shown = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
""".replace("WORD", repr(FIRST_WORD))


def bundle_size(paths: list[Path] | None = None) -> tuple[int, int, int]:
    """(files, raw bytes, gzipped bytes) of the prod build's JS and CSS (or of `paths`)."""
    files = paths or [p for p in ASSETS.rglob("*") if p.suffix in (".js", ".css")]
    files = [p for p in files if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    zipped = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files)
    return len(files), raw, zipped


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"{statistics.median(ordered):.0f} | {ordered[0]:.0f} | {ordered[-1]:.0f} | "
        + ", ".join(f"{v:.0f}" for v in values)
    )


def measure(runs: int) -> str:
    """Start the app, measure, stop it; the results as Markdown."""
    if reason := missing_prerequisites():
        raise SystemExit(f"bench.frontend: {reason}")
    standin = OpenAIStandIn().start()
    with tempfile.TemporaryDirectory() as workdir:
        server = start_app(Path(workdir), standin.base_url, redis_url=None)
        try:
            files, _raw, zipped = bundle_size()
            signup = httpx.post(
                f"{server.base_url}/api/auth/signup",
                json={"email": "bench@example.com", "password": "benchmark password"},
                timeout=30,
            ).json()
            token = signup["access_token"]
            loaded_assets: set[Path] = set()
            loads: list[float] = []
            clock: dict[str, list[float]] = {"sent": [], "frame": [], "shown": []}
            driver: list[float] = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                for run in range(runs + 1):  # the first run warms the server, not counted
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    context.add_init_script(
                        f"window.localStorage.setItem('taskpilot_token', {token!r});"
                    )
                    context.add_init_script(PAGE_CLOCK)
                    page = context.new_page()
                    if run == 1:
                        page.on(
                            "response",
                            lambda response: loaded_assets.add(
                                ASSETS.parent / httpx.URL(response.url).path.lstrip("/")
                            ),
                        )
                    composer = page.get_by_role("textbox", name="Message")
                    started = time.perf_counter()
                    page.goto(f"{server.base_url}/")
                    composer.wait_for(state="visible")
                    page.wait_for_function(
                        "() => { const el = document.querySelector('textarea');"
                        " return el && !el.disabled; }"
                    )
                    loaded = (time.perf_counter() - started) * 1000
                    standin.script(reply(REPLY))
                    composer.fill(f"hello {run}")
                    started = time.perf_counter()
                    composer.press("Enter")
                    page.wait_for_function("() => window.__turn.shown !== undefined")
                    seen_by_driver = (time.perf_counter() - started) * 1000
                    turn = page.evaluate("() => window.__turn")
                    if run:
                        loads.append(loaded)
                        driver.append(seen_by_driver)
                        for name in ("sent", "frame", "shown"):
                            clock[name].append(turn[name] - turn["enter"])
                    context.close()
                browser.close()
            page_files, page_raw, page_zipped = bundle_size(
                [p for p in loaded_assets if p.suffix in (".js", ".css")]
            )
        finally:
            stop_app(server)
            standin.stop()
    verdict_load = "met" if statistics.median(loads) < LOAD_AIM_MS else "**not met**"
    tokens = clock["shown"]
    verdict_token = "met" if statistics.median(tokens) <= TOKEN_AIM_MS else "**not met**"
    return "\n".join(
        [
            "# TaskPilot chat page benchmark",
            "",
            "Written by `python -m bench.frontend` (also `make bench-frontend`). Regenerate"
            " rather than edit.",
            "",
            "## Method",
            "",
            "- The app runs as in production: `reflex run --env prod` on one loopback port,"
            " SQLite, one worker, started by the browser tests' launcher. Headless Debian"
            " Chromium driven by Playwright on the same 2-core machine.",
            "- **Bundle**: the `.js`/`.css` files the chat page requested during a cold load,"
            " and every one under `.web/build/client/assets`, gzipped at level 9.",
            "- **Cold load**: a new browser context per run (empty cache, the token already in"
            " localStorage), from `page.goto('/')` until the composer is visible and enabled"
            " (the page has hydrated and loaded its state over the websocket).",
            "- **First token**: the model is the loopback OpenAI stand-in answering at once;"
            " from the Enter keydown until the reply's first word is on screen, by the page's"
            " own clock (`performance.now()`; a MutationObserver notes the moment, so nothing"
            " polls). Its parts: Enter until the send event leaves on the websocket, and"
            " until the first frame carrying the reply's first word arrives.",
            "- **As the driver sees it**: Python's clock from `press('Enter')` until"
            " `wait_for_function` returns. It adds Playwright's round trips and polling to the"
            " same moment; earlier versions of this file reported it as the first token (and"
            ' stopped at the "working on it" placeholder, not the reply).',
            f"- {runs} timed runs after one untimed warm-up; median, min, max in ms.",
            "",
            "## Results",
            "",
            "| Measure | Value | Aim | Verdict |",
            "| --- | ---: | ---: | --- |",
            f"| JS + CSS the chat page loads, gzipped ({page_files} files;"
            f" {page_raw / 1024:.0f} KB raw) | {page_zipped / 1024:.0f} KB | — | — |",
            f"| Whole prod build's JS + CSS, gzipped ({files} files, most of them lazily"
            f" loaded syntax-highlighting languages) | {zipped / 1024:.0f} KB | — | — |",
            f"| Cold load to interactive composer, median | {statistics.median(loads):.0f} ms"
            f" | < {LOAD_AIM_MS} ms | {verdict_load} |",
            f"| Enter to first token on screen, median | {statistics.median(tokens):.0f} ms"
            f" | ≤ {TOKEN_AIM_MS} ms | {verdict_token} |",
            "",
            "| Series (ms) | median | min | max | runs |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| cold load | {_summary(loads)} |",
            f"| Enter → send event on the websocket | {_summary(clock['sent'])} |",
            f"| Enter → first frame with the reply's text | {_summary(clock['frame'])} |",
            f"| Enter → first token on screen | {_summary(tokens)} |",
            f"| the same, as the driver sees it | {_summary(driver)} |",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.frontend", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="timed runs (default 7)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = measure(args.runs)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
