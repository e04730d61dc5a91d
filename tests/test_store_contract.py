"""The GraphStore contract, run over every implementation (the ``store`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from graph.errors import StoreError
from graph.schema import RESULT_SCHEMAS
from graph.store import RESULT_TABLES, GraphStore, open_store
from tests.helpers import T0, entities, orders, table

# Two buyers share a device; b1 also ships to a parcel-station address shared with b3.
BASE = [
    {"order_id": "o1", "buyer_id": "b1", "seller_id": "s1", "item_id": "i1", "device_key": "dev1",
     "device_id": " dev1 ", "address_key": "addr1", "ship_address": "杭州市西湖区文三路1号", "ip_key": "10.0.0.1",
     "ipnet_key": "10.0.0.0/24", "updated_at": T0},
    {"order_id": "o2", "buyer_id": "b2", "seller_id": "s1", "item_id": "i1", "device_key": "dev1"},
    {"order_id": "o3", "buyer_id": "b3", "seller_id": "s2", "address_key": "addr1", "ip_key": "10.0.0.2",
     "ipnet_key": "10.0.0.0/24", "phone_key": "masked:138****5678"},
    {"order_id": "o4", "buyer_id": "b1", "seller_id": "s2", "payment_key": "pay1", "waybill_key": "YT1"},
]


def test_every_store_satisfies_the_protocol(store):
    assert isinstance(store, GraphStore)
    assert "password" not in store.uri.lower()


def test_counts_follow_the_graph_model(store):
    store.upsert_orders(orders(BASE))
    store.upsert_entities("item", entities("item", [{"item_id": "i9", "seller_id": "s3", "price": 5.0}]))
    c = store.counts()
    assert (c["Order"], c["Buyer"], c["Seller"], c["Item"]) == (4, 3, 3, 2)
    assert (c["Device"], c["Address"], c["IP"], c["IPNetwork"], c["Phone"], c["Payment"], c["Waybill"]) == (
        1, 1, 2, 1, 1, 1, 1,
    )
    assert (c["PLACED"], c["SOLD_BY"], c["CONTAINS"], c["USED_DEVICE"], c["SHIPPED_TO"]) == (4, 4, 2, 2, 2)
    assert (c["IN_NETWORK"], c["LISTED_BY"]) == (2, 1)
    # USED: one edge per distinct (buyer, identifier) pair.
    assert c["USED"] == len(store.read_table("buyer_identifiers"))


def test_stale_rows_are_left_out_and_counted(store):
    store.upsert_orders(orders([{"order_id": "o1", "buyer_id": "b1", "amount": 10.0, "updated_at": T0}]))
    older = orders([{"order_id": "o1", "buyer_id": "b1", "amount": 99.0, "updated_at": T0 - timedelta(hours=1)}])
    assert store.upsert_orders(older).stale == 1
    newer = orders([{"order_id": "o1", "buyer_id": "b1", "amount": 12.0, "updated_at": T0 + timedelta(hours=1)}])
    assert store.upsert_orders(newer).stored == 1
    undated = orders([{"order_id": "o1", "buyer_id": "b1", "amount": 13.0}])  # no updated_at: replaces
    assert store.upsert_orders(undated).stored == 1
    assert store.read_table("orders", ["amount"]).column("amount").to_pylist() == [13.0]


def test_ingesting_twice_changes_nothing(store):
    store.upsert_orders(orders(BASE))
    first = (store.read_table("orders"), store.read_table("buyer_identifiers"), store.counts())
    store.upsert_orders(orders(BASE))
    second = (store.read_table("orders"), store.read_table("buyer_identifiers"), store.counts())
    assert first[0].equals(second[0]) and first[1].equals(second[1]) and first[2] == second[2]


def test_an_updated_order_moves_its_edges(store):
    store.upsert_orders(orders(BASE))
    store.upsert_orders(orders([{"order_id": "o2", "buyer_id": "b2", "device_key": "dev2"}]))
    used = store.read_table("buyer_identifiers").to_pandas()
    b2 = used[used.buyer_id == "b2"]
    assert set(zip(b2.kind, b2.key)) == {("device", "dev2")}
    assert store.counts()["Device"] == 2


def test_used_edges_carry_first_last_seen_and_counts(store):
    rows = [{"order_id": f"o{i}", "buyer_id": "b1", "device_key": "d"} for i in range(3)]
    store.upsert_orders(orders(rows))
    used = store.read_table("buyer_identifiers").to_pylist()
    assert len(used) == 1
    assert used[0]["n_orders"] == 3
    assert used[0]["last_seen"] - used[0]["first_seen"] == timedelta(minutes=2)


def test_a_registered_phone_links_accounts_like_a_phone_on_orders(store):
    store.upsert_orders(orders(BASE))  # b3 ships to the receiver phone masked:138****5678
    used_before = store.counts()["USED"]
    registered = [{"buyer_id": "b1", "phone_key": "masked:138****5678"}, {"buyer_id": "b2", "phone_key": "139"},
                  {"buyer_id": "b3", "phone_key": "masked:138****5678"}]  # fmt: skip
    store.upsert_entities("buyer", entities("buyer", registered))
    phones = store.read_table("buyer_identifiers").filter(pa.compute.equal(pa.compute.field("kind"), "phone"))
    assert [(p["buyer_id"], p["key"], p["n_orders"]) for p in phones.to_pylist()] == [
        ("b1", "masked:138****5678", 0), ("b2", "139", 0), ("b3", "masked:138****5678", 1),
    ]  # fmt: skip
    c = store.counts()
    assert (c["Phone"], c["REGISTERED_PHONE"], c["USED"]) == (2, 3, used_before)

    # A buyers row without the phone drops the link, and the phone no one names any more.
    store.upsert_entities("buyer", entities("buyer", [{"buyer_id": "b2"}]))
    c = store.counts()
    assert (c["Phone"], c["REGISTERED_PHONE"]) == (1, 2)


def test_read_table_rejects_unknown_names_and_columns(store):
    store.upsert_orders(orders(BASE))
    with pytest.raises(ValueError, match="unknown projection"):
        store.read_table("secrets")
    with pytest.raises(ValueError, match="no column"):
        store.read_table("orders", ["order_id", "nope"])
    ids = store.read_table("orders", ["order_id"]).column("order_id").to_pylist()
    assert ids == sorted(ids)


def test_entity_attributes_replace_by_key(store):
    store.upsert_entities("buyer", entities("buyer", [{"buyer_id": "b1", "credit_level": 1}]))
    store.upsert_entities("buyer", entities("buyer", [{"buyer_id": "b1", "credit_level": 5}]))
    assert store.read_table("buyers", ["credit_level"]).column("credit_level").to_pylist() == [5]


def test_neighbourhood_of_a_shared_device(store):
    store.upsert_orders(orders(BASE))
    sub = store.neighbourhood("device", ["dev1"])
    assert set(sub.nodes.node_id) == {"device:dev1", "buyer:b1", "buyer:b2"}
    dev = sub.nodes.set_index("node_id").loc["device:dev1"]
    assert int(dev.n_buyers) == 2 and dev.display == " dev1 "  # raw value shown, key linked
    assert set(sub.edges.rel) == {"USED"} and not sub.truncated


def test_neighbourhood_of_a_buyer_reaches_sellers_and_identifiers(store):
    store.upsert_orders(orders(BASE))
    sub = store.neighbourhood("buyer", ["b1"])
    assert {"seller:s1", "seller:s2", "device:dev1", "address:addr1", "payment:pay1"} <= set(sub.nodes.node_id)
    assert set(sub.edges.rel) == {"USED", "BOUGHT_FROM"}


def test_neighbourhood_limit_truncates(store):
    rows = [{"order_id": f"o{i}", "buyer_id": f"b{i}", "address_key": "station"} for i in range(30)]
    store.upsert_orders(orders(rows))
    sub = store.neighbourhood("address", ["station"], limit=10)
    assert len(sub.edges) == 10 and sub.truncated
    assert int(sub.nodes.set_index("node_id").loc["address:station"].n_buyers) == 30


def test_orders_of_buyers_newest_first(store):
    store.upsert_orders(orders(BASE))
    got = store.orders_of(["b1"])
    assert got.column("order_id").to_pylist() == ["o4", "o1"]
    assert store.orders_of(["b1"], limit=1).num_rows == 1
    narrow = store.orders_of(["b1"], columns=["order_id", "amount"])
    assert narrow.column_names == ["order_id", "amount"] and narrow.column("order_id").to_pylist() == ["o4", "o1"]
    with pytest.raises(ValueError, match="no column"):
        store.orders_of(["b1"], columns=["secret"])


def _results(ring_id: str, score: float) -> dict[str, pa.Table]:
    tables = {name: RESULT_SCHEMAS[name].empty_table() for name in RESULT_TABLES}
    tables["rings"] = table(RESULT_SCHEMAS["rings"], [{"ring_id": ring_id, "ring_type": "brushing", "score": score,
                                                       "n_buyers": 2, "n_sellers": 1, "n_orders": 2}])
    tables["ring_members"] = table(RESULT_SCHEMAS["ring_members"], [
        {"ring_id": ring_id, "entity_type": "buyer", "entity_id": "b1", "role": "member", "member_score": 0.9}])
    return tables


def test_published_runs_replace_what_readers_see(store):
    assert store.read_results("rings").num_rows == 0
    assert store.read_results("rings").schema == RESULT_SCHEMAS["rings"]
    store.publish_run({"run_id": "r1", "finished_at": T0.isoformat()}, _results("R-1", 0.7))
    store.publish_run({"run_id": "r2", "finished_at": T0.isoformat()}, _results("R-2", 0.8))
    assert store.read_results("rings").column("ring_id").to_pylist() == ["R-2"]
    assert store.read_results("rings", run_id="r1").column("ring_id").to_pylist() == ["R-1"]
    assert [r["run_id"] for r in store.runs()][:2] == ["r2", "r1"]
    # Publishing the same run again (a retried batch) does not duplicate it.
    store.publish_run({"run_id": "r2", "finished_at": T0.isoformat()}, _results("R-2", 0.8))
    assert store.read_results("ring_members").num_rows == 1


def test_publish_run_needs_every_table(store):
    with pytest.raises(ValueError, match="missing"):
        store.publish_run({"run_id": "r1"}, {"rings": RESULT_SCHEMAS["rings"].empty_table()})


def test_decisions_keep_history(store):
    store.record_decision("R-1", "needs_review", "ana", "look at devices")
    store.record_decision("R-1", "confirmed", "ana", "same device, same item")
    history = store.decisions("R-1").to_pylist()
    assert [d["decision"] for d in history] == ["confirmed", "needs_review"]
    assert store.decisions("R-2").num_rows == 0
    with pytest.raises(ValueError):
        store.record_decision("R-1", "guilty", "ana")
    with pytest.raises(ValueError):
        store.record_decision("R-1", "confirmed", "  ")


def test_duckdb_store_reopens_and_refuses_newer_schema(tmp_path):
    path = tmp_path / "s.duckdb"
    first = open_store(f"duckdb://{path}")
    first.upsert_orders(orders(BASE))
    assert open_store(f"duckdb://{path}").counts()["Order"] == 4
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, now())")
    con.close()
    with pytest.raises(StoreError, match="newer RingWatch"):
        open_store(f"duckdb://{path}")


def test_prune_keeps_the_newest_runs(store):
    for i in range(4):
        store.publish_run({"run_id": f"r{i}", "finished_at": T0.isoformat()}, _results(f"R-{i}", 0.5))
    assert store.prune_runs(keep=2) == 2
    assert [r["run_id"] for r in store.runs()] == ["r3", "r2"]
    assert store.read_results("rings", run_id="r0").num_rows == 0


def test_manifest_replaces_by_path(store):
    row = {"path": "/in/orders_1.csv", "size": 10, "sha256": "aa", "run_id": "r1", "ingested_at": T0}
    store.record_ingested_files(pa.Table.from_pylist([row]))
    store.record_ingested_files(pa.Table.from_pylist([{**row, "size": 12, "sha256": "bb", "run_id": "r2"}]))
    manifest = store.ingested_files().to_pylist()
    assert [(m["path"], m["size"], m["sha256"]) for m in manifest] == [("/in/orders_1.csv", 12, "bb")]


def test_batch_lock_refuses_a_live_holder_and_takes_over_a_dead_one(store):
    import socket
    import subprocess
    import sys

    from graph.errors import BatchLocked
    from graph.store.lock import new_holder

    me = new_holder("r1")
    store.acquire_lock(me)
    store.acquire_lock(me)  # re-entrant for the same holder
    other = {**new_holder("r2"), "pid": 1}  # pid 1 lives on every host
    with pytest.raises(BatchLocked, match="pid"):
        store.acquire_lock(other)
    store.release_lock(me)
    # A holder whose process died (kill -9) is taken over.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.acquire_lock({**new_holder("r3"), "pid": dead.pid, "host": socket.gethostname()})
    store.acquire_lock(other)
    store.release_lock(other)
