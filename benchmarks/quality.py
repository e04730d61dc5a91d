"""Detection quality against ``ringwatch generate``'s ground truth.

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

# Run as a script, Python puts benchmarks/ first on the path, where benchmarks/ingest.py
# would shadow the ingest package: the repository root goes first instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from graph.detect.pipeline import FLAG_SCORE, METHODS, DetectionResult, run_detection  # noqa: E402
from graph.store import open_store  # noqa: E402
from ingest.generate import generate  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402

THIN_COLUMNS = ["order_id", "buyer_id", "seller_id", "created_at"]


# ---------------------------------------------------------------------------
# Metrics (no scikit-learn: the two rank metrics are a few lines each).


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties)."""
    y = np.asarray(y, bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = np.asarray(s)[order]
    start = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    stop = np.r_[start[1:], len(s)]
    mid = (start + stop + 1) / 2.0  # 1-based mid-rank of each tie run
    ranks[order] = np.repeat(mid, stop - start)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision as scikit-learn computes it: sum over thresholds of (R_n - R_{n-1}) P_n."""
    y = np.asarray(y, bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(s), kind="mergesort")
    ys, ss = y[order], np.asarray(s)[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # last index of each distinct score
    tps = np.cumsum(ys)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def score_run(result: DetectionResult, truth: dict[str, Any]) -> dict[str, Any]:
    """Every quality figure of one detection run against the generator's truth."""
    scores = result.buyer_scores.to_pandas()
    ring_of = {b: r["ring_id"] for r in truth["rings"] for b in r["buyers"]}
    y = scores["buyer_id"].map(lambda b: b in ring_of).to_numpy(bool)
    s = scores["score"].to_numpy(np.float64)

    rings = result.rings.to_pandas().set_index("ring_id")
    members = result.ring_members.to_pandas()
    members = members[members["entity_type"] == "buyer"]
    predicted = {rid: set(g["entity_id"]) for rid, g in members.groupby("ring_id")}
    flagged = {rid: b for rid, b in predicted.items() if rings.loc[rid, "score"] >= FLAG_SCORE}

    found, found_any, typed, per_tactic = 0, 0, 0, Counter()
    tactics = Counter(r["tactic"] for r in truth["rings"])
    for true in truth["rings"]:
        tb = set(true["buyers"])
        best = max(((_jaccard(tb, pb), rid) for rid, pb in predicted.items()), default=(0.0, None))
        best_f = max(((_jaccard(tb, pb), rid) for rid, pb in flagged.items()), default=(0.0, None))
        found_any += best[0] >= 0.5
        if best_f[0] >= 0.5:
            found += 1
            per_tactic[true["tactic"]] += 1
            typed += rings.loc[best_f[1], "ring_type"] == true["ring_type"]
    right = sum(
        sum(b in ring_of for b in pb) * 2 > len(pb) for pb in flagged.values()
    )
    look_flagged = Counter()
    look_total = Counter(g["kind"] for g in truth["lookalikes"])
    flagged_owner = {b: rid for rid, pb in flagged.items() for b in pb}
    for group in truth["lookalikes"]:
        held = Counter(flagged_owner[b] for b in group["buyers"] if b in flagged_owner)
        if held and held.most_common(1)[0][1] * 2 > len(group["buyers"]):
            look_flagged[group["kind"]] += 1
    n_true = len(truth["rings"])
    return {
        "buyers": len(scores),
        "ring_buyers": int(y.sum()),
        "auc": roc_auc(y, s),
        "ap": average_precision(y, s),
        "true_rings": n_true,
        "published": len(predicted),
        "flagged": len(flagged),
        "recall": found / n_true if n_true else float("nan"),
        "recall_any": found_any / n_true if n_true else float("nan"),
        "precision": right / len(flagged) if flagged else float("nan"),
        "type_accuracy": typed / found if found else float("nan"),
        "per_tactic": {t: (per_tactic[t], n) for t, n in sorted(tactics.items())},
        "lookalikes_flagged": {k: (look_flagged[k], n) for k, n in sorted(look_total.items())},
        "n_lookalikes_flagged": sum(look_flagged.values()),
        "detect_seconds": round(sum(result.timings.values()), 2),
    }


# ---------------------------------------------------------------------------
# Data sets.


def _thin_copy(src: Path, dst: Path) -> None:
    """Orders with only order/buyer/seller/time; no buyers, sellers or items files."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("orders*.csv")):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=THIN_COLUMNS, column_types={c: pa.string() for c in THIN_COLUMNS}))
        pacsv.write_csv(table, dst / path.name)


def dataset(workdir: Path, orders: int, seed: int, *, thin: bool) -> tuple[str, dict[str, Any], dict[str, float]]:
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
    truth = json.loads((full / "truth.json").read_text(encoding="utf-8"))
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

    variants: list[tuple[str, tuple[str, ...]]] = [("all methods", METHODS)]
    if args.ablation:
        variants += [(f"without {m}", tuple(x for x in METHODS if x != m)) for m in METHODS]
        variants += [(f"only {m}", (m,)) for m in METHODS]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    per_set: list[tuple[str, dict[str, Any]]] = []
    for seed in seeds:
        uri, truth, _ = dataset(args.workdir, args.orders, seed, thin=args.thin)
        store = open_store(uri)
        for name, methods in variants:
            result = run_detection(store, seed=0, methods=methods, publish=False)
            m = score_run(result, truth)
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
        for name, _ in variants:
            s = summary(results[name])
            print(f"{name:<26}{_fmt(s['auc']):>7}{_fmt(s['ap']):>7}{_fmt(s['recall']):>8}{_fmt(s['precision']):>7}"
                  f"{_fmt(s['type_accuracy']):>7}{s['n_lookalikes_flagged']:>7}")
    if args.json:
        args.json.write_text(json.dumps({"per_set": per_set, "summary": {k: summary(v) for k, v in results.items()}},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
