"""graph.evaluate: quality figures on hand-built runs, and one generated data set end to end."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from graph.detect.pipeline import METHODS, run_detection
from graph.evaluate import (
    Truth,
    ablation,
    ablation_variants,
    average_precision,
    evaluate_run,
    load_truth,
    precision_recall_curve,
    quality_table,
    roc_auc,
)


def _truth(rings: dict[str, tuple[str, str, list[str]]], lookalikes: list[tuple[str, list[str]]] = ()) -> Truth:
    """rings: id -> (ring_type, tactic, buyers); lookalikes: (kind, buyers)."""
    return Truth(
        rings=[{"ring_id": rid, "ring_type": t, "tactic": tac, "buyers": b} for rid, (t, tac, b) in rings.items()],
        lookalikes=[{"kind": k, "buyers": b} for k, b in lookalikes],
        buyers=pd.DataFrame(),
    )


def _run(rings: dict[str, tuple[str, float, list[str]]], scores: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
    """A run's tables. rings: id -> (ring_type, score, buyers); buyers not scored get the ring's score."""
    scored = {b: s for _, s, bs in rings.values() for b in bs} | (scores or {})
    return {
        "rings": pd.DataFrame([(rid, t, s) for rid, (t, s, _) in rings.items()], columns=["ring_id", "ring_type", "score"]),
        "ring_members": pd.DataFrame(
            [(rid, "buyer", b) for rid, (_, _, bs) in rings.items() for b in bs]
            + [(rid, "seller", "s1") for rid in rings],  # sellers are not buyers: ignored
            columns=["ring_id", "entity_type", "entity_id"],
        ),
        "buyer_scores": pd.DataFrame(list(scored.items()), columns=["buyer_id", "score"]),
    }


def _assert_same(a, b) -> None:
    """Two evaluations agree on every figure (nan equal to nan)."""
    pd.testing.assert_frame_equal(quality_table({"run": a}), quality_table({"run": b}))
    assert (a.per_tactic, a.lookalikes_flagged) == (b.per_tactic, b.lookalikes_flagged)


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


# ---------------------------------------------------------------------------
# Rank metrics.


def test_roc_auc_counts_ordered_pairs_and_half_for_ties():
    # Positives 0.9, 0.4; negatives 0.1, 0.6: three of four pairs in order.
    assert roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.6]) == pytest.approx(0.75)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))


def test_average_precision_by_hand():
    # Ranked: TP (P 1, R .5), FP, TP (P 2/3, R 1): AP = .5 * 1 + .5 * 2/3.
    assert average_precision([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1]) == pytest.approx(0.5 + 1 / 3)
    # A tie is one threshold: both in, precision 1/2.
    assert average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_precision_recall_curve_steps_down_the_distinct_scores():
    precision, recall, thresholds = precision_recall_curve([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.4])
    assert list(thresholds) == [0.9, 0.6, 0.4]
    assert list(recall) == [0.5, 0.5, 1.0]
    assert list(precision) == pytest.approx([1.0, 0.5, 0.5])


# ---------------------------------------------------------------------------
# Rings against the truth.


def test_a_planted_ring_is_found_at_jaccard_exactly_one_half_not_below():
    planted = _ids("a", 49)
    truth = _truth({"T1": ("brushing", "click_farm", planted[:3]), "T2": ("brushing", "sock_puppet", planted)})
    q = evaluate_run(_run({
        "R1": ("brushing", 0.9, planted[:3] + _ids("x", 3)),  # 3 / 6 = 0.5 with T1
        "R2": ("brushing", 0.9, planted + _ids("y", 51)),  # 49 / 100 = 0.49 with T2 (and less with T1)
    }), truth)
    found = q.matches.set_index("ring_id")
    assert found.loc["T1", "jaccard"] == 0.5 and found.loc["T1", "found"]
    assert found.loc["T2", "jaccard"] == pytest.approx(0.49) and not found.loc["T2", "found"]
    assert q.recall == 0.5
    assert q.per_tactic == {"click_farm": (1, 1), "sock_puppet": (0, 1)}


def test_only_flagged_rings_count_for_recall_but_any_published_for_recall_any():
    truth = _truth({"T1": ("brushing", "low_and_slow", ["a", "b", "c"])})
    q = evaluate_run(_run({"R1": ("brushing", 0.3, ["a", "b", "c"])}), truth)
    assert q.recall == 0.0 and q.recall_any == 1.0
    assert q.n_published == 1 and q.n_flagged == 0
    assert math.isnan(q.precision) and math.isnan(q.type_accuracy)


def test_type_accuracy_over_found_rings():
    truth = _truth({
        "T1": ("brushing", "sock_puppet", ["a", "b"]),
        "T2": ("malicious_buyers", "refund_abuse", ["c", "d"]),
        "T3": ("brushing", "seller_swap", ["e", "f"]),  # not found: not in type accuracy
    })
    q = evaluate_run(_run({
        "R1": ("brushing", 0.8, ["a", "b"]),
        "R2": ("brushing", 0.8, ["c", "d"]),  # found, wrong type
    }), truth)
    assert q.recall == pytest.approx(2 / 3)
    assert q.type_accuracy == 0.5
    matches = q.matches.set_index("ring_id")
    assert matches["type_correct"].to_dict() == {"T1": True, "T2": False, "T3": False}
    assert pd.isna(matches.loc["T3", "best_ring_id"])  # no flagged ring shares a buyer with it


def test_a_flagged_ring_is_right_when_most_of_its_buyers_are_planted():
    truth = _truth({"T1": ("brushing", "click_farm", ["a", "b", "c", "d"])})
    q = evaluate_run(_run({
        "R1": ("brushing", 0.7, ["a", "b", "h1"]),  # 2 of 3: right
        "R2": ("brushing", 0.7, ["c", "h2"]),  # 1 of 2, not most: wrong
        "R3": ("brushing", 0.2, ["h3", "h4"]),  # not flagged: not counted
    }), truth)
    assert q.n_flagged == 2
    assert q.precision == 0.5


def test_look_alike_group_is_flagged_when_one_flagged_ring_holds_most_of_it():
    truth = _truth(
        {"T1": ("brushing", "sock_puppet", ["a", "b"])},
        [("family", ["f1", "f2", "f3"]), ("office", ["o1", "o2", "o3", "o4"]), ("parcel_station", ["p1", "p2", "p3"])],
    )
    q = evaluate_run(_run({
        "R1": ("brushing", 0.6, ["f1", "f2", "x"]),  # holds 2 of 3 of the family: flagged
        "R2": ("brushing", 0.9, ["o1", "o2"]),  # 2 of 4 of the office: not most
        "R3": ("brushing", 0.4, ["p1", "p2", "p3"]),  # the whole station, but not flagged
    }), truth)
    assert q.lookalikes_flagged == {"family": (1, 1), "office": (0, 1), "parcel_station": (0, 1)}
    assert q.n_lookalikes_flagged == 1


def test_buyer_figures_use_every_scored_buyer():
    truth = _truth({"T1": ("brushing", "sock_puppet", ["a", "b"])})
    q = evaluate_run(_run({"R1": ("brushing", 0.9, ["a", "b"])}, {"h1": 0.1, "h2": 0.95}), truth)
    assert q.n_buyers == 4 and q.n_ring_buyers == 2
    assert q.auc == pytest.approx(0.5)  # both members outrank h1, h2 outranks both: 2 of 4 pairs in order
    assert q.buyers.set_index("buyer_id")["in_ring"].to_dict() == {"a": True, "b": True, "h1": False, "h2": False}


def test_quality_table_has_one_row_per_run():
    truth = _truth({"T1": ("brushing", "sock_puppet", ["a", "b"])})
    runs = {"good": evaluate_run(_run({"R1": ("brushing", 0.9, ["a", "b"])}), truth),
            "empty": evaluate_run(_run({}, {"a": 0.0, "b": 0.0}), truth)}
    table = quality_table(runs)
    assert list(table.index) == ["good", "empty"]
    assert table.loc["good", "recall"] == 1.0 and table.loc["empty", "recall"] == 0.0


def test_ablation_variants_switch_each_method_off_and_on_alone():
    v = ablation_variants(("identity", "dense_block"))
    assert v == {
        "all methods": ("identity", "dense_block"),
        "without identity": ("dense_block",),
        "without dense_block": ("identity",),
        "only identity": ("identity",),
        "only dense_block": ("dense_block",),
    }


# ---------------------------------------------------------------------------
# One small generated data set.


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from graph.store import open_store
    from ingest.generate import generate
    from ingest.pipeline import ingest_paths

    root = tmp_path_factory.mktemp("evaluate")
    generate(root / "data", orders=5_000, seed=5)
    store = open_store(f"duckdb://{root / 'store.duckdb'}")
    ingest_paths([root / "data"], store, rejects_path=root / "rejects.csv")
    result = run_detection(store, seed=0)
    return store, result, root / "data"


def test_a_generated_run_scores_in_range_and_consistently(generated):
    store, result, folder = generated
    truth = load_truth(folder)
    q = evaluate_run(result, truth)
    for rate in (q.auc, q.ap, q.recall, q.recall_any, q.precision, q.type_accuracy):
        assert 0.0 <= rate <= 1.0
    # Planted rings are denser than the marketplace around them.
    assert q.auc > 0.5
    assert q.recall <= q.recall_any
    assert q.n_true_rings == len(truth.rings) == len(q.matches)
    assert sum(f for f, _ in q.per_tactic.values()) == q.matches["found"].sum() == round(q.recall * q.n_true_rings)
    assert sum(n for _, n in q.per_tactic.values()) == q.n_true_rings
    # truth_buyers.csv and truth.json agree on who is in a ring.
    in_ring = set(truth.buyers.loc[truth.buyers["ring_id"] != "", "buyer_id"])
    assert q.n_ring_buyers == len(in_ring & set(q.buyers["buyer_id"]))
    # The published run read back from the store (and the folder as truth) gives the same figures.
    _assert_same(evaluate_run(store, folder), q)


def test_ablation_publishes_nothing_and_its_full_run_matches_evaluate_run(generated):
    store, result, folder = generated
    runs_before = [r["run_id"] for r in store.runs()]
    out = ablation(store, folder, variants={"all methods": METHODS, "only dense_block": ("dense_block",)})
    assert [r["run_id"] for r in store.runs()] == runs_before
    _assert_same(out["all methods"][0], evaluate_run(result, folder))
    assert out["only dense_block"][1].run["parameters"]["methods"] == ["dense_block"]
