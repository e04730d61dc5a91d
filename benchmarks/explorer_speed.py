"""How fast the analyst explorer answers on a store holding 1M generated orders.

Builds the store the way users do (``generate`` -> ``ingest`` -> ``detect``;
kept in ``--workdir`` and reused when it is already there), starts the real
app (``ringwatch app``) and drives headless Chromium through it:

- **rings table**: from navigating to ``/rings`` until its rows are in the page;
- **ring with its graph**: from navigating to ``/ring?ring=ID`` until the graph
  canvas and the ring's evidence are in the page, for the largest rings of up
  to 300 members.

"Cold" is the first visit after the server started (nothing cached, Python
modules of the page not yet imported; for a ring, the first visit of that
ring); "warm" is the median of later visits from fresh browser sessions.
Targets (issue 5): rings table <= 1.5 s, a 300-member ring with its graph <= 2 s.

Usage::

    .venv/bin/python benchmarks/explorer_speed.py [--orders 1000000] [--workdir /tmp/ringwatch-bench-app] [--rings 3]
    .venv/bin/python benchmarks/explorer_speed.py --store duckdb:///tmp/rw1m/store.duckdb   # a store built with the CLI
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from graph.report.pdf import QUIET_FLAGS, find_browser  # noqa: E402
from graph.schema import RESULT_SCHEMAS  # noqa: E402
from graph.store import open_store  # noqa: E402

CHROMIUM = find_browser() or "/usr/bin/chromium"
CHROMIUM_ARGS = list(QUIET_FLAGS)
MAX_MEMBERS = 300
TARGETS = {"rings_table": 1.5, "ring_graph": 2.0}


def _truth_results(truth_file: Path) -> tuple[dict, dict[str, pa.Table]]:
    """A run made of the generator's planted rings (for ``--results truth``: app speed without detection's wait)."""
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    rings, members = [], []
    for r in truth["rings"]:
        buyers, sellers = r["buyers"], r["target_seller_ids"]
        rings.append(
            {
                "ring_id": r["ring_id"], "ring_type": r["ring_type"], "score": 0.9, "n_buyers": len(buyers),
                "n_sellers": len(sellers), "n_orders": r["n_orders"],
                "first_order_at": datetime.fromisoformat(r["first_order_at"]),
                "last_order_at": datetime.fromisoformat(r["last_order_at"]),
                "target_seller_ids": ";".join(sellers), "top_signals": "planted", "change": "new",
                "methods": "truth", "summary": f"planted {r['tactic']} ring",
            }
        )
        members += [{"ring_id": r["ring_id"], "entity_type": "buyer", "entity_id": b, "role": "core", "member_score": 0.9} for b in buyers]
        members += [{"ring_id": r["ring_id"], "entity_type": "seller", "entity_id": x, "role": "target", "member_score": 0.9} for x in sellers]
        for kind, keys in r.get("identifiers", {}).items():
            members += [{"ring_id": r["ring_id"], "entity_type": kind, "entity_id": k, "role": "shared_identifier", "member_score": 0.8} for k in keys]
    evidence = [{"ring_id": r["ring_id"], "signal": "planted", "value": 1.0, "strength": 1.0, "weight": 1.0,
                 "explanation": "planted by the generator"} for r in rings]  # fmt: skip
    tables = {
        "rings": pa.Table.from_pylist(rings, schema=RESULT_SCHEMAS["rings"]),
        "ring_members": pa.Table.from_pylist(members, schema=RESULT_SCHEMAS["ring_members"]),
        "ring_evidence": pa.Table.from_pylist(evidence, schema=RESULT_SCHEMAS["ring_evidence"]),
        "buyer_scores": RESULT_SCHEMAS["buyer_scores"].empty_table(),
    }
    return {"run_id": "truth", "finished_at": datetime.now(UTC).isoformat()}, tables


def build_store(workdir: Path, orders: int, seed: int, results: str = "detect") -> tuple[str, dict[str, float]]:
    """The benchmark store (reused when a run is already published); returns its URI and build timings.

    ``results="detect"`` runs the real detection; ``"truth"`` publishes the
    generator's planted rings instead (same orders, same app work per ring).
    """
    suffix = "" if results == "detect" else f"-{results}"
    uri = f"duckdb://{workdir / f'store-{orders}{suffix}.duckdb'}"
    store = open_store(uri)
    if store.runs():
        return uri, {}
    from ingest.generate import generate
    from ingest.pipeline import ingest_paths

    timings: dict[str, float] = {}
    data = workdir / f"data-{orders}"
    if not (data / "truth.json").exists():
        start = time.perf_counter()
        generate(data, orders=orders, seed=seed, fmt="parquet")
        timings["generate_s"] = time.perf_counter() - start
    if store.counts()["Order"] == 0:
        start = time.perf_counter()
        ingest_paths([data], store, rejects_path=workdir / f"rejects{suffix}.csv")
        timings["ingest_s"] = time.perf_counter() - start
    start = time.perf_counter()
    if results == "truth":
        store.publish_run(*_truth_results(data / "truth.json"))
    else:
        from graph.detect.pipeline import run_detection

        run_detection(store, seed=seed)
    timings[f"{results}_s"] = time.perf_counter() - start
    return uri, timings


def pick_rings(uri: str, count: int) -> tuple[list[tuple[str, int]], str]:
    """The largest rings with at most 300 members (ring id, members), and the smallest ring (to load the page with)."""
    members = open_store(uri).read_results("ring_members").to_pandas()
    sizes = members.groupby("ring_id").size().sort_values(ascending=False, kind="stable")
    largest = sizes[sizes <= MAX_MEMBERS]
    return [(str(r), int(n)) for r, n in largest.head(count).items()], str(sizes.index[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(uri: str, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGWATCH_APP_")}
    env["RINGWATCH_APP_PREFETCH"] = "0"  # measure the worst case: nothing warmed in the background
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "app", "--store", uri, "--port", str(port), "--headless"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the app did not start; see {log}") from None
            time.sleep(0.2)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settled(page, timeout: float = 120_000) -> None:
    """Wait until the script run is over (Streamlit marks the app root) and no element is marked stale any more."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(state="attached", timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout)


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    return context, context.new_page()


def time_rings_table(page, url: str, *, by_url: bool) -> float:
    """Seconds until the rings table's rows are in the page: by clicking "Rings" in the app, or by URL."""
    if by_url:
        start = time.perf_counter()
        page.goto(f"{url}/rings", wait_until="commit")
    else:
        page.get_by_role("link", name="Overview", exact=True).click()
        page.get_by_text("Waiting for a decision").first.wait_for()
        _settled(page)
        start = time.perf_counter()
        page.get_by_role("link", name="Rings", exact=True).click()
    page.locator("[data-testid=stDataFrame] [role=gridcell]").first.wait_for(state="attached", timeout=120_000)
    return time.perf_counter() - start


def _ring_done(page, ring_id: str) -> None:
    page.locator(f".st-key-graph_{ring_id}_0 canvas").first.wait_for(timeout=120_000)
    page.get_by_role("tab", name="Members").wait_for(timeout=120_000)
    _settled(page)


def time_ring(page, url: str, ring_id: str, *, by_url: bool, shot: Path | None = None) -> float:
    """Seconds until the ring's graph and evidence are in the page: by picking it on the Ring page, or by URL."""
    if by_url:
        start = time.perf_counter()
        page.goto(f"{url}/ring?ring={ring_id}", wait_until="commit")
    else:
        picker = page.get_by_test_id("stSelectbox").first
        picker.click()
        page.keyboard.type(ring_id)
        start = time.perf_counter()
        page.keyboard.press("Enter")
    _ring_done(page, ring_id)
    elapsed = time.perf_counter() - start
    if shot is not None:
        page.screenshot(path=shot)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rings", type=int, default=3, help="how many of the largest rings (<= 300 members) to open")
    parser.add_argument("--repeat", type=int, default=5, help="warm visits per measurement")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ringwatch-bench-app"))
    parser.add_argument("--build-only", action="store_true", help="only build (or find) the store")
    parser.add_argument("--store", help="measure this existing store (a URI) instead of building one in --workdir")
    parser.add_argument(
        "--results",
        choices=("detect", "truth"),
        default="detect",
        help="rings from the real detection (default) or the generator's planted rings",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        print(json.dumps(build_store(args.workdir, args.orders, args.seed, args.results), indent=2))
        return

    from playwright.sync_api import sync_playwright

    uri, build = (args.store, {}) if args.store else build_store(args.workdir, args.orders, args.seed, args.results)
    rings, smallest = pick_rings(uri, args.rings)
    counts = open_store(uri).counts()
    port = _free_port()
    proc = start_app(uri, port, args.workdir / "server.log")
    url = f"http://127.0.0.1:{port}"
    result: dict = {"orders": counts["Order"], "results": args.results, "rings_opened": rings, "build": build,
                    "load_average_before": os.getloadavg()}  # fmt: skip
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Cold: the first visit after the server started, by URL (nothing imported, nothing cached).
            context, page = _new_page(browser)
            result["rings_table_first_visit_s"] = time_rings_table(page, url, by_url=True)
            # Analysts move inside the app: the frontend is loaded once, pages and rings change in place.
            result["rings_table_s"] = statistics.median(time_rings_table(page, url, by_url=False) for _ in range(args.repeat))
            # Load the Ring page on a ring that is not measured, so every measured ring opens cold.
            page.goto(f"{url}/ring?ring={smallest}")
            _ring_done(page, smallest)
            cold, cold_cpu = [], []
            for i, (ring_id, _n) in enumerate(rings):
                before = _cpu_seconds(proc.pid)
                cold.append(time_ring(page, url, ring_id, by_url=False, shot=args.workdir / f"ring_{i}.png"))
                cold_cpu.append(_cpu_seconds(proc.pid) - before)
            result["ring_graph_first_open_s"] = cold
            result["ring_graph_first_open_server_cpu_s"] = cold_cpu
            warm = []
            for _ in range(args.repeat):
                for ring_id, _n in rings[:2]:
                    warm.append(time_ring(page, url, ring_id, by_url=False))
            result["ring_graph_again_s"] = statistics.median(warm)
            context.close()
            # A link to a ring opened in a new browser tab (loads the whole frontend first).
            context, page = _new_page(browser)
            result["ring_graph_by_link_s"] = time_ring(page, url, rings[0][0], by_url=True)
            context.close()
            browser.close()
        result["server_cpu_s"] = _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result["load_average"] = os.getloadavg()

    print(json.dumps(result, indent=2))
    print(
        f"\n{result['orders']:,} orders in the store; load average {result['load_average_before'][0]:.1f} before, "
        f"{result['load_average'][0]:.1f} after, on {os.cpu_count()} cores; the app server used {result['server_cpu_s']:.1f} s CPU"
    )
    print(f"rings table (click in the app)  {result['rings_table_s']:.2f} s median   (target <= {TARGETS['rings_table']} s)")
    print(f"rings table (first visit by URL, cold server) {result['rings_table_first_visit_s']:.2f} s")
    for (ring_id, n), seconds, cpu in zip(rings, cold, cold_cpu, strict=True):
        print(
            f"ring {ring_id} ({n} members) with graph, first open {seconds:.2f} s, server CPU {cpu:.2f} s"
            f"   (target <= {TARGETS['ring_graph']} s)"
        )
    print(f"ring with graph, opened again {result['ring_graph_again_s']:.2f} s median")
    print(f"ring with graph by link in a new tab {result['ring_graph_by_link_s']:.2f} s")


if __name__ == "__main__":
    main()
