"""A detection run end to end: read the store, detect, score, keep ids stable, publish."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from graph.detect.pipeline import FLAG_SCORE, run_detection
from graph.errors import EmptyGraphError
from graph.model import MEMBER_ENTITY_TYPES, RING_TYPES
from graph.rings import ring_id
from graph.schema import RESULT_SCHEMAS
from graph.store import open_store
from tests.test_score import RING, TARGET, planted_market

NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def _store(path, **market):
    store = open_store(f"duckdb://{path}")
    orders, buyers = planted_market(**market)
    store.upsert_orders(orders)
    store.upsert_entities("buyer", buyers)
    return store


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A store with the planted market and one published run."""
    path = tmp_path_factory.mktemp("planted") / "store.duckdb"
    store = _store(path)
    return store, run_detection(store, now=NOW)


def test_the_planted_ring_is_found_typed_and_explained(planted):
    _, result = planted
    rings = result.rings.to_pandas()
    top = rings.iloc[0]
    members = result.ring_members.to_pandas()
    buyers = sorted(members[(members["ring_id"] == top["ring_id"]) & (members["entity_type"] == "buyer")]["entity_id"])
    assert buyers == sorted(RING)
    assert top["score"] >= FLAG_SCORE and top["ring_type"] == "brushing"
    assert top["target_seller_ids"] == TARGET
    assert top["change"] == "new" and top["ring_id"] == ring_id(RING)
    held = members[members["ring_id"] == top["ring_id"]]
    assert ("device", "dev-ring") in set(zip(held["entity_type"], held["entity_id"], strict=True))
    assert ("seller", TARGET) in set(zip(held["entity_type"], held["entity_id"], strict=True))


def test_shops_regular_customers_are_proposed_but_never_flagged(planted):
    """The shop-side view proposes every shop's returning customers; honest regulars stay below the flag."""
    store, result = planted
    assert result.run["methods"]["shop"]["ran"] and result.run["methods"]["shop"]["candidates"] > 0
    orders = store.read_table("orders", ["buyer_id", "seller_id"]).to_pandas()
    per_pair = orders.groupby(["buyer_id", "seller_id"]).size()
    regulars = set(per_pair[per_pair >= 2].index.get_level_values(0)) - set(RING)
    assert len(regulars) > 100  # popular shops have many returning honest customers
    scores = result.buyer_scores.to_pandas().set_index("buyer_id")["score"]
    assert scores.reindex(sorted(regulars)).lt(FLAG_SCORE).all()
    assert scores.reindex(RING).ge(FLAG_SCORE).all()


def test_published_tables_are_consistent(planted):
    store, result = planted
    assert store.runs()[0]["run_id"] == result.run_id
    for name, schema in RESULT_SCHEMAS.items():
        published = store.read_results(name)
        assert published.schema.equals(schema)
        assert published.num_rows == getattr(result, name).num_rows
    rings = result.rings.to_pandas()
    members = result.ring_members.to_pandas()
    scores = result.buyer_scores.to_pandas()
    stored_buyers = set(store.read_table("orders", ["buyer_id"])["buyer_id"].to_pylist()) | set(
        store.read_table("buyers", ["buyer_id"])["buyer_id"].to_pylist()
    )
    buyer_members = members[members["entity_type"] == "buyer"]
    assert set(buyer_members["entity_id"]) <= stored_buyers  # every member exists in the store
    assert set(members["entity_type"]) <= set(MEMBER_ENTITY_TYPES)
    assert rings["score"].between(0, 1).all() and members["member_score"].between(0, 1).all()
    assert set(rings["ring_type"]) <= set(RING_TYPES) and rings["ring_id"].is_unique
    counted = buyer_members.groupby("ring_id").size()
    assert (rings.set_index("ring_id")["n_buyers"] == counted.reindex(rings["ring_id"]).to_numpy()).all()
    assert list(scores["buyer_id"].sort_values()) == sorted(stored_buyers)  # every buyer exactly once
    assert scores["score"].between(0, 1).all()
    in_ring = scores.dropna(subset=["ring_id"])
    assert set(in_ring["ring_id"]) <= set(rings["ring_id"])
    assert result.run["n_rings"] == len(rings) and result.run["n_flagged"] == int((rings["score"] >= FLAG_SCORE).sum())
    evidence = result.ring_evidence.to_pandas()
    assert (evidence.groupby("ring_id")["weight"].sum() <= 1 + 1e-6).all()


def test_two_runs_on_the_same_store_publish_identical_tables(tmp_path):
    store = _store(tmp_path / "a.duckdb")
    first = run_detection(store, seed=3, now=NOW)
    second = run_detection(store, seed=3, now=NOW + timedelta(hours=1))
    for name in ("ring_members", "ring_evidence", "buyer_scores"):
        assert getattr(first, name).equals(getattr(second, name)), name
    # Same rings and numbers; only "change" tells that they were seen before.
    a, b = first.rings.drop_columns(["change"]), second.rings.drop_columns(["change"])
    assert a.equals(b)
    assert set(second.rings["change"].to_pylist()) == {"unchanged"}
    assert second.run["previous_run_id"] == first.run_id


def test_ring_ids_are_stable_and_growth_is_reported(tmp_path):
    path = tmp_path / "s.duckdb"
    store = _store(path)
    first = run_detection(store, now=NOW).rings.to_pandas().iloc[0]
    # A sixth account joins the ring: same device, same shop, same rounds.
    grown, _ = planted_market(ring=RING + ["ring5"])
    store.upsert_orders(grown)
    again = run_detection(store, now=NOW + timedelta(days=1)).rings.to_pandas()
    row = again[again["ring_id"] == first["ring_id"]]
    assert len(row) == 1 and row.iloc[0]["change"] == "grown" and row.iloc[0]["n_buyers"] == first["n_buyers"] + 1


def test_cli_json_equals_the_library_result(tmp_path):
    _store(tmp_path / "cli.duckdb")
    shutil.copy(tmp_path / "cli.duckdb", tmp_path / "lib.duckdb")
    out = CliRunner().invoke(cli, ["detect", "--store", f"duckdb://{tmp_path / 'cli.duckdb'}", "--seed", "2", "--json"])
    assert out.exit_code == 0, out.output
    from_cli = json.loads(out.stdout)
    from_lib = json.loads(json.dumps(run_detection(open_store(f"duckdb://{tmp_path / 'lib.duckdb'}"), seed=2).to_dict(), default=str))
    volatile = ("run_id", "started_at", "finished_at", "timings")
    assert {k: v for k, v in from_cli.items() if k not in volatile} == {k: v for k, v in from_lib.items() if k not in volatile}
    assert from_cli["rings"] and from_cli["rings"][0]["evidence"]


def test_cli_prints_the_top_rings(tmp_path):
    _store(tmp_path / "t.duckdb")
    out = CliRunner().invoke(cli, ["detect", "--store", f"duckdb://{tmp_path / 't.duckdb'}"])
    assert out.exit_code == 0, out.output
    assert ring_id(RING) in out.stdout and "scoring 0.5 or more" in out.stdout


def test_thin_export_runs_on_order_buyer_seller_time_only(tmp_path):
    store = open_store(f"duckdb://{tmp_path / 'thin.duckdb'}")
    orders, _ = planted_market()
    keep = ("order_id", "buyer_id", "seller_id", "created_at")
    thin = pa.table(
        [orders[f.name] if f.name in keep else pa.nulls(orders.num_rows, f.type) for f in orders.schema],
        schema=orders.schema,
    )
    store.upsert_orders(thin)
    result = run_detection(store, now=NOW)
    assert result.run["signals_available"] == ["target_concentration", "shared_targets", "lockstep"]
    assert result.run["methods"]["identity"] == {"ran": False, "reason": result.run["methods"]["identity"]["reason"]}
    assert "identifier" in result.run["methods"]["identity"]["reason"]
    assert result.buyer_scores.num_rows == len(set(thin["buyer_id"].to_pylist()))


def test_an_empty_store_is_refused(tmp_path):
    with pytest.raises(EmptyGraphError):
        run_detection(open_store(f"duckdb://{tmp_path / 'empty.duckdb'}"))


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown detection methods"):
        run_detection(open_store(f"duckdb://{tmp_path / 'x.duckdb'}"), methods=["astrology"])


def test_golden_tiny_seeded_case(tmp_path):
    """One pinned example: the planted market, seed 0."""
    store = _store(tmp_path / "golden.duckdb")
    result = run_detection(store, seed=0, now=NOW)
    rings = result.rings.to_pylist()
    assert len(rings) == 1
    top = rings[0]
    assert (top["ring_id"], top["ring_type"], top["n_buyers"], top["n_orders"]) == ("R-869c9adb26", "brushing", 5, 40)
    assert (top["score"], top["target_seller_ids"]) == (1.0, TARGET)
    assert top["top_signals"] == "account_age;fast_confirmation;off_price_orders"
    evidence = result.ring_evidence.to_pandas().head(3)
    assert evidence["signal"].tolist() == ["account_age", "fast_confirmation", "off_price_orders"]
    assert evidence["weight"].round(4).tolist() == [0.1852, 0.1636, 0.1636]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A small data set from ``ringwatch generate`` with its ground truth, ingested."""
    from ingest.generate import generate
    from ingest.pipeline import ingest_paths

    root = tmp_path_factory.mktemp("gen")
    gen = generate(root / "data", orders=20_000, seed=11)
    store = open_store(f"duckdb://{root / 'store.duckdb'}")
    inputs = [p for p in (root / "data").iterdir() if p.name.startswith(("orders", "buyers", "sellers", "items"))]
    ingest_paths(inputs, store, rejects_path=root / "rejects.csv")
    truth = json.loads((root / "data" / "truth.json").read_text(encoding="utf-8"))
    return store, run_detection(store, now=NOW), truth, gen


def test_honest_look_alikes_stay_below_half_on_a_generated_set(generated):
    _, result, truth, _ = generated
    rings = result.rings.to_pandas().set_index("ring_id")
    members = result.ring_members.to_pandas()
    members = members[members["entity_type"] == "buyer"]
    flagged_owner = {
        b: r for r, b in zip(members["ring_id"], members["entity_id"], strict=True) if rings.loc[r, "score"] >= FLAG_SCORE
    }
    for group in truth["lookalikes"]:
        held = [flagged_owner.get(b) for b in group["buyers"]]
        most = max((held.count(r) for r in set(held) if r), default=0)
        assert most * 2 <= len(group["buyers"]), (group["kind"], group["buyers"])


def test_flagged_rings_on_a_generated_set_are_mostly_planted_accounts(generated):
    _, result, truth, _ = generated
    planted_buyers = {b for r in truth["rings"] for b in r["buyers"]}
    rings = result.rings.to_pandas()
    members = result.ring_members.to_pandas()
    for rid in rings.loc[rings["score"] >= FLAG_SCORE, "ring_id"]:
        buyers = members[(members["ring_id"] == rid) & (members["entity_type"] == "buyer")]["entity_id"]
        assert buyers.isin(planted_buyers).mean() > 0.5
    assert (rings["score"] >= FLAG_SCORE).sum() >= len(truth["rings"]) // 3
