"""Detection quality against the synthetic generator's ground truth.

``ringwatch generate`` (:func:`ingest.generate.generate`) writes, next to the
data, the rings it planted and the honest look-alike groups it built
(``truth.json``, ``truth_buyers.csv``). :func:`evaluate_run` compares one
detection run with that truth:

* buyer-level ROC-AUC and average precision of ``buyer_scores`` against
  "is in a planted ring";
* ring recall: a planted ring is found when a flagged ring (score >= 0.5)
  has a buyer-set Jaccard similarity >= 0.5 with it (``recall_any`` also
  counts published rings below 0.5);
* ring precision: a flagged ring is right when most of its buyers are truly
  in rings;
* type accuracy over the found rings, recall per tactic;
* honest look-alike groups flagged: a group counts when one flagged ring
  holds most of its buyers.

:func:`ablation` reruns detection with each method switched off, and with
each method alone, to show what each adds. ``benchmarks/quality.py`` is the
command line over this module.

Example
-------
>>> from graph.evaluate import evaluate_run, load_truth  # doctest: +SKIP
>>> q = evaluate_run(open_store("duckdb:///data/store.duckdb"), load_truth("data/"))  # doctest: +SKIP
>>> q.recall, q.precision, q.matches.groupby("tactic")["found"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from graph.detect.pipeline import FLAG_SCORE, METHODS, DetectionResult, run_detection
from graph.store.base import GraphStore

__all__ = [
    "MATCH_JACCARD",
    "Truth",
    "Quality",
    "load_truth",
    "evaluate_run",
    "roc_auc",
    "average_precision",
    "precision_recall_curve",
    "jaccard",
    "ablation_variants",
    "ablation",
    "quality_table",
]

# A planted ring counts as found by a predicted ring at least this similar (buyer-set Jaccard).
MATCH_JACCARD = 0.5


# ---------------------------------------------------------------------------
# Rank metrics (no scikit-learn: each is a few lines of numpy).


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties); nan without both classes."""
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


def precision_recall_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of "score >= t" for every distinct score t, highest t first.

    Returns ``(precision, recall, thresholds)``, equal length; empty when ``y``
    has no positive.
    """
    y = np.asarray(y, bool)
    s = np.asarray(s, np.float64)
    if not y.any():
        return np.empty(0), np.empty(0), np.empty(0)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # last index of each distinct score
    tps = np.cumsum(ys)[last]
    return tps / (last + 1), tps / tps[-1], ss[last]


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision as scikit-learn computes it: sum over thresholds of (R_n - R_{n-1}) P_n."""
    precision, recall, _ = precision_recall_curve(y, s)
    if not len(recall):
        return float("nan")
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


# ---------------------------------------------------------------------------
# Inputs.


@dataclass(frozen=True)
class Truth:
    """What the generator planted.

    Attributes
    ----------
    rings : list of dict
        ``truth.json``'s planted rings: ``ring_id``, ``ring_type``, ``tactic``,
        ``buyers`` (ids) and more (see docs/generate.md).
    lookalikes : list of dict
        Honest look-alike groups: ``kind``, ``buyers``, ``identifiers``.
    buyers : pd.DataFrame
        ``truth_buyers.csv``: ``buyer_id, ring_id, ring_type, tactic,
        lookalike``, every buyer once (empty strings for "none").
    """

    rings: list[dict[str, Any]]
    lookalikes: list[dict[str, Any]]
    buyers: pd.DataFrame


def load_truth(folder: str | Path) -> Truth:
    """Read ``truth.json`` and ``truth_buyers.csv`` from a folder written by ``ringwatch generate``."""
    folder = Path(folder)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    buyers = pd.read_csv(folder / "truth_buyers.csv", dtype=str, keep_default_na=False)
    return Truth(rings=truth["rings"], lookalikes=truth["lookalikes"], buyers=buyers)


Run = GraphStore | DetectionResult | Mapping[str, pa.Table | pd.DataFrame]


def _result_frames(run: Run, run_id: str | None) -> dict[str, pd.DataFrame]:
    """rings, ring_members and buyer_scores of a run, as DataFrames."""
    names = ("rings", "ring_members", "buyer_scores")
    if isinstance(run, DetectionResult):
        tables: Mapping[str, Any] = run.tables()
    elif isinstance(run, Mapping):
        tables = run
    else:
        tables = {name: run.read_results(name, run_id) for name in names}
    return {n: tables[n].to_pandas() if isinstance(tables[n], pa.Table) else tables[n] for n in names}


# ---------------------------------------------------------------------------
# One run against the truth.


@dataclass(frozen=True)
class Quality:
    """Every quality figure of one detection run; rates are nan when undefined (nothing to count).

    Attributes
    ----------
    auc, ap : float
        Buyer-level ROC-AUC and average precision.
    recall : float
        Share of planted rings matched by a flagged ring.
    recall_any : float
        Share of planted rings matched by any published ring.
    precision : float
        Share of flagged rings whose buyers are mostly planted-ring members.
    type_accuracy : float
        Share of found rings whose ring_type is right.
    n_buyers, n_ring_buyers, n_true_rings, n_published, n_flagged, n_lookalikes_flagged : int
        Counts behind the rates.
    per_tactic : dict
        ``tactic -> (found, planted)``.
    lookalikes_flagged : dict
        ``kind -> (flagged, groups)``.
    matches : pd.DataFrame
        One row per planted ring: ``ring_id, ring_type, tactic, n_buyers,
        best_ring_id, jaccard`` (the flagged ring sharing most buyers; missing when
        none shares any), ``found``, ``type_correct``,
        ``best_any_jaccard`` (best published ring).
    buyers : pd.DataFrame
        ``buyer_id, score, in_ring``: every scored buyer with its truth label,
        for precision-recall plots.
    """

    auc: float
    ap: float
    recall: float
    recall_any: float
    precision: float
    type_accuracy: float
    n_buyers: int
    n_ring_buyers: int
    n_true_rings: int
    n_published: int
    n_flagged: int
    n_lookalikes_flagged: int
    per_tactic: dict[str, tuple[int, int]]
    lookalikes_flagged: dict[str, tuple[int, int]]
    matches: pd.DataFrame
    buyers: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The figures (no tables), JSON-ready, with the key names of ``benchmarks/quality.py``."""
        return {
            "buyers": self.n_buyers,
            "ring_buyers": self.n_ring_buyers,
            "auc": self.auc,
            "ap": self.ap,
            "true_rings": self.n_true_rings,
            "published": self.n_published,
            "flagged": self.n_flagged,
            "recall": self.recall,
            "recall_any": self.recall_any,
            "precision": self.precision,
            "type_accuracy": self.type_accuracy,
            "per_tactic": dict(self.per_tactic),
            "lookalikes_flagged": dict(self.lookalikes_flagged),
            "n_lookalikes_flagged": self.n_lookalikes_flagged,
        }


def _rate(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _best(true_buyers: set[str], predicted: dict[str, set[str]]) -> tuple[float, str | None]:
    # Ties go to the larger ring id, so repeated evaluations agree.
    return max(((jaccard(true_buyers, pb), rid) for rid, pb in predicted.items()), default=(0.0, None))


def evaluate_run(run: Run, truth: Truth | str | Path, *, run_id: str | None = None) -> Quality:
    """Compare one detection run with the generator's truth.

    Parameters
    ----------
    run : GraphStore, DetectionResult or mapping
        A store (its run ``run_id``, default the latest), the result of
        :func:`graph.detect.pipeline.run_detection`, or the run's tables by
        name (``rings``, ``ring_members``, ``buyer_scores``; Arrow or pandas).
    truth : Truth or path
        :func:`load_truth`'s result, or the generated data set's folder.
    run_id : str, optional
        Which published run to read when ``run`` is a store.

    Returns
    -------
    Quality
    """
    if not isinstance(truth, Truth):
        truth = load_truth(truth)
    frames = _result_frames(run, run_id)
    scores = frames["buyer_scores"]
    ring_of = {b: r["ring_id"] for r in truth.rings for b in r["buyers"]}
    y = scores["buyer_id"].map(lambda b: b in ring_of).to_numpy(bool)
    s = scores["score"].to_numpy(np.float64)

    ring_score = dict(zip(frames["rings"]["ring_id"], frames["rings"]["score"]))
    ring_type = dict(zip(frames["rings"]["ring_id"], frames["rings"]["ring_type"]))
    members = frames["ring_members"]
    members = members[members["entity_type"] == "buyer"]
    predicted = {rid: set(g["entity_id"]) for rid, g in members.groupby("ring_id")}
    flagged = {rid: b for rid, b in predicted.items() if ring_score[rid] >= FLAG_SCORE}

    rows = []
    for true in truth.rings:
        tb = set(true["buyers"])
        best_any, _ = _best(tb, predicted)
        best_j, best_id = _best(tb, flagged)
        found = best_j >= MATCH_JACCARD
        rows.append({
            "ring_id": true["ring_id"], "ring_type": true["ring_type"], "tactic": true["tactic"],
            "n_buyers": len(tb), "best_ring_id": best_id if best_j > 0 else None, "jaccard": best_j, "found": found,
            "type_correct": bool(found and ring_type[best_id] == true["ring_type"]),
            "best_any_jaccard": best_any,
        })
    matches = pd.DataFrame(rows, columns=["ring_id", "ring_type", "tactic", "n_buyers", "best_ring_id",
                                          "jaccard", "found", "type_correct", "best_any_jaccard"])
    n_found = int(matches["found"].sum())

    right = sum(sum(b in ring_of for b in pb) * 2 > len(pb) for pb in flagged.values())

    look_flagged: Counter[str] = Counter()
    look_total = Counter(g["kind"] for g in truth.lookalikes)
    flagged_owner = {b: rid for rid, pb in flagged.items() for b in pb}
    for group in truth.lookalikes:
        held = Counter(flagged_owner[b] for b in group["buyers"] if b in flagged_owner)
        if held and held.most_common(1)[0][1] * 2 > len(group["buyers"]):
            look_flagged[group["kind"]] += 1

    tactics = Counter(r["tactic"] for r in truth.rings)
    found_by_tactic = Counter(matches.loc[matches["found"], "tactic"])
    return Quality(
        auc=roc_auc(y, s),
        ap=average_precision(y, s),
        recall=_rate(n_found, len(truth.rings)),
        recall_any=_rate(int((matches["best_any_jaccard"] >= MATCH_JACCARD).sum()), len(truth.rings)),
        precision=_rate(right, len(flagged)),
        type_accuracy=_rate(int(matches["type_correct"].sum()), n_found),
        n_buyers=len(scores),
        n_ring_buyers=int(y.sum()),
        n_true_rings=len(truth.rings),
        n_published=len(predicted),
        n_flagged=len(flagged),
        n_lookalikes_flagged=sum(look_flagged.values()),
        per_tactic={t: (found_by_tactic[t], n) for t, n in sorted(tactics.items())},
        lookalikes_flagged={k: (look_flagged[k], n) for k, n in sorted(look_total.items())},
        matches=matches,
        buyers=pd.DataFrame({"buyer_id": scores["buyer_id"].to_numpy(), "score": s, "in_ring": y}),
    )


# ---------------------------------------------------------------------------
# Ablation.


def ablation_variants(methods: Sequence[str] = METHODS) -> dict[str, tuple[str, ...]]:
    """``"all methods"``, then ``"without m"`` and ``"only m"`` for each method: name -> methods to run."""
    variants = {"all methods": tuple(methods)}
    variants.update({f"without {m}": tuple(x for x in methods if x != m) for m in methods})
    variants.update({f"only {m}": (m,) for m in methods})
    return variants


def ablation(
    store: GraphStore,
    truth: Truth | str | Path,
    *,
    variants: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
) -> dict[str, tuple[Quality, DetectionResult]]:
    """Run detection once per variant (nothing is published) and evaluate each run.

    Parameters
    ----------
    store : GraphStore
        The ingested data set; its published runs are left as they are.
    truth : Truth or path
        The data set's truth (:func:`load_truth`).
    variants : mapping, optional
        Name -> detection methods; default :func:`ablation_variants`.
    seed : int
        Detection seed.

    Returns
    -------
    dict
        Name -> ``(Quality, DetectionResult)``, in the order of ``variants``.
        Read it with :func:`quality_table`: a method whose removal lowers
        recall finds rings no other method finds; one whose removal raises
        precision or lowers look-alikes flagged adds false alarms.
    """
    if not isinstance(truth, Truth):
        truth = load_truth(truth)
    out = {}
    for name, methods in (variants or ablation_variants()).items():
        result = run_detection(store, seed=seed, methods=methods, publish=False)
        out[name] = (evaluate_run(result, truth), result)
    return out


def quality_table(qualities: Mapping[str, Quality | tuple[Quality, Any]]) -> pd.DataFrame:
    """One row per named run with its scalar figures (an :func:`ablation` result works as is)."""
    rows = {}
    for name, q in qualities.items():
        q = q[0] if isinstance(q, tuple) else q
        rows[name] = {k: v for k, v in q.to_dict().items() if not isinstance(v, dict)}
    return pd.DataFrame.from_dict(rows, orient="index")
