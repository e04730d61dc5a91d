"""Ingest speed and memory: generated orders into the embedded (DuckDB) store.

Generates the data set once with ``ringwatch generate`` (cached in
``--data``), then ingests the whole folder into a fresh store in a separate
process, so the peak memory printed is the ingest's own. Prints orders/s,
rows/s (all files: orders, buyers, sellers, items), wall and CPU seconds and
peak RSS.

``--stage-only`` measures the ingest pipeline without the store (read, check,
normalise, stage to IPC; the upserts are counted and dropped), to tell the
pipeline's share from the store's.

Run::

    .venv/bin/python benchmarks/ingest_speed.py --data /tmp/rw-bench                    # 1M orders
    .venv/bin/python benchmarks/ingest_speed.py --data /tmp/rw-bench --orders 10000000  # 10M orders
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RINGWATCH = Path(sys.executable).with_name("ringwatch")


def dataset(root: Path, orders: int, seed: int) -> Path:
    """The generated data set for this size and seed, generated on first use."""
    folder = root / f"orders-{orders}-seed-{seed}"
    if not (folder / "truth.json").exists():
        print(f"generating {orders:,} orders into {folder} (once) ...", flush=True)
        started = time.monotonic()
        command = [str(RINGWATCH), "generate", "--out", str(folder), "--orders", str(orders), "--seed", str(seed)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"generated in {time.monotonic() - started:.0f} s", flush=True)
    return folder


def measure(folder: Path, store_path: Path, stage_only: bool) -> dict:
    """Ingest ``folder`` in this process and return the figures (run in a child process)."""
    from graph.store import open_store
    from graph.store.base import UpsertCounts
    from ingest.pipeline import ingest_paths

    class DroppingStore:
        """Counts what it is given and keeps nothing (``--stage-only``)."""

        uri = "null://"

        def upsert_orders(self, orders):
            return UpsertCounts(orders.num_rows)

        def upsert_entities(self, entity, rows):
            return UpsertCounts(rows.num_rows)

        def close(self):
            pass

    if not stage_only:
        for leftover in store_path.parent.glob(store_path.name + "*"):  # a fresh store (and its WAL)
            leftover.unlink()
    store = DroppingStore() if stage_only else open_store(f"duckdb:///{store_path}")
    load_before = os.getloadavg()[0]
    wall, cpu = time.monotonic(), time.process_time()
    try:
        result = ingest_paths([folder], store, rejects_path=store_path.with_suffix(".rejects.csv"))
    finally:
        store.close()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    orders = sum(f.read for f in result.files if f.kind == "orders")
    return {
        "orders": orders,
        "rows": result.read,
        "stored": result.stored,
        "rejected": result.rejected,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "orders_per_second": round(orders / wall),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "store": "none (stage only)" if stage_only else "duckdb",
        # Others' jobs share the cores: quote these with the times.
        "load_average_1min_start": round(load_before, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder for the cached generated data sets")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stage-only", action="store_true", help="leave the store out (pipeline share only)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # the measuring process
        store_path = args.data / f"bench-{args.child.name}.duckdb"
        print(json.dumps(measure(args.child, store_path, args.stage_only)))
        return

    args.data.mkdir(parents=True, exist_ok=True)
    folder = dataset(args.data, args.orders, args.seed)
    inputs = [p for p in folder.iterdir() if p.name.startswith(("orders", "buyers", "sellers", "items"))]
    size = sum(p.stat().st_size for p in inputs)
    command = [sys.executable, __file__, "--data", str(args.data), "--child", str(folder)]
    if args.stage_only:
        command.append("--stage-only")
    figures = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"input:   {folder} ({size / 2**20:,.0f} MB of CSV)")
    print(
        f"ingest:  {figures['orders']:,} orders ({figures['rows']:,} rows in all) in {figures['seconds']:.1f} s "
        f"(CPU {figures['cpu_seconds']:.1f} s) -> {figures['orders_per_second']:,} orders/s; "
        f"peak RSS {figures['peak_rss_mb']:,} MB; store: {figures['store']}; "
        f"load average {figures['load_average_1min_start']} at the start, {figures['load_average_1min']} at the end"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
