"""End to end: ``ringwatch batch`` (ingest + detect + export) on generated orders, embedded store.

Generates each data set once with ``ringwatch generate`` (cached in
``--data``, shared with ``ingest_speed.py``), then runs one ``ringwatch batch``
per size into a fresh store, each in its own process so the peak memory
printed is the batch's own. Prints the stage timings from ``run.json``
(scan, ingest, detect, export, finish), the detector stages from the
detection result, wall and CPU seconds (the batch and its children), and
two peaks of memory:

- ``peak_pss_mb``, the one to size a machine by: the largest sum, sampled
  every two seconds, of the proportional set size of the batch and every
  process it started. Detection forks a child for identity linkage; PSS
  counts the pages they share copy-on-write once.
- ``peak_rss_mb``, the kernel's ``ru_maxrss``: the largest single process,
  exact but blind to a child running beside its parent.

Run::

    .venv/bin/python benchmarks/batch_speed.py --data /tmp/rw-bench                      # 100k and 1M
    .venv/bin/python benchmarks/batch_speed.py --data /tmp/rw-bench --orders 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

RINGWATCH = Path(sys.executable).with_name("ringwatch")
# Reading smaps_rollup walks every page of a 15 GB process: every half second it took a
# fifth of a core from the batch measured. Memory peaks last far longer than two seconds.
PSS_EVERY_S = 2.0


def dataset(root: Path, orders: int, seed: int) -> Path:
    """The generated data set for this size and seed, generated on first use."""
    folder = root / f"orders-{orders}-seed-{seed}"
    if not (folder / "truth.json").exists():
        print(f"generating {orders:,} orders into {folder} (once) ...", flush=True)
        command = [str(RINGWATCH), "generate", "--out", str(folder), "--orders", str(orders), "--seed", str(seed)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return folder


def tree_pss_kb(pid: int) -> int:
    """PSS of ``pid`` and its descendants, in KiB (processes that end meanwhile count 0)."""
    total, pending = 0, [pid]
    while pending:
        proc = Path("/proc") / str(pending.pop())
        try:
            for task in (proc / "task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
            rollup = (proc / "smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # A process that has ended but is not yet reaped has no mappings, and no Pss line.
        total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return total


def peak_tree_pss(pid: int, done: threading.Event) -> list[int]:
    """Sample :func:`tree_pss_kb` every ``PSS_EVERY_S`` on a thread until ``done``; the list holds the peak."""
    peak = [0]

    def sample() -> None:
        while not done.wait(PSS_EVERY_S):
            peak[0] = max(peak[0], tree_pss_kb(pid))

    threading.Thread(target=sample, daemon=True).start()
    return peak


def run_batch(folder: Path, work: Path, formats: str) -> dict:
    """One ``ringwatch batch`` over ``folder`` into a fresh store under ``work``; its figures."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    command = [
        str(RINGWATCH), "--log-json", "batch", "--input", str(folder), "--out", str(work / "out"),
        "--store", f"duckdb://{work / 'store.duckdb'}", "--format", formats, "--json",
    ]  # fmt: skip
    started = time.monotonic()
    log = work / "batch.log"  # its log (JSON lines): progress, decisions and, on failure, the error
    with log.open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err)
        done = threading.Event()
        peak_pss = peak_tree_pss(proc.pid, done)
        stdout = proc.stdout.read()  # type: ignore[union-attr]
        done.set()  # the batch is ending; stop before its pid is reaped (and could be reused)
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"ringwatch batch failed on {folder} (exit {os.waitstatus_to_exitcode(status)}): "
                         + " / ".join(tail) + f" (whole log: {log})")
    result = json.loads(stdout)
    detection = result.get("detection") or {}
    return {
        "orders": detection.get("n_orders"),
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_pss_mb": round(peak_pss[0] / 1024),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "stages_s": result["timings"],
        "detect_stages_s": detection.get("timings", {}),
        "rings": detection.get("n_rings"),
        "flagged": detection.get("n_flagged"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/rw-bench"), help="where generated data sets are cached")
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", default="csv,json,html", help="export formats, as `ringwatch batch --format`")
    args = parser.parse_args()
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · load {os.getloadavg()[0]:.1f}", flush=True)
    for orders in args.orders:
        folder = dataset(args.data, orders, args.seed)
        figures = run_batch(folder, args.data / f"batch-{orders}", args.format)
        print(json.dumps({"size": orders, **figures, "load_after": round(os.getloadavg()[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
