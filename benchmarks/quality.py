"""Detection quality against ``ringwatch generate``'s ground truth.

A command line over :mod:`graph.evaluate`, where every figure is defined.
For each seed: generate a data set with planted rings and honest look-alikes,
ingest it into a fresh embedded store, run detection, and print

* buyer-level ROC-AUC and average precision (``buyer_scores`` against
  "is in a planted ring");
* ring recall: a planted ring is found when a flagged ring (score >= 0.5) has
  a buyer-set Jaccard similarity >= 0.5 with it (``recall_any`` also counts
  published rings below 0.5);
* ring precision: a flagged ring is right when most of its buyers are
  truly in rings;
* type accuracy over the found rings, per-tactic recall;
* honest look-alike groups flagged: a group counts when a flagged ring holds
  most of its buyers.

``--thin`` drops every optional column (orders keep order_id, buyer_id,
seller_id, created_at; no buyers or items files). ``--ablation`` reruns
detection with each method switched off and prints what each adds.

Run: ``.venv/bin/python benchmarks/quality.py --orders 100000 --seeds 0,1,2,3,4 [--thin] [--ablation]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.detect.pipeline import METHODS  # noqa: E402
from graph.evaluate import Truth, ablation, ablation_variants, load_truth  # noqa: E402
from graph.store import open_store  # noqa: E402
from ingest.generate import generate  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402

THIN_COLUMNS = ["order_id", "buyer_id", "seller_id", "created_at"]


# ---------------------------------------------------------------------------
# Data sets.


def _thin_copy(src: Path, dst: Path) -> None:
    """Orders with only order/buyer/seller/time; no buyers, sellers or items files."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("orders*.csv")):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=THIN_COLUMNS, column_types={c: pa.string() for c in THIN_COLUMNS}))
        pacsv.write_csv(table, dst / path.name)


def dataset(workdir: Path, orders: int, seed: int, *, thin: bool) -> tuple[str, Truth, dict[str, float]]:
    """Generate (once) and ingest (once) a data set; returns its store URI, truth and timings."""
    full = workdir / f"g{orders}_s{seed}"
    timings: dict[str, float] = {}
    if not (full / "truth.json").exists():
        t = time.perf_counter()
        generate(full, orders=orders, seed=seed)
        timings["generate"] = time.perf_counter() - t
    src = full
    if thin:
        src = workdir / f"g{orders}_s{seed}_thin"
        if not src.exists():
            _thin_copy(full, src)
    db = src / "store.duckdb"
    if not db.exists():
        t = time.perf_counter()
        tmp = src / "store.tmp.duckdb"
        tmp.unlink(missing_ok=True)
        inputs = sorted(p for p in src.iterdir() if p.name.startswith(("orders", "buyers", "sellers", "items")))
        ingest_paths(inputs, open_store(f"duckdb://{tmp}"), rejects_path=src / "rejects.csv")
        shutil.move(tmp, db)
        timings["ingest"] = time.perf_counter() - t
    truth = load_truth(full)
    return f"duckdb://{db}", truth, timings


# ---------------------------------------------------------------------------
# Printing.


def _fmt(x: float) -> str:
    return "  n/a" if x != x else f"{x:5.3f}"


def print_table(rows: list[tuple[str, dict[str, Any]]], out=sys.stdout) -> None:
    head = f"{'data set':<24}{'AUC':>7}{'AP':>7}{'recall':>8}{'rec.any':>8}{'prec.':>7}{'type':>7}" \
           f"{'rings':>7}{'flag':>6}{'looks':>7}{'sec':>7}"
    print(head, file=out)
    for name, m in rows:
        print(f"{name:<24}{_fmt(m['auc']):>7}{_fmt(m['ap']):>7}{_fmt(m['recall']):>8}{_fmt(m['recall_any']):>8}"
              f"{_fmt(m['precision']):>7}{_fmt(m['type_accuracy']):>7}{m['true_rings']:>7}{m['flagged']:>6}"
              f"{m['n_lookalikes_flagged']:>7}{m['detect_seconds']:>7.1f}", file=out)


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in rows if r[key] == r[key]]
    return float(np.mean(vals)) if vals else float("nan")


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: _mean(rows, k) for k in ("auc", "ap", "recall", "recall_any", "precision", "type_accuracy", "detect_seconds")}
    out.update({
        "true_rings": sum(r["true_rings"] for r in rows),
        "flagged": sum(r["flagged"] for r in rows),
        "n_lookalikes_flagged": sum(r["n_lookalikes_flagged"] for r in rows),
    })
    tactic: Counter = Counter()
    total: Counter = Counter()
    looks: Counter = Counter()
    for r in rows:
        for t, (f, n) in r["per_tactic"].items():
            tactic[t] += f
            total[t] += n
        for k, (f, _n) in r["lookalikes_flagged"].items():
            looks[k] += f
    out["per_tactic"] = {t: (tactic[t], total[t]) for t in sorted(total)}
    out["lookalikes_flagged"] = dict(sorted(looks.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated generator seeds")
    parser.add_argument("--thin", action="store_true", help="drop every optional column")
    parser.add_argument("--ablation", action="store_true", help="rerun with each method switched off")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ringwatch-quality"),
                        help="generated data and stores are kept here and reused")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.workdir.mkdir(parents=True, exist_ok=True)

    variants = ablation_variants(METHODS) if args.ablation else {"all methods": METHODS}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    per_set: list[tuple[str, dict[str, Any]]] = []
    for seed in seeds:
        uri, truth, _ = dataset(args.workdir, args.orders, seed, thin=args.thin)
        store = open_store(uri)
        for name, (quality, result) in ablation(store, truth, variants=variants, seed=0).items():
            m = {**quality.to_dict(), "detect_seconds": round(sum(result.timings.values()), 2)}
            results[name].append(m)
            if name == "all methods":
                per_set.append((f"{args.orders // 1000}k seed {seed}{' thin' if args.thin else ''}", m))
        print(f"done seed {seed}", file=sys.stderr)

    print(f"\nQuality at {args.orders:,} orders{' (thin export: order/buyer/seller/time)' if args.thin else ''}\n")
    print_table(per_set)
    main_summary = summary(results["all methods"])
    print(f"\nmean over {len(seeds)} seeds: AUC {_fmt(main_summary['auc'])}  AP {_fmt(main_summary['ap'])}  "
          f"recall {_fmt(main_summary['recall'])}  precision {_fmt(main_summary['precision'])}  "
          f"type accuracy {_fmt(main_summary['type_accuracy'])}  look-alike groups flagged "
          f"{main_summary['n_lookalikes_flagged']}")
    print("\nper-tactic recall: " + ", ".join(f"{t} {f}/{n}" for t, (f, n) in main_summary["per_tactic"].items()))
    print("look-alike groups flagged by kind: " + (", ".join(f"{k} {v}" for k, v in main_summary["lookalikes_flagged"].items() if v) or "none"))
    if args.ablation:
        print("\nAblation (means over seeds)\n")
        print(f"{'methods':<26}{'AUC':>7}{'AP':>7}{'recall':>8}{'prec.':>7}{'type':>7}{'looks':>7}")
        for name in variants:
            s = summary(results[name])
            print(f"{name:<26}{_fmt(s['auc']):>7}{_fmt(s['ap']):>7}{_fmt(s['recall']):>8}{_fmt(s['precision']):>7}"
                  f"{_fmt(s['type_accuracy']):>7}{s['n_lookalikes_flagged']:>7}")
    if args.json:
        args.json.write_text(json.dumps({"per_set": per_set, "summary": {k: summary(v) for k, v in results.items()}},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
