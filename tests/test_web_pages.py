"""The explorer's pages, run with Streamlit's AppTest against a real DuckDB store.

``make_store`` builds a small store by hand (orders, buyer accounts and two
published runs with rings, members and evidence); the end-to-end test reuses
it when the real pipeline is not there.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from app.web import data, evidence, graph_view
from graph.schema import RESULT_SCHEMAS
from graph.store import open_store
from tests.helpers import T0, entities, orders, table

ENTRY = Path(__file__).resolve().parents[1] / "app" / "web" / "main.py"
HOSTILE = "<script>alert(1)</script> **bold** [x](javascript:alert(1))"
STATION = "上海市浦东新区张江路88号 菜鸟驿站"


def _ring_orders() -> list[dict]:
    rows: list[dict] = []
    # R1 brushing: 8 sock puppets on one device and one parcel station, a burst of cheap five-star orders.
    for i in range(8):
        for j in range(3):
            n = len(rows)
            rows.append(
                {
                    "order_id": f"o{n}",
                    "buyer_id": f"b{i}",
                    "seller_id": "s1",
                    "created_at": T0 + timedelta(minutes=3 * n),
                    "amount": 1.0,
                    "item_price": 99.0,
                    "quantity": 1,
                    "ship_address": STATION,
                    "address_key": "addr:station",
                    "device_id": "DEV-1",
                    "device_key": "dev1",
                    "receiver_phone": "138 0000 1111",
                    "phone_key": "13800001111",
                    "ip": f"10.0.0.{i}",
                    "ip_key": f"10.0.0.{i}",
                    "tracking_no": f"YT{1000000 + n}",
                    "waybill_key": f"YT{1000000 + n}",
                    "carrier": "yt",
                    "parcel_weight_g": 5.0,
                    "shipped_at": T0 + timedelta(minutes=3 * n + 60),
                    "confirmed_at": T0 + timedelta(minutes=3 * n + 120),
                    "status": "completed",
                    "rating": 5,
                    "review_text": HOSTILE if n == 0 else "好评！质量很好",
                }
            )
    # R2 malicious buyers: 5 accounts on one payment account claim empty parcels from s2.
    for i in range(5):
        n = len(rows)
        rows.append(
            {
                "order_id": f"o{n}",
                "buyer_id": f"m{i}",
                "seller_id": "s2",
                "created_at": T0 + timedelta(days=2, hours=i),
                "amount": 300.0,
                "item_price": 300.0,
                "payment_account": "PAY-9",
                "payment_key": "pay9",
                "status": "refunded",
                "refund_reason": "empty package",
                "rating": 1,
                "review_text": "fake shop, empty box",
            }
        )
    # Honest background: 20 buyers, one order each, own identifiers.
    for i in range(20):
        n = len(rows)
        rows.append(
            {
                "order_id": f"o{n}",
                "buyer_id": f"h{i}",
                "seller_id": "s3" if i % 2 else "s1",
                "created_at": T0 + timedelta(days=1, hours=i),
                "amount": 50.0,
                "item_price": 50.0,
                "device_key": f"hd{i}",
                "device_id": f"HD-{i}",
                "status": "completed",
                "rating": 4,
            }
        )
    return rows


def _results(rings: list[dict], members: list[dict], signals: list[dict]) -> dict[str, pa.Table]:
    return {
        "rings": table(RESULT_SCHEMAS["rings"], rings),
        "ring_members": table(RESULT_SCHEMAS["ring_members"], members),
        "ring_evidence": table(RESULT_SCHEMAS["ring_evidence"], signals),
        "buyer_scores": table(RESULT_SCHEMAS["buyer_scores"], []),
    }


def make_store(path: Path) -> str:
    """A small embedded store with orders, accounts and two published runs; returns its URI."""
    uri = f"duckdb://{path}"
    store = open_store(uri)
    store.upsert_orders(orders(_ring_orders()))
    accounts = [{"buyer_id": f"b{i}", "registered_at": T0 - timedelta(days=2)} for i in range(8)]
    accounts += [{"buyer_id": f"h{i}", "registered_at": T0 - timedelta(days=900)} for i in range(20)]
    store.upsert_entities("buyer", entities("buyer", accounts))
    r1 = {
        "ring_id": "R1",
        "ring_type": "brushing",
        "score": 0.93,
        "n_buyers": 8,
        "n_sellers": 1,
        "n_orders": 24,
        "first_order_at": T0,
        "last_order_at": T0 + timedelta(minutes=69),
        "target_seller_ids": "s1",
        "top_signals": "shared_device;burst",
        "change": "grown",
        "methods": "identity",
        "summary": "8 new accounts on one device bought from s1 24 times in 70 minutes.",
    }
    r2 = {**r1, "ring_id": "R2", "ring_type": "malicious_buyers", "score": 0.71, "n_buyers": 5, "n_orders": 5,
          "target_seller_ids": "s2", "change": "new", "top_signals": "refund_claims", "summary": "5 buyers claim empty parcels."}
    r3 = {**r1, "ring_id": "R3", "score": 0.40, "n_buyers": 2, "n_orders": 6, "change": "unchanged", "summary": ""}
    members = [
        {"ring_id": "R1", "entity_type": "buyer", "entity_id": f"b{i}", "role": "sock_puppet", "member_score": 0.9 - i / 100}
        for i in range(8)
    ]
    members += [
        {"ring_id": "R1", "entity_type": "seller", "entity_id": "s1", "role": "beneficiary", "member_score": 0.95},
        {"ring_id": "R1", "entity_type": "device", "entity_id": "dev1", "role": "shared_device", "member_score": 0.8},
    ]
    members += [
        {"ring_id": "R2", "entity_type": "buyer", "entity_id": f"m{i}", "role": "claimant", "member_score": 0.7}
        for i in range(5)
    ]
    members += [
        {"ring_id": "R3", "entity_type": "buyer", "entity_id": f"b{i}", "role": "sock_puppet", "member_score": 0.4}
        for i in range(2)
    ]
    signals = [
        {"ring_id": "R1", "signal": "shared_device", "value": 8, "strength": 0.95, "weight": 0.5,
         "explanation": "8 buyers checked out on the same device"},
        {"ring_id": "R1", "signal": "burst", "value": 24, "strength": 0.9, "weight": 0.3,
         "explanation": "24 orders within 70 minutes"},
        {"ring_id": "R2", "signal": "refund_claims", "value": 5, "strength": 0.8, "weight": 0.7,
         "explanation": "5 of 5 orders refunded as 'empty package'"},
    ]
    store.publish_run({"run_id": "run-1", "finished_at": T0 + timedelta(days=3)}, _results([r1 | {"change": "new"}], members[:10], signals[:2]))
    store.publish_run({"run_id": "run-2", "finished_at": T0 + timedelta(days=4)}, _results([r1, r2, r3], members, signals))
    return uri


@pytest.fixture(autouse=True)
def _no_prefetch(monkeypatch):
    """No background warm-up threads in the test process (the end-to-end test runs it in the server)."""
    monkeypatch.setenv("RINGWATCH_APP_PREFETCH", "0")


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("web") / "store.duckdb")


@pytest.fixture
def app(store_uri, monkeypatch):
    """The explorer on the test store, open access."""
    monkeypatch.setenv("RINGWATCH_STORE", store_uri)
    for name in ("RINGWATCH_APP_READONLY", "RINGWATCH_APP_PASSWORD", "RINGWATCH_APP_VIEWER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return AppTest.from_file(str(ENTRY), default_timeout=60)


def _texts(at: AppTest) -> str:
    return "\n".join(t.value for t in at.text)


def _markdown(at: AppTest) -> str:
    """Everything rendered as markdown (titles, captions, markdown, metric labels, info boxes)."""
    parts = [e.value for e in (*at.markdown, *at.caption, *at.title, *at.header, *at.subheader, *at.info, *at.warning, *at.error, *at.success)]
    parts += [m.label for m in at.metric]
    return "\n".join(str(p) for p in parts)


def _badges(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown if "-badge[" in m.value)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_overview_counts_rings_and_waiting(app):
    at = app.run()
    assert not at.exception
    assert _metric(at, "Rings") == "3"
    assert _metric(at, "Brushing") == "2"
    assert _metric(at, "Malicious buyers") == "1"
    assert _metric(at, "New or grown") == "2"
    history = at.dataframe[-1].value
    assert history["run"].tolist() == ["run-2", "run-1"]
    assert history["rings"].tolist() == [3, 1]


def test_rings_filter_and_open(app):
    at = app.run()
    at.switch_page("views/rings.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["ring_id"].tolist() == ["R1", "R2", "R3"]  # highest score first
    at.multiselect[0].select("malicious_buyers").run()
    assert at.dataframe[0].value["ring_id"].tolist() == ["R2"]
    at.slider[0].set_value(0.8).run()
    assert at.dataframe[0].value.empty
    # Picking a row opens the ring: the selection is the only thing kept in session state.
    at.slider[0].set_value(0.0).run()
    at.session_state["rings_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.session_state["ring_id"] == "R2"
    assert at.query_params["ring"] == "R2"
    assert "[malicious buyers]" in _badges(at)


def test_ring_case_file_shows_evidence_as_data(app):
    app.query_params["ring"] = "R1"
    at = app.run()
    at.switch_page("views/ring.py").run()
    assert not at.exception
    assert _metric(at, "Buyers") == "8"
    assert _metric(at, "Score") == "0.93"
    assert "8 new accounts on one device" in _texts(at)
    why = next(d.value for d in at.dataframe if "explanation" in d.value.columns)
    assert why["signal"].tolist() == ["shared_device", "burst"]
    assert _metric(at, "Busiest hour") == "20"  # the timeline tab is open first
    # Evidence tabs run only when opened (the tab is the analyst's selection).
    at.session_state["evidence_tab"] = "Ratings and reviews"
    at.run()
    reviews = next(d.value for d in at.dataframe if "review_text" in d.value.columns)
    assert reviews.iloc[0]["review_text"] == "好评！质量很好" and bool(reviews.iloc[0]["templated"])
    assert not any("check" in d.value.columns for d in at.dataframe)
    at.session_state["evidence_tab"] = "Waybills"
    at.run()
    waybill = next(d.value for d in at.dataframe if "check" in d.value.columns).set_index("check")["orders"]
    assert waybill["sequential waybills"] == 24 and waybill["parcel under 50 g"] == 24
    # Buyer-written text is data: it never reaches a markdown element.
    assert HOSTILE in set(reviews["review_text"])
    assert "<script>" not in _markdown(at) and "**bold**" not in _markdown(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels[-3:] == ["members.csv", "evidence.csv", "ring.json"]
    assert ("Report (HTML)" in labels) == bool(data.report_formats())


def test_recording_a_decision_keeps_it(app, store_uri):
    app.query_params["ring"] = "R3"
    at = app.run()
    at.switch_page("views/ring.py").run()
    at.radio[0].set_value("dismissed")
    at.text_area[0].input("two colleagues sharing a laptop")
    at.text_input[-1].input("Li Wei")
    at.button[-1].click().run()
    assert not at.exception
    history = open_store(store_uri).decisions("R3").to_pylist()
    assert [(h["decision"], h["analyst"], h["note"]) for h in history] == [
        ("dismissed", "Li Wei", "two colleagues sharing a laptop")
    ]
    assert "[dismissed]" in _badges(at)
    shown = next(d.value for d in at.dataframe if "analyst" in d.value.columns)
    assert shown["analyst"].tolist() == ["Li Wei"]


def test_read_only_role_cannot_decide(app, monkeypatch):
    monkeypatch.setenv("RINGWATCH_APP_READONLY", "1")
    app.query_params["ring"] = "R1"
    at = app.run()
    at.switch_page("views/ring.py").run()
    assert not at.exception
    assert not at.radio and not at.text_area
    assert any("Read-only" in i.value for i in at.info)


def test_team_password_gate(app, monkeypatch):
    monkeypatch.setenv("RINGWATCH_APP_PASSWORD", "s3cret")
    monkeypatch.setenv("RINGWATCH_APP_VIEWER_PASSWORD", "look")
    at = app.run()
    assert not at.metric  # nothing of the store before signing in
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error)
    at.text_input[0].input("look")
    at.button[0].click().run()
    assert _metric(at, "Rings") == "3"
    assert "viewer" in _texts(at)


def test_single_sign_on_with_read_only_viewers(app):
    app.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "ringwatch",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
    }
    app.secrets["ringwatch"] = {"viewers": ["audit@corp.invalid"]}
    app.user = {"is_logged_in": False}
    at = app.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.metric
    at.user = {"is_logged_in": True, "email": "audit@corp.invalid", "name": "Audit Team"}
    at.query_params["ring"] = "R1"
    at.run()
    at.switch_page("views/ring.py").run()
    assert not at.exception
    assert "Audit Team · viewer" in _texts(at)
    assert not at.radio and any("Read-only" in i.value for i in at.info)
    at.user = {"is_logged_in": True, "email": "li.wei@corp.invalid", "name": "Li Wei"}
    at.run()
    assert "Li Wei · analyst" in _texts(at) and at.radio
    assert at.text_input[-1].value == "Li Wei"  # decisions are signed with the signed-in name


def test_search_normalises_and_finds_rings(app):
    at = app.run()
    at.switch_page("views/search.py").run()
    at.text_input[0].input("138-0000-1111").run()  # typed with dashes, stored as digits
    assert not at.exception
    hits = at.dataframe[0].value
    assert hits["kind"].tolist() == ["phone"] and hits["key"].tolist() == ["13800001111"]
    rings = at.dataframe[1].value
    assert set(rings["ring_id"]) == {"R1", "R3"}
    at.text_input[0].input("pay9").run()
    assert at.dataframe[1].value["ring_id"].tolist() == ["R2"]


def test_empty_store_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGWATCH_STORE", f"duckdb://{tmp_path / 'empty.duckdb'}")
    monkeypatch.delenv("RINGWATCH_APP_PASSWORD", raising=False)
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not at.exception
    assert any("No detection run" in i.value for i in at.info)


# -- the pure parts the pages stand on ---------------------------------------------------
def test_ring_graph_draws_shared_identifiers_only(store_uri):
    store = open_store(store_uri)
    members = store.read_results("ring_members").to_pandas()
    members = members[members["ring_id"] == "R1"]
    sub = store.neighbourhood("buyer", [f"b{i}" for i in range(8)])
    graph = graph_view.build_ring_graph(members, sub)
    kinds = graph.nodes.groupby("entity").size().to_dict()
    # 8 buyers, the seller, the shared device, address and phone; private IPs and waybills (8 + 24) are counted, not drawn.
    assert kinds == {"address": 1, "buyer": 8, "device": 1, "phone": 1, "seller": 1}
    assert graph.hidden_identifiers == 32
    assert set(graph.nodes.loc[graph.nodes["shared"], "node_id"]) == {"device:dev1", "address:addr:station", "phone:13800001111"}
    again = graph_view.build_ring_graph(members, sub)
    assert graph.nodes[["x", "y"]].equals(again.nodes[["x", "y"]])  # same ring, same picture
    spec = graph_view.echarts_spec(graph)
    assert len(spec["series"][0]["data"]) == 12 and len(spec["series"][0]["links"]) == 8 * 3 + 8
    # Links name their ends by position in the node list: each drawn link joins the nodes it joins in the graph.
    ids = [d["id"] for d in spec["series"][0]["data"]]
    drawn = {(ids[link["source"]], ids[link["target"]], link["value"]) for link in spec["series"][0]["links"]}
    assert drawn == set(zip(graph.edges["source"], graph.edges["target"], graph.edges["n_orders"], strict=True))
    # Clicking node i selects it; an index from an older, larger picture selects nothing.
    event = {"selection": {"selected": [{"data_type": "node", "data_indices": [0]}]}}
    assert graph_view.selected_node(event, graph.nodes) == graph.nodes["node_id"].iloc[0]
    stale = {"selection": {"selected": [{"data_type": "node", "data_indices": [99]}]}}
    assert graph_view.selected_node(stale, graph.nodes) is None
    # Expanding the device adds nothing new here (every user is drawn); expanding a buyer adds its IP.
    grown = graph_view.add_expansion(graph, "buyer:b0", store.neighbourhood("buyer", ["b0"]))
    assert "ip:10.0.0.0" in set(grown.nodes["node_id"])
    assert grown.nodes.iloc[: len(graph.nodes)][["node_id", "x", "y"]].equals(graph.nodes[["node_id", "x", "y"]])


def test_ring_picture_from_the_buyers_orders_matches_the_store(store_uri):
    # The Ring page draws from the orders it reads for its evidence; the links must be the store's own.
    store = open_store(store_uri)
    buyers = [f"b{i}" for i in range(8)]
    orders_frame = store.orders_of(buyers, columns=graph_view.GRAPH_ORDER_COLUMNS).to_pandas()
    mine = graph_view.orders_subgraph(orders_frame, buyers, {"s1": "Shop One"})
    theirs = store.neighbourhood("buyer", buyers, limit=10_000)
    columns = ["source", "target", "rel", "n_orders", "first_seen", "last_seen"]
    by_link = ["source", "target", "rel"]
    assert mine.edges[columns].sort_values(by_link).reset_index(drop=True).equals(
        theirs.edges[columns].sort_values(by_link).reset_index(drop=True)
    )
    nodes = mine.nodes.set_index("node_id")
    assert set(nodes.index) == set(theirs.nodes["node_id"])
    assert nodes.at["address:addr:station", "display"] == STATION and nodes.at["seller:s1", "display"] == "Shop One"
    # The store-wide count a clicked identifier shows comes from the store.
    assert data.store_buyers(store_uri, "device:dev1") == 8 and data.store_buyers(store_uri, "buyer:b0") is None


def test_large_ring_is_paged():
    assert data.graph_pages(300) == 1 and data.graph_pages(301) == 2 and data.graph_pages(0) == 1


def test_ring_filters(store_uri):
    frame = data.rings(store_uri, "run-2").assign(label=["confirmed", "undecided", "undecided"])
    day = T0.date()
    assert data.filter_rings(frame)["ring_id"].tolist() == ["R1", "R2", "R3"]
    assert data.filter_rings(frame, labels=["undecided"], min_size=4)["ring_id"].tolist() == ["R2"]
    assert data.filter_rings(frame, seller="s2")["ring_id"].tolist() == ["R2"]
    assert data.filter_rings(frame, period=(day + timedelta(days=1), day + timedelta(days=9))).empty
    assert len(data.filter_rings(frame, period=(day, day))) == 3


def test_busiest_hour_and_account_ages():
    times = pd.to_datetime(["2026-03-01 10:00", "2026-03-01 10:20", "2026-03-01 10:59", "2026-03-01 12:00"], utc=True)
    orders_frame = pd.DataFrame({"created_at": times, "buyer_id": ["a", "a", "b", "b"]})
    count, start = evidence.busiest_hour(orders_frame)
    assert count == 3 and start == times[0]
    buyers = pd.DataFrame({"buyer_id": ["a"], "registered_at": pd.to_datetime(["2026-02-27"], utc=True)})
    ages = evidence.account_ages(buyers, orders_frame).set_index("buyer_id")
    assert ages.loc["a", "bucket"] == "< 7 days" and ages.loc["b", "bucket"] == "unknown"


def test_a_rings_orders_are_the_same_from_the_runs_read_or_its_own(store_uri, monkeypatch):
    # A ring takes its orders from one read of all the run's ring buyers, or reads its own when the run has
    # too many to keep: either way they are exactly the store's orders of its buyers, newest first.
    store = open_store(store_uri)
    run_id = str(store.runs()[0]["run_id"])
    members = store.read_results("ring_members", run_id).to_pandas()

    def fresh(ring_id: str) -> pd.DataFrame:
        data._run_orders.clear()
        data._buyer_orders.clear()
        return data._buyer_orders(store_uri, run_id, ring_id)

    for ring_id in sorted(set(members["ring_id"])):
        buyers = data._buyer_ids(members[members["ring_id"] == ring_id])
        expected = store.orders_of(buyers, columns=data.RING_ORDER_COLUMNS, limit=data.ORDER_LIMIT).to_pandas()
        assert len(expected) > 0
        pd.testing.assert_frame_equal(fresh(ring_id), expected)
        with monkeypatch.context() as patch:
            patch.setattr(data, "RUN_BUYER_LIMIT", 0)
            pd.testing.assert_frame_equal(fresh(ring_id), expected)


@pytest.mark.parametrize("step, width", [
    (timedelta(minutes=7), pd.Timedelta(minutes=5)),  # a burst: five-minute bins
    (timedelta(hours=2), pd.Timedelta(hours=1)),  # two days: hourly
    (timedelta(hours=20), pd.Timedelta(days=1)),  # weeks: daily
])
def test_timeline_bins_follow_the_span_and_count_every_order(step, width):
    when = pd.Series([T0 + i * step for i in range(24)], dtype="datetime64[us, UTC]")
    frame = pd.DataFrame({"created_at": when, "seller_id": ["s1", "s2", "s1"] * 8})
    bins = evidence.timeline(frame)
    assert (bins["bin_end"] - bins["bin"] == width).all()
    assert bins["orders"].sum() == 24 and set(bins["seller"]) == {"s1", "s2"}
    assert bins["bin"].min() == when.min().floor(width) and bins["bin"].max() == when.max().floor(width)
