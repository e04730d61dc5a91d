"""End to end: `ringwatch app` on a small generated store, driven by headless Chromium.

The store is built the way users build theirs (generate -> ingest -> detect)
when those stages are installed, else by hand (``tests.test_web_pages.make_store``).
Screenshots go to ``test-output/web/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.report.pdf import QUIET_FLAGS, find_browser

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "web"
CHROMIUM = find_browser() or "/usr/bin/chromium"
CHROMIUM_ARGS = list(QUIET_FLAGS)
START_TIMEOUT = 60  # seconds for the server to listen (a cold import of streamlit on a busy 2-core CI box)
UI_TIMEOUT = 60_000  # ms for one page to show what we wait for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build_store(folder: Path) -> str:
    """A small store made by the real pipeline when it is there, else by hand."""
    uri = f"duckdb://{folder / 'store.duckdb'}"
    try:
        from graph.detect.pipeline import run_detection
        from ingest.generate import generate
        from ingest.pipeline import ingest_paths
    except ImportError:
        from tests.test_web_pages import make_store

        return make_store(folder / "store.duckdb")
    from graph.store import open_store

    generate(folder / "data", orders=3000, seed=3)
    store = open_store(uri)
    ingest_paths([folder / "data"], store, rejects_path=folder / "rejects.csv")
    run_detection(store, seed=0)
    return uri


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ringwatch app` on a free port; yields (base url, store uri); stopped afterwards."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium; ./dev test installs it)")
    folder = tmp_path_factory.mktemp("e2e")
    uri = _build_store(folder)
    with _serving(uri, folder / "server.log", "--headless") as (url, proc):
        yield url, uri, proc, folder / "server.log"


@contextlib.contextmanager
def _serving(
    uri: str, log_path: Path, *flags: str, env: dict[str, str] | None = None, stdin: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`ringwatch app --store uri` on a free port until it listens; stopped on leaving."""
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RINGWATCH_APP_")}, **(env or {})}
    log = open(log_path, "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "app", "--store", uri, "--port", str(port), *flags],
        cwd=log_path.parent, env=env, stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ringwatch app did not start: {log_path.read_text()}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _run_over(page) -> None:
    """Wait until the page's script run is over (Streamlit marks the app root), so no element is from an older run.

    Call it after waiting for something only the new run shows: right after a
    click, the run it starts may not have begun yet.
    """
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(state="attached")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_server_keeps_the_store_off_its_command_line(server):
    _url, uri, proc, _log = server
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
    assert "app.web.serve" in cmdline and "run" in cmdline  # Streamlit's `run`, through the preloading launcher
    assert not any(uri in part or "store.duckdb" in part for part in cmdline)


def test_analyst_triages_a_ring_end_to_end(server, browser, tmp_path):
    url, uri, _proc, server_log = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page.set_default_timeout(UI_TIMEOUT)

    # The rings table, highest score first.
    page.goto(f"{url}/rings")
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for()
    cells = table.locator("[role=gridcell]")  # the grid's accessible copy of the canvas cells
    cells.first.wait_for(state="attached")
    top_ring = cells.first.inner_text().strip()
    assert top_ring
    _run_over(page)
    page.screenshot(path=SHOTS / "01_rings.png")

    # Clicking the first row opens that ring.
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the row-selection cell of row 1
    page.wait_for_url(f"**/ring?ring={top_ring}")

    # Its graph (an ECharts canvas), why it was flagged, its evidence.
    graph = page.locator(f".st-key-graph_{top_ring}_0 canvas").first
    graph.wait_for()
    assert graph.bounding_box()["height"] > 300
    page.get_by_text("Why it was flagged").wait_for()
    _run_over(page)
    page.get_by_role("tab", name="Ratings and reviews").click()
    page.get_by_text("Review texts (").wait_for()
    _run_over(page)  # the downloads below belong to this run
    page.screenshot(path=SHOTS / "02_ring.png")

    # Its report downloads as a file.
    with page.expect_download() as download:
        page.get_by_role("button", name="ring.json").click()
    saved = tmp_path / "ring.json"
    download.value.save_as(saved)
    assert top_ring in saved.read_text(encoding="utf-8")
    if importlib.util.find_spec("graph.report") is not None:
        # The human report is rendered on the click, by the reports package.
        with page.expect_download() as download:
            page.get_by_role("button", name="Report (HTML)").click()
        download.value.save_as(tmp_path / "report.html")
        report = (tmp_path / "report.html").read_text(encoding="utf-8")
        assert report.lstrip().lower().startswith("<!doctype html") and top_ring in report

    # Record a decision.
    page.get_by_text("Needs review", exact=True).click()
    page.get_by_label("Note").fill("再核对一下物流 (checked in e2e)")
    page.get_by_label("Analyst").fill("E2E Analyst")
    page.get_by_role("button", name="Record decision").click()
    history = page.locator("[data-testid=stDataFrame] [role=gridcell]", has_text="E2E Analyst")
    history.first.wait_for(state="attached")

    # Reload: the decision is kept (label on the ring, row in the history).
    page.reload()
    page.locator(f".st-key-graph_{top_ring}_0 canvas").first.wait_for()
    _run_over(page)
    page.get_by_text("needs review", exact=True).first.wait_for()
    page.locator("[data-testid=stDataFrame] [role=gridcell]", has_text="E2E Analyst").first.wait_for(state="attached")
    page.get_by_role("button", name="Record decision").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "03_decided.png")
    page.close()

    from graph.store import open_store

    kept = open_store(uri).decisions(top_ring).to_pylist()
    assert [(d["decision"], d["analyst"]) for d in kept] == [("needs_review", "E2E Analyst")]
    # Nothing failed behind the scenes (page scripts, the background warm-up of the top rings).
    assert "Traceback" not in server_log.read_text(errors="replace")


def test_the_app_serves_on_first_run_without_asking_anything(server, tmp_path):
    """A newcomer's `ringwatch demo` on a fresh machine: no Streamlit e-mail prompt blocks the
    server (it waits on the terminal before listening), without --headless and without a tty."""
    _url, uri, _proc, _log = server
    first_run = {"HOME": str(tmp_path), "BROWSER": "true"}  # no ~/.streamlit yet; "open" the browser with true(1)
    with _serving(uri, tmp_path / "app.log", env=first_run, stdin=subprocess.DEVNULL) as (url, _):
        assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read() == b"ok"
    assert "Email" not in (tmp_path / "app.log").read_text(errors="replace")
