"""How fast the analyst explorer answers on a store holding 1M generated orders.

Builds the store the way users do (``generate`` -> ``ingest`` -> ``detect``;
kept in ``--workdir`` and reused when it is already there), starts the real
app (``ringwatch app``, background warm-up off) and drives headless Chromium
(1366x768) through it. Every figure is wall time in the browser, from the
click or the navigation until what the analyst waits for is in the page and
the script run is over:

- **rings table, in the app**: the app is open on the Overview; click *Rings*
  until the table's rows are in the page (``--repeat`` times per server);
- **rings table, first visit**: a freshly started server, a new tab opens
  ``/rings`` by URL (frontend download, the server's first imports and reads);
- **first ring after a server start**: the open tab goes to ``/ring?ring=ID``
  of the smallest ring. Besides that ring, this reads the orders of all the
  run's ring buyers, which the app keeps for the run (with background warm-up
  on, the default, this read happens before anyone opens a ring);
- **ring with its graph, first open in the app**: the app is open on another
  ring; pick the ring in the *Ring* selector until its graph canvas and its
  evidence are in the page. Nothing of that ring was drawn or computed before;
  its orders come from the run's (the store file is in the OS page cache, as
  on any server in use);
- **ring, first open by link**: a new tab opens ``/ring?ring=ID`` of a ring
  not opened before (frontend download plus the ring's first read);
- **ring, again in the app**: a ring opened before, picked again (cached data:
  the time is the page run and the browser drawing it).

The rings opened are the largest with at most 300 members (members = buyers,
sellers and identifiers; the sizes are printed). The server is started
``--servers`` times so that first opens repeat; figures are the median and max
over all samples, each with the 1-minute load average when it was taken.
``server`` in the samples is the time until the last websocket message of the
run arrived (the page script and the store reads), the rest is the browser
drawing. Targets (issue 5): rings table <= 1.5 s, a 300-member ring with its
graph <= 2 s.

Usage::

    .venv/bin/python benchmarks/explorer_speed.py --workdir /tmp/rw-explorer            # build once (minutes), then measure
    .venv/bin/python benchmarks/explorer_speed.py --store duckdb:///tmp/rw1m/store.duckdb  # a store built with the CLI
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


def pick_rings(uri: str, count: int) -> tuple[list[tuple[str, int]], tuple[str, int]]:
    """The largest rings with at most 300 members, and the smallest ring (each as ring id, members)."""
    members = open_store(uri).read_results("ring_members").to_pandas()
    sizes = members.groupby("ring_id").size().sort_values(ascending=False, kind="stable")
    largest = sizes[sizes <= MAX_MEMBERS]
    return [(str(r), int(n)) for r, n in largest.head(count).items()], (str(sizes.index[-1]), int(sizes.iloc[-1]))


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


class Tab:
    """A browser tab on the app that remembers when the last websocket message from the server arrived."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1366, "height": 768})
        self.page = self.context.new_page()
        self.last_message = 0.0
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, _frame) -> None:
        self.last_message = time.perf_counter()

    def close(self) -> None:
        self.context.close()


def _sample(tab: Tab, start: float, **extra) -> dict:
    end = time.perf_counter()
    server = tab.last_message - start if tab.last_message > start else None
    return {"s": round(end - start, 3), "server_s": None if server is None else round(server, 3),
            "load": round(os.getloadavg()[0], 1), **extra}  # fmt: skip


def time_rings_table(tab: Tab, url: str, *, by_url: bool) -> dict:
    """Until the rings table's rows are in the page and the run is over: by clicking "Rings" in the app, or by URL."""
    page = tab.page
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
    _settled(page)
    return _sample(tab, start)


def _ring_done(page, ring_id: str) -> None:
    page.locator(f".st-key-graph_{ring_id}_0 canvas").first.wait_for(timeout=120_000)
    page.get_by_role("tab", name="Members").wait_for(timeout=120_000)
    _settled(page)


def time_ring(tab: Tab, url: str, ring: tuple[str, int], *, by_url: bool, server_pid: int, shot: Path | None = None) -> dict:
    """Until the ring's graph and evidence are in the page: by picking it in the Ring selector, or by URL."""
    page, (ring_id, members) = tab.page, ring
    if by_url:
        before = _cpu_seconds(server_pid)
        start = time.perf_counter()
        page.goto(f"{url}/ring?ring={ring_id}", wait_until="commit")
    else:
        picker = page.get_by_test_id("stSelectbox").first
        picker.click()
        page.keyboard.type(ring_id)
        before = _cpu_seconds(server_pid)
        start = time.perf_counter()
        page.keyboard.press("Enter")
    _ring_done(page, ring_id)
    sample = _sample(tab, start, ring=ring_id, members=members, server_cpu_s=round(_cpu_seconds(server_pid) - before, 2))
    if shot is not None:  # the graph itself, for a human to check the picture
        page.locator(f".st-key-graph_{ring_id}_0").screenshot(path=shot)
    return sample


def _summary(samples: list[dict]) -> dict:
    seconds = [x["s"] for x in samples]
    return {"n": len(seconds), "median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "load": [min(x["load"] for x in samples), max(x["load"] for x in samples)]} if samples else {}  # fmt: skip


def measure_server(browser, uri: str, log: Path, rings: list[tuple[str, int]], linked: tuple[str, int], smallest: tuple[str, int],
                   repeat: int, shots: Path | None) -> dict[str, list[dict]]:  # fmt: skip
    """One server start: every measurement once (the in-app rings table ``repeat`` times)."""
    port = _free_port()
    proc = start_app(uri, port, log)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, list[dict]] = {}
    try:
        tab = Tab(browser)
        out["rings_table_first_visit"] = [time_rings_table(tab, url, by_url=True)]
        out["rings_table_in_app"] = [time_rings_table(tab, url, by_url=False) for _ in range(repeat)]
        # The first ring after the server started (the smallest; by URL in the open tab): it also reads the
        # orders of all the run's ring buyers, which every later ring of the run takes its own from.
        out["ring_first_after_start"] = [time_ring(tab, url, smallest, by_url=True, server_pid=proc.pid)]
        out["ring_first_open_in_app"] = [
            time_ring(tab, url, ring, by_url=False, server_pid=proc.pid, shot=shots and shots / f"ring_{i}.png")
            for i, ring in enumerate(rings)
        ]
        out["ring_again_in_app"] = [
            time_ring(tab, url, ring, by_url=False, server_pid=proc.pid) for _ in range(max(1, repeat // 2)) for ring in rings
        ]
        tab.close()
        # A link to a ring not opened yet, in a new tab (loads the whole frontend first).
        tab = Tab(browser)
        out["ring_first_open_by_link"] = [time_ring(tab, url, linked, by_url=True, server_pid=proc.pid)]
        tab.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rings", type=int, default=2, help="how many of the largest rings (<= 300 members) to open")
    parser.add_argument("--repeat", type=int, default=5, help="in-app rings table visits per server start")
    parser.add_argument("--servers", type=int, default=3, help="server starts (each gives one first open per ring)")
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
    largest, smallest = pick_rings(uri, args.rings + 1)
    rings, linked = largest[: args.rings], largest[args.rings]
    counts = open_store(uri).counts()
    result: dict = {"orders": counts["Order"], "results": args.results, "cores": os.cpu_count(), "build": build,
                    "rings_opened": rings, "ring_by_link": linked, "first_ring": smallest, "samples": {}}  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(args.servers):
            shots = args.workdir if i == 0 else None
            got = measure_server(browser, uri, args.workdir / "server.log", rings, linked, smallest, args.repeat, shots)
            for name, samples in got.items():
                result["samples"].setdefault(name, []).extend(samples)
        browser.close()
    result["summary"] = {name: _summary(samples) for name, samples in result["samples"].items()}
    (args.workdir / "explorer_speed.json").write_text(json.dumps(result, indent=2))

    print(json.dumps(result["summary"], indent=2))
    print(f"\n{result['orders']:,} orders in the store, {os.cpu_count()} cores, {args.servers} server starts; "
          f"samples in {args.workdir / 'explorer_speed.json'}")  # fmt: skip
    labels = {
        "rings_table_in_app": f"rings table, click in the app          (target <= {TARGETS['rings_table']} s)",
        "rings_table_first_visit": "rings table, first visit to a fresh server by URL",
        "ring_first_after_start": f"first ring after a server start, by URL ({smallest[0]}, {smallest[1]} members)",
        "ring_first_open_in_app": f"ring with graph, first open in the app (target <= {TARGETS['ring_graph']} s)",
        "ring_again_in_app": "ring with graph, again in the app (cached)",
        "ring_first_open_by_link": "ring with graph, first open by link in a new tab",
    }
    sizes = ", ".join(f"{r} ({n} members)" for r, n in rings)
    print(f"rings opened: {sizes}; by link: {linked[0]} ({linked[1]} members)")
    for name, label in labels.items():
        x = result["summary"][name]
        print(f"{label}  median {x['median_s']:.2f} s  max {x['max_s']:.2f} s  (n={x['n']}, load {x['load'][0]}-{x['load'][1]})")
    for x in result["samples"]["ring_first_open_in_app"]:
        print(f"  first open {x['ring']} ({x['members']} members): {x['s']:.2f} s, server {x['server_s']} s, "
              f"server CPU {x['server_cpu_s']} s, load {x['load']}")  # fmt: skip


if __name__ == "__main__":
    main()
