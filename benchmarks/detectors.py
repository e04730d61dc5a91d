"""Timings of the identity linker and the synchrony detector at 10^5, 10^6 and 10^7 orders.

Generates seeded random input shaped like a real export (not RingWatch's
synthetic generator): heavy-tailed buyer activity, Zipf shop popularity,
a daily rhythm over 90 days, items per shop; identifiers with households,
families sharing a device, parcel stations of hundreds of buyers, carrier
NAT IPs shared by thousands, /24 networks; plus a few lockstep groups and
sock-puppet clusters so every code path runs. Each (size, detector) runs in
a fresh process so its peak memory is its own (input included).

Run: ``.venv/bin/python benchmarks/detectors.py [--orders 100000 1000000 10000000]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY = 86_400
START = 1_767_225_600  # 2026-01-01 UTC


def _ids(prefix: str, codes: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(codes), pa.string()), "")


def _zipf_choice(rng: np.random.Generator, n_items: int, size: int, exponent: float) -> np.ndarray:
    """Draw ``size`` indices in ``0..n_items-1`` with probability ~ 1 / rank**exponent (shuffled ranks)."""
    weights = 1.0 / np.arange(1, n_items + 1) ** exponent
    cdf = np.cumsum(weights / weights.sum())
    rank = np.minimum(np.searchsorted(cdf, rng.random(size)), n_items - 1)
    return rng.permutation(n_items)[rank]


def make_orders(n_orders: int, seed: int = 0) -> pa.Table:
    """Orders: buyer, seller, item, created_at, with lockstep groups planted (0.2% of orders)."""
    rng = np.random.default_rng(seed)
    n_buyers, n_sellers = max(n_orders // 5, 10), max(n_orders // 100, 10)
    buyer = _zipf_choice(rng, n_buyers, n_orders, 0.6)
    seller = _zipf_choice(rng, n_sellers, n_orders, 1.0)
    item = seller * 20 + np.minimum(rng.geometric(0.3, n_orders) - 1, 19)
    hour_weights = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 5, 5, 6, 7, 8, 9, 10, 9, 6, 3], float)
    hour = rng.choice(24, n_orders, p=hour_weights / hour_weights.sum())
    seconds = START + rng.integers(0, 90, n_orders) * DAY + hour * 3600 + rng.integers(0, 3600, n_orders)

    # Lockstep groups: 8 accounts, 3 shops, 6 days, within minutes.
    n_groups = max(n_orders // 4000 // 144, 1)
    g_buyer, g_seller, g_time = [], [], []
    for g in range(n_groups):
        members = rng.choice(n_buyers, 8, replace=False)
        shops = rng.choice(n_sellers, 3, replace=False)
        for day in rng.choice(90, 6, replace=False):
            for shop in shops:
                base = START + day * DAY + rng.integers(0, DAY)
                g_buyer.append(members)
                g_seller.append(np.full(8, shop))
                g_time.append(base + rng.integers(0, 600, 8))
    buyer = np.concatenate([buyer, *g_buyer])
    seller = np.concatenate([seller, *g_seller])
    item = np.concatenate([item, np.concatenate(g_seller) * 20])
    seconds = np.concatenate([seconds, *g_time])[: len(buyer)]
    n = len(buyer)
    return pa.table(
        {
            "order_id": _ids("o", np.arange(n)),
            "buyer_id": _ids("b", buyer),
            "seller_id": _ids("s", seller),
            "item_id": _ids("i", item),
            "created_at": pa.array(seconds * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        }
    )


def make_identifiers(n_orders: int, seed: int = 0) -> pa.Table:
    """The ``buyer_identifiers`` projection for the buyers of ``make_orders(n_orders)``."""
    rng = np.random.default_rng(seed + 1)
    n_buyers = max(n_orders // 5, 10)
    b = np.arange(n_buyers)
    parts = []

    def add(kind: str, buyers: np.ndarray, keys: np.ndarray) -> None:
        parts.append((kind, buyers, keys))

    # Devices: one each, 3% of families share one, 10% have a second.
    device = b.copy()
    family = rng.random(n_buyers) < 0.03
    device[family] = np.maximum(b[family] - rng.integers(1, 4, family.sum()), 0)
    add("device", b, device)
    second = rng.random(n_buyers) < 0.1
    add("device", b[second], n_buyers + b[second])
    add("payment", b, b)
    add("phone", b, np.where(rng.random(n_buyers) < 0.02, b // 2, b + n_buyers))
    # Addresses: households of 1-3, 15% collect at parcel stations of ~100-1000 buyers.
    home = b // rng.integers(1, 4, n_buyers)
    n_stations = max(n_buyers // 3000, 1)
    station = rng.random(n_buyers) < 0.15
    home = np.where(station, n_buyers + _zipf_choice(rng, n_stations, n_buyers, 0.5), home)
    add("address", b, home)
    # IPs: home IPs per household, 30% behind carrier NAT (a few IPs for thousands).
    n_nat = max(n_buyers // 5000, 1)
    nat = rng.random(n_buyers) < 0.3
    ip = np.where(nat, 4 * n_buyers + rng.integers(0, n_nat, n_buyers), home)
    add("ip", b, ip)
    add("ipnet", b, ip // 50)

    # Sock-puppet clusters: 10 accounts on 2 devices and one address.
    n_rings = max(n_buyers // 20_000, 1)
    for r in range(n_rings):
        members = rng.choice(n_buyers, 10, replace=False)
        add("device", members, np.full(10, 3 * n_buyers + r * 2) + (np.arange(10) % 2))
        add("address", members, np.full(10, 3 * n_buyers + r))

    kinds = np.concatenate([np.full(len(x), k, dtype=object) for k, x, _ in parts])
    buyers = np.concatenate([x for _, x, _ in parts])
    keys = np.concatenate([y for _, _, y in parts])
    n = len(buyers)
    return pa.table(
        {
            "buyer_id": _ids("b", buyers),
            "kind": pa.array(kinds, pa.string()),
            "key": _ids("k", keys),
            "n_orders": pa.array(rng.integers(1, 10, n)),
            "first_seen": pa.array(np.full(n, START * 1_000_000), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "last_seen": pa.array(np.full(n, (START + 90 * DAY) * 1_000_000), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )


def run_one(method: str, n_orders: int) -> dict:
    """Generate the input, fit one detector, return timings (seconds) and peak RSS (MiB)."""
    import pandas as pd

    from graph.detect.identity import IdentityLinker
    from graph.detect.synchrony import SynchronyDetector

    stages: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def on_progress(stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if last[1] is not None:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
        last[0], last[1] = now, stage

    if method == "identity":
        table = make_identifiers(n_orders)
        frame = table.to_pandas()
        rows = len(frame)
        start, cpu = time.perf_counter(), time.process_time()
        last[0] = start
        det = IdentityLinker(seed=0).fit(frame, on_progress=on_progress)
        extra = {"edges": det.graph_.ecount(), "linked_buyers": det.graph_.vcount()}
    else:
        table = make_orders(n_orders)
        frame = table.to_pandas()
        rows = len(frame)
        start, cpu = time.perf_counter(), time.process_time()
        last[0] = start
        det = SynchronyDetector(seed=0).fit(frame, on_progress=on_progress)
        extra = {"pairs": len(det.pairs_), "repeat_pairs": len(det.pair_scores_), "caps": det.bucket_caps_}
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    on_progress("end", 0, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "orders": n_orders,
        "input_rows": rows,
        "buyers_scored": len(det.scores_),
        "candidates": len(det.candidates_),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_1min": round(os.getloadavg()[0], 1),
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "peak_rss_mib": round(peak),
        **extra,
        "pandas": pd.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--methods", nargs="+", default=["identity", "synchrony"])
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "ORDERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    print("wall and CPU seconds of fit() alone; peak RSS of the process, input included; load = 1-min load average")
    print(
        f"{'method':<10} {'orders':>11} {'input rows':>11} {'wall s':>8} {'cpu s':>8} {'load':>5} "
        f"{'peak MiB':>9} {'candidates':>10}  stages / size"
    )
    for n in args.orders:
        for method in args.methods:
            out = subprocess.run(
                [sys.executable, __file__, "--one", method, str(n)], capture_output=True, text=True, check=True
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            notes = {k: r[k] for k in ("edges", "linked_buyers", "pairs", "repeat_pairs", "caps") if k in r}
            print(
                f"{r['method']:<10} {r['orders']:>11,} {r['input_rows']:>11,} {r['seconds']:>8.2f} "
                f"{r['cpu_seconds']:>8.2f} {r['load_1min']:>5.1f} "
                f"{r['peak_rss_mib']:>9,} {r['candidates']:>10,}  {r['stages']} {notes}",
                flush=True,
            )


if __name__ == "__main__":
    main()
