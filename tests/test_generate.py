"""`ringwatch generate`: contract files, determinism, truth, planted rings and honest look-alikes."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from graph.model import ORDER_STATUSES, RING_TYPES
from ingest.generate import vocab as V
from ingest.generate import FORMATS, generate, plan_rings

ORDER_COLUMNS = [
    "order_id", "buyer_id", "seller_id", "created_at", "amount", "item_id", "quantity", "item_price",
    "ship_address", "receiver_name", "receiver_phone", "device_id", "ip", "payment_account", "tracking_no",
    "carrier", "parcel_weight_g", "shipped_at", "delivered_at", "confirmed_at", "status", "refund_reason",
    "rating", "review_text", "reviewed_at", "chat_messages", "updated_at",
]
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    result = generate(out, orders=20_000, seed=7, rows_per_file=6_000)  # 4 files: chunk boundaries matter
    orders = pd.concat([read(p) for p in sorted(out.glob("orders_*.csv"))], ignore_index=True)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return {
        "out": out,
        "result": result,
        "orders": orders,
        "buyers": read(out / "buyers.csv"),
        "sellers": read(out / "sellers.csv"),
        "items": read(out / "items.csv"),
        "truth": truth,
        "truth_buyers": read(out / "truth_buyers.csv"),
    }


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_gives_identical_files(tmp_path, fmt):
    a = generate(tmp_path / "a", orders=1_000, seed=3, fmt=fmt)
    b = generate(tmp_path / "b", orders=1_000, seed=3, fmt=fmt)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert a.counts == b.counts
    names = {Path(p).name for p in a.paths}
    expected = {f"{n}.{fmt}" for n in ("orders_0001", "buyers", "sellers", "items")}
    assert names == expected | {"truth.json", "truth_buyers.csv"}


def test_another_seed_gives_another_data_set(tmp_path):
    generate(tmp_path / "a", orders=1_000, seed=3)
    generate(tmp_path / "b", orders=1_000, seed=4)
    truths = [json.loads((tmp_path / x / "truth.json").read_text(encoding="utf-8")) for x in "ab"]
    assert digests(tmp_path / "a")["orders_0001.csv"] != digests(tmp_path / "b")["orders_0001.csv"]
    assert truths[0]["expected_counts"] != truths[1]["expected_counts"]
    assert truths[0]["rings"][0]["buyers"] != truths[1]["rings"][0]["buyers"]


def test_other_formats_hold_the_same_orders(tmp_path):
    generate(tmp_path / "csv", orders=1_500, seed=5)
    generate(tmp_path / "pq", orders=1_500, seed=5, fmt="parquet")
    generate(tmp_path / "js", orders=1_500, seed=5, fmt="jsonl")
    csv = read(tmp_path / "csv" / "orders_0001.csv")
    pq = pd.read_parquet(tmp_path / "pq" / "orders_0001.parquet")
    js = pd.read_json(tmp_path / "js" / "orders_0001.jsonl", lines=True, dtype=False)
    assert list(pq.columns) == list(js.columns) == ORDER_COLUMNS
    assert list(csv["order_id"]) == [str(x) for x in pq["order_id"]] == [str(x) for x in js["order_id"]]
    assert str(pq["created_at"].dtype).startswith("datetime64")
    assert (pd.to_datetime(csv["created_at"]) == pq["created_at"]).all()


def test_orders_follow_the_contract(data):
    o = data["orders"]
    assert list(o.columns) == ORDER_COLUMNS
    assert len(o) == data["result"].counts["orders"] == 20_000
    assert data["result"].counts["order_files"] == len(list(data["out"].glob("orders_*.csv"))) == 4
    assert o["order_id"].is_unique
    for col in ("order_id", "buyer_id", "seller_id", "created_at"):
        assert o[col].notna().all()
    for col in ("created_at", "shipped_at", "delivered_at", "confirmed_at", "reviewed_at"):
        assert o[col].dropna().str.match(ISO).all(), col
    amount = o["amount"].astype(float)
    assert (amount >= 0).all() and (o["item_price"].astype(float) >= 0).all()
    assert (o["quantity"].astype(int) >= 1).all()
    assert set(o["status"]) <= set(ORDER_STATUSES)
    assert set(o["status"]) >= {"completed", "refunded", "cancelled", "delivered", "shipped"}
    rating = o["rating"].dropna().astype(int)
    assert rating.between(1, 5).all() and set(rating) == {1, 2, 3, 4, 5}
    assert (o["chat_messages"].astype(int) >= 0).all()
    assert (o["parcel_weight_g"].dropna().astype(float) >= 0).all()
    assert o["updated_at"].dropna().str.fullmatch(r"\d{13}").all()
    # Logistics happen in order.
    t = {c: pd.to_datetime(o[c]) for c in ("created_at", "shipped_at", "delivered_at", "confirmed_at", "reviewed_at")}
    assert (t["shipped_at"].dropna() >= t["created_at"][t["shipped_at"].notna()]).all()
    assert (t["delivered_at"].dropna() >= t["shipped_at"][t["delivered_at"].notna()]).all()
    assert (t["confirmed_at"].dropna() >= t["delivered_at"][t["confirmed_at"].notna()]).all()
    # Identifiers look like what exports carry.
    for ip in o["ip"].dropna().sample(500, random_state=0):
        ipaddress.ip_address(ip)
    assert o["ip"].dropna().str.contains(":").any()  # some IPv6
    phone = o["receiver_phone"].dropna()
    masked = phone.str.fullmatch(r"1\d\d\*{4}\d{4}")
    assert 0.6 < masked.mean() < 0.98
    assert phone[~masked].str.replace(r"\D", "", regex=True).str.fullmatch(r"(86)?1\d{10}").all()
    assert o["ship_address"].notna().mean() > 0.9
    assert o["review_text"].dropna().str.contains("[\u4e00-\u9fff]").all()


def test_entity_files_follow_the_contract(data):
    b, s, i = data["buyers"], data["sellers"], data["items"]
    assert list(b.columns) == ["buyer_id", "registered_at", "real_name_verified", "credit_level", "phone"]
    assert list(s.columns) == ["seller_id", "name", "category", "registered_at"]
    assert list(i.columns) == ["item_id", "seller_id", "title", "price", "category"]
    assert b["buyer_id"].is_unique and s["seller_id"].is_unique and i["item_id"].is_unique
    assert set(b["real_name_verified"]) == {"true", "false"}
    assert b["registered_at"].str.match(ISO).all() and s["registered_at"].str.match(ISO).all()
    assert (i["price"].astype(float) > 0).all()
    assert set(i["seller_id"]) <= set(s["seller_id"])
    o = data["orders"]
    assert set(o["buyer_id"]) <= set(b["buyer_id"]) and set(o["item_id"].dropna()) <= set(i["item_id"])
    # Nobody orders before registering.
    first = pd.to_datetime(o["created_at"]).groupby(o["buyer_id"]).min()
    reg = pd.to_datetime(b.set_index("buyer_id")["registered_at"]).loc[first.index]
    assert (reg <= first).all()


def _address_key(text: str) -> str:
    """What a normaliser must undo: width, spaces, punctuation, building words, a leading province."""
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"[\s,，]", "", s)
    s = re.sub(r"(\d+)(号楼|幢)", r"\1栋", s)
    for province in V.PROVINCES:
        if province and s.startswith(province):
            s = s[len(province) :]
    return s


def test_expected_counts_match_the_files(data):
    o, b, expected = data["orders"], data["buyers"], data["truth"]["expected_counts"]
    assert set(expected) == {"Buyer", "Seller", "Item", "Order", "Address", "Device", "IP", "IPNetwork", "Phone",
                             "Payment", "Waybill"}
    ips = [ipaddress.ip_address(x) for x in o["ip"].dropna().unique()]
    nets = {ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False) for ip in ips}

    def phone_keys(phones: pd.Series) -> set[str]:
        phones = phones.dropna()
        return set(phones.where(phones.str.contains(r"\*"), phones.str.replace(r"\D", "", regex=True).str[-11:]))

    assert expected["Order"] == len(o)
    assert expected["Buyer"] == len(set(b["buyer_id"]) | set(o["buyer_id"]))
    assert expected["Seller"] == len(set(data["sellers"]["seller_id"]) | set(o["seller_id"]))
    assert expected["Item"] == len(set(data["items"]["item_id"]) | set(o["item_id"].dropna()))
    assert expected["Device"] == o["device_id"].dropna().str.strip().nunique()
    assert expected["IP"] == len(set(ips))
    assert expected["IPNetwork"] == len(nets)
    assert expected["Phone"] == len(phone_keys(o["receiver_phone"]) | phone_keys(b["phone"]))
    assert data["truth"]["expected_counts_orders_only"]["Phone"] == len(phone_keys(o["receiver_phone"]))
    assert expected["Payment"] == o["payment_account"].dropna().nunique()
    assert expected["Waybill"] == o["tracking_no"].dropna().nunique()
    edges = data["truth"]["expected_edge_counts"]
    columns = {"PLACED": "buyer_id", "SOLD_BY": "seller_id", "CONTAINS": "item_id", "SHIPPED_TO": "ship_address",
               "USED_DEVICE": "device_id", "FROM_IP": "ip", "RECEIVER_PHONE": "receiver_phone",
               "PAID_WITH": "payment_account", "SHIPPED_AS": "tracking_no"}
    assert {rel: int(o[col].notna().sum()) for rel, col in columns.items()} == {r: edges[r] for r in columns}
    assert edges["IN_NETWORK"] == expected["IP"] and edges["LISTED_BY"] == len(data["items"])
    raw = o["ship_address"].dropna().unique()
    assert expected["Address"] == len({_address_key(a) for a in raw}) < len(raw)  # typed variants exist and meet


def test_truth_is_consistent_with_the_orders(data):
    o, truth, tb = data["orders"], data["truth"], data["truth_buyers"]
    assert truth["seed"] == 7 and truth["orders"] == 20_000
    assert tb["buyer_id"].is_unique and set(tb["buyer_id"]) == set(data["buyers"]["buyer_id"])
    rings = truth["rings"]
    assert rings and len({r["ring_id"] for r in rings}) == len(rings)
    members = tb.dropna(subset=["ring_id"])
    assert len(members) == sum(len(r["buyers"]) for r in rings)
    for r in rings:
        assert r["ring_type"] in RING_TYPES and len(r["buyers"]) >= 3
        assert set(r["buyers"]) <= set(o["buyer_id"]), r["ring_id"]
        assert (members.set_index("buyer_id").loc[r["buyers"], "ring_id"] == r["ring_id"]).all()
        mine = o[o["buyer_id"].isin(r["buyers"])]
        on_target = mine["seller_id"].isin(r["target_seller_ids"])
        # The ring's own orders all go to its targets; camouflage goes elsewhere.
        assert on_target.sum() >= r["n_orders"], r["ring_id"]
        # Targets are where the members concentrate, far beyond the targets' share of all orders.
        base = o["seller_id"].isin(r["target_seller_ids"]).mean()
        assert on_target.mean() > max(0.3, 5 * base), r["ring_id"]
    # Honest look-alikes are honest.
    in_ring = set(members["buyer_id"])
    for g in truth["lookalikes"]:
        assert not in_ring & set(g["buyers"]), g["kind"]
    flagged = tb.dropna(subset=["lookalike"])
    assert not set(flagged["buyer_id"]) & in_ring


def test_rings_vary_in_tactic_and_size(data):
    rings = data["truth"]["rings"]
    assert len({r["tactic"] for r in rings}) >= 5
    assert {r["ring_type"] for r in rings} == set(RING_TYPES)
    share = sum(r["n_orders"] for r in rings) / data["truth"]["orders"]
    assert 0.01 < share < 0.06
    planned = [(p.tactic, p.n_members, p.n_orders) for p in plan_rings(20_000, 7)]
    assert planned == [(r["tactic"], len(r["buyers"]), r["n_orders"]) for r in rings]
    for seed in range(3):
        plans = plan_rings(100_000, seed)
        sizes = [p.n_members for p in plans]
        assert 15 <= len(plans) <= 30
        assert min(sizes) == 3 and max(sizes) >= 100
        assert len({p.tactic for p in plans}) == 8
        assert 0.015 < sum(p.n_orders for p in plans) / 100_000 < 0.05


def test_ring_accounts_look_like_honest_ones(data):
    o, b, tb = data["orders"], data["buyers"].set_index("buyer_id"), data["truth_buyers"]
    ring = set(tb.dropna(subset=["ring_id"])["buyer_id"])
    is_ring = o["buyer_id"].isin(ring)

    def shapes(values: pd.Series) -> set[tuple[str, bool, bool]]:
        """Length, separators and letter case of the values: their format, not their content."""
        return {(re.sub("[0-9a-fA-F]", "x", v), v == v.lower(), v == v.upper()) for v in values.dropna()}

    assert shapes(pd.Series(list(ring))) <= shapes(b.index.to_series())
    for col in ("device_id", "payment_account", "order_id"):
        assert shapes(o.loc[is_ring, col]) <= shapes(o.loc[~is_ring, col]), col
    reg = pd.to_datetime(b.loc[list(ring), "registered_at"])
    assert reg.nunique() == len(ring)  # registered at varied times, not in one batch


def test_honest_lookalikes_are_planted(data):
    kinds = {g["kind"] for g in data["truth"]["lookalikes"]}
    assert kinds >= {"parcel_station", "family", "office", "corporate_gift", "flash_sale_crowd", "carrier_nat",
                     "repeat_customers"}
    o = data["orders"]
    for g in data["truth"]["lookalikes"]:
        if g["kind"] == "parcel_station":
            assert len(g["buyers"]) >= 20
            typed = o.loc[o["buyer_id"].isin(g["buyers"]), "ship_address"].dropna().map(_address_key)
            assert typed.isin({_address_key(a) for a in g["identifiers"]["address"]}).sum() >= len(g["buyers"])
        if g["kind"] == "carrier_nat":
            assert o.loc[o["ip"] == g["identifiers"]["ip"][0], "buyer_id"].nunique() >= len(g["buyers"]) >= 20


def test_cli_json_equals_the_library_result(tmp_path):
    run = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path / "cli"), "--orders", "800", "--seed", "2",
                                   "--json"])
    assert run.exit_code == 0, run.output
    shown = json.loads(run.stdout)
    lib = generate(tmp_path / "cli", orders=800, seed=2).to_dict()
    shown.pop("seconds"), lib.pop("seconds")
    assert shown == lib


def test_bad_arguments_are_refused(tmp_path):
    bad = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path), "--format", "xlsx"])
    assert bad.exit_code == 2
    small = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path), "--orders", "10"])
    assert small.exit_code == 2


def test_reruns_replace_an_earlier_data_set(tmp_path):
    generate(tmp_path, orders=1_000, seed=1, fmt="jsonl")
    generate(tmp_path, orders=1_000, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "buyers.csv", "items.csv", "orders_0001.csv", "sellers.csv", "truth.json", "truth_buyers.csv"]
    assert len(read(tmp_path / "orders_0001.csv")) == 1_000


def test_golden_tiny_data_set(tmp_path):
    """One pinned example: if this changes, the generator changed (say so in the change)."""
    generate(tmp_path, orders=300, seed=0)
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert truth["expected_counts"] == {
        "Buyer": 83, "Seller": 15, "Item": 73, "Order": 300, "Address": 68, "Device": 76, "IP": 125,
        "IPNetwork": 101, "Phone": 118, "Payment": 71, "Waybill": 277,
    }
    assert [(r["tactic"], len(r["buyers"]), r["n_orders"]) for r in truth["rings"]] == [
        ("seller_swap", 3, 11), ("refund_abuse", 3, 26)]
    digest = hashlib.sha256((tmp_path / "orders_0001.csv").read_bytes()).hexdigest()
    assert digest == "f3bd1671ac6299367c868fa35ae5acda727a747ff80b60507c4e065cb79fd048"
