"""A synthetic marketplace with planted rings, honest look-alikes and ground truth.

``generate`` writes the input files of CONTRACT.md section 1 (orders in
chunks, buyers, sellers, items) plus ``truth.json`` and ``truth_buyers.csv``.
It is what detection quality is measured against, so it tries hard to be
honest about the problem:

* Every order, honest or not, starts from the same model of a buyer (home,
  work, devices, carrier NAT, family members) and the same order behaviour
  (prices, coupons, logistics, reviews). A tactic then changes only what the
  tactic changes, and only for part of its orders.
* Ring accounts, devices, addresses, phones, payment accounts, IPs and
  waybills are drawn from the same generators as honest ones: no id format,
  range or registration date gives them away.
* Honest groups that look dense (parcel stations, families, offices, company
  gifts, flash-sale crowds, carrier NAT, loyal customers) are planted on
  purpose and listed in the truth.

Everything is vectorised with numpy and pyarrow and written chunk by chunk,
so memory stays bounded (entity tables grow with the number of buyers, never
with the number of orders held at once). The same seed gives byte-identical
files. See ``docs/generate.md``.

Modules, in the order data flows: ``vocab`` and ``lexicon`` (words and their
codes), ``clock``, ``world`` (everyone and every identifier), ``orders`` (the
one order model), ``plans``, ``planter``, ``brushing`` and ``malicious``
(planted rings, ``rings``), ``lookalikes``, ``texts`` and ``render`` (orders as
an export writes them), ``waybills``, ``tally``, ``entities``, ``files``,
``truth``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graph.errors import ConfigError
from graph.progress import ProgressFn, report

from .entities import buyers_table, items_table, sellers_table
from .files import FORMATS, Writer, prepare_folder
from .lookalikes import LOOKALIKE_KINDS, corporate_gifts, lookalike_groups
from .orders import chunk_plan, concat, honest_chunk, select
from .plans import RingPlan, plan_rings
from .render import render_orders
from .rings import plant
from .tally import Tally
from .truth import build_truth, write_truth, write_truth_buyers
from .waybills import Waybills
from .world import World

__all__ = ["FORMATS", "LOOKALIKE_KINDS", "GenerateResult", "RingPlan", "generate", "plan_rings"]


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate`` wrote.

    Attributes
    ----------
    out_dir : str
        The folder written.
    paths : list of str
        Every file written, orders files first.
    counts : dict
        ``orders``, ``buyers``, ``sellers``, ``items``, ``rings``, ``ring_orders``,
        ``ring_buyers``, ``lookalike_groups``, ``order_files``.
    seed : int
    format : str
    seconds : float
        Wall time.
    """

    out_dir: str
    paths: list[str]
    counts: dict[str, int]
    seed: int
    format: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": self.out_dir, "paths": list(self.paths), "counts": dict(self.counts), "seed": self.seed,
                "format": self.format, "seconds": round(self.seconds, 3)}


def generate(out_dir: str | Path, *, orders: int = 100_000, seed: int = 0, fmt: str = "csv",
             on_progress: ProgressFn | None = None, rows_per_file: int = 250_000) -> GenerateResult:
    """Write a synthetic marketplace with planted rings and its ground truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write; created if missing. Earlier generated files in it are replaced.
    orders : int
        Number of orders (>= 200).
    seed : int
        Randomness; the same seed gives byte-identical files.
    fmt : {"csv", "csv.gz", "parquet", "jsonl"}
        Format of the orders, buyers, sellers and items files.
    on_progress : callable, optional
        ``on_progress(stage, done, total)``.
    rows_per_file : int
        Orders per orders file (about): orders are built and written this many at a time,
        which bounds memory.

    Returns
    -------
    GenerateResult

    Examples
    --------
    >>> r = generate("/tmp/rw-demo", orders=2_000, seed=1)  # doctest: +SKIP
    >>> r.counts["orders"]  # doctest: +SKIP
    2000
    """
    started = time.perf_counter()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if orders < 200:
        raise ConfigError(f"--orders {orders} is too small to hide rings in; use at least 200")
    if rows_per_file < 1000:
        raise ConfigError(f"rows_per_file {rows_per_file} is too small; use at least 1000")
    out = Path(out_dir)
    writer = Writer(fmt)
    prepare_folder(out)
    streams = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7))
    rng_world, rng_rings, rng_gifts, rng_days, rng_bills, rng_ids, rng_buyers = streams
    report(on_progress, "world", 0, 3)
    w = World(orders, rng_world)
    report(on_progress, "world", 1, 3)
    plans = plan_rings(orders, seed)  # so that plan_rings(orders, seed) shows what is planted
    rings, planter = plant(w, rng_rings, plans)
    ring_member = np.zeros(w.n_buyers, bool)
    for r in rings:
        ring_member[r.buyers] = True
    gift_frame, gifts = corporate_gifts(w, rng_gifts, np.flatnonzero(ring_member))
    w.freeze()
    report(on_progress, "world", 3, 3)

    special = concat([r.frame for r in rings] + [gift_frame])
    n_chunks = max(1, math.ceil(orders / rows_per_file))
    day_counts, special_chunk = chunk_plan(rng_days, orders - len(special["t"]), n_chunks, special["t"])
    bills = Waybills(rng_bills, planter.blocks)
    tally = Tally(w)
    paths: list[str] = []
    next_id = 4_100_000_000_000_000_000 + int(rng_ids.integers(0, 10**17))
    chunk_seeds = np.random.SeedSequence([seed, 1]).spawn(n_chunks)
    written = 0
    report(on_progress, "orders", 0, orders)
    for k in range(n_chunks):
        rng = np.random.default_rng(chunk_seeds[k])
        honest = honest_chunk(w, rng, day_counts[k], tally)
        f = concat([honest, select(special, np.flatnonzero(special_chunk == k))])
        order = np.argsort(f["t"], kind="stable")
        f = select(f, order)
        table, next_id = render_orders(w, f, rng, bills, next_id)
        tally.add(f, table)  # after rendering, which drops what is not written (an unpaid order's payment)
        path = out / f"orders_{k + 1:04d}.{writer.ext}"
        writer.write(table, path)
        paths.append(str(path))
        written += len(f["t"])
        report(on_progress, "orders", written, orders)
        del table, f, honest

    report(on_progress, "entities", 0, 3)
    tally.order_phones = tally.phones()  # before the buyers file adds its own
    for name, table in (("buyers", buyers_table(w, tally, rng_buyers)),
                        ("sellers", sellers_table(w)), ("items", items_table(w))):
        path = out / f"{name}.{writer.ext}"
        writer.write(table, path)
        paths.append(str(path))
    report(on_progress, "entities", 3, 3)

    lookalikes, lookalike_mask = lookalike_groups(w, tally, gifts, ring_member)
    truth = build_truth(w, tally, bills, rings, lookalikes, seed, orders)
    write_truth(truth, out / "truth.json")
    write_truth_buyers(w, rings, lookalike_mask, out / "truth_buyers.csv")
    paths += [str(out / "truth.json"), str(out / "truth_buyers.csv")]
    counts = {
        "orders": written, "buyers": w.n_buyers, "sellers": w.n_sellers, "items": len(w.item_seller),
        "rings": len(rings), "ring_orders": int(sum(len(r.frame["t"]) for r in rings)),
        "ring_buyers": int(ring_member.sum()), "lookalike_groups": len(lookalikes), "order_files": n_chunks,
    }
    return GenerateResult(str(out), paths, counts, seed, fmt, time.perf_counter() - started)
