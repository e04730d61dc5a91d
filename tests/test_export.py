"""``export_run`` and ``ringwatch export``: the contract files of CONTRACT.md section 3."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import re
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.errors import ExportError
from graph.report import export_run
from graph.report.export import BUYER_SCORE_COLUMNS, MEMBER_COLUMNS, RINGS_COLUMNS, report_name
from graph.schema import RESULT_SCHEMAS
from graph.store import open_store
from tests.helpers import T0, entities, orders, table

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'
RAW_PHONE = "13812345678"
ADDRESS = "浙江省杭州市西湖区文三路100号3单元"


def sample_store(path: Path, *, hostile_buyer: str | None = None) -> Any:
    """A store with two published runs, hand-made as the detection pipeline would publish them.

    Run ``run-1`` (the latest) holds ring ``R-1`` (brushing: four buyers sharing a device,
    phone and address, silent five-star orders with near-empty parcels at seller ``s1``) and
    ``R-2`` (malicious buyers: refunds and one-star reviews at ``s2``). Honest buyers ``b8``..``b10``
    and a buyer row without orders (``b11``) are in no ring. Run ``run-0`` holds an earlier ring
    ``R-0`` against ``s1``, confirmed by an analyst. One review is ``SCRIPT``, one receiver name is
    ``FORMULA``. ``hostile_buyer`` adds a ring-1 buyer with that id.
    """
    store = open_store(f"duckdb://{path}")
    ring1 = ["b1", "b2", "b3", "b4"] + ([hostile_buyer] if hostile_buyer else [])
    rows: list[dict[str, Any]] = []
    for i in range(12):
        rows.append(
            dict(
                order_id=f"o{i:02d}", buyer_id=ring1[i % len(ring1)], seller_id="s1",
                created_at=T0 + timedelta(hours=3 * i), amount=9.9, item_id="i1", item_price=99.0,
                ship_address=ADDRESS, address_key="杭州市西湖区文三路100号3单元", receiver_name="张三",
                receiver_phone=RAW_PHONE, phone_key=RAW_PHONE, device_id="dev-A", device_key="dev-A",
                ip="10.1.2.3", ip_key="10.1.2.3", ipnet_key="10.1.2.0/24", tracking_no="SF1234567890",
                waybill_key="SF1234567890", parcel_weight_g=20.0, status="completed", rating=5,
                review_text="很好很好 质量不错", chat_messages=0,
            )
        )  # fmt: skip
    rows[0]["review_text"] = SCRIPT
    rows[1]["receiver_name"] = FORMULA
    for i in range(6):
        rows.append(
            dict(
                order_id=f"m{i}", buyer_id=f"b{5 + i % 3}", seller_id="s2", created_at=T0 + timedelta(days=1, minutes=i),
                amount=50.0, item_id="i2", ship_address="北京市朝阳区建国路88号", address_key="朝阳区建国路88号",
                device_id="dev-B", device_key="dev-B", status="refunded", refund_reason="empty package", rating=1,
                review_text="骗子店",
            )
        )  # fmt: skip
    for i in range(5):
        rows.append(dict(order_id=f"h{i}", buyer_id=f"b{8 + i % 3}", seller_id="s3", created_at=T0 + timedelta(days=i), amount=20.0))
    store.upsert_orders(orders(rows))
    store.upsert_entities("buyer", entities("buyer", [{"buyer_id": "b11"}]))
    store.upsert_entities("seller", entities("seller", [{"seller_id": "s1", "name": "好店旗舰店"}]))

    def ring(rid: str, rtype: str, score: float, buyers: list[str], seller: str, n_orders: int, first, last, signals: str, change: str) -> dict:
        return dict(
            ring_id=rid, ring_type=rtype, score=score, n_buyers=len(buyers), n_sellers=1, n_orders=n_orders,
            first_order_at=first, last_order_at=last, target_seller_ids=seller, top_signals=signals, change=change,
            methods="identity;dense_block", summary=f"Possible ring of {len(buyers)} accounts; phone {RAW_PHONE}.",
        )  # fmt: skip

    def publish(run_id: str, finished: str, rings: list[dict], members: list[dict], evidence: list[dict], scores: list[dict]) -> None:
        tables = {"rings": rings, "ring_members": members, "ring_evidence": evidence, "buyer_scores": scores}
        store.publish_run(
            {"run_id": run_id, "started_at": finished, "finished_at": finished, "seed": 0, "parameters": {"min_score": 0.2}},
            {name: table(RESULT_SCHEMAS[name], rows) for name, rows in tables.items()},
        )

    publish(
        "run-0", "2026-02-01T00:00:00Z",
        [ring("R-0", "brushing", 0.8, ["b1", "b2"], "s1", 4, T0 - timedelta(days=40), T0 - timedelta(days=39), "silent_orders", "new")],
        [dict(ring_id="R-0", entity_type="buyer", entity_id=b, role="core", member_score=0.9) for b in ("b1", "b2")],
        [], [],
    )  # fmt: skip
    store.record_decision("R-0", "confirmed", "analyst-wang", "confirmed with the platform")
    members = [dict(ring_id="R-1", entity_type="buyer", entity_id=b, role="core", member_score=0.9 - 0.01 * i) for i, b in enumerate(ring1)]
    members += [
        dict(ring_id="R-1", entity_type="seller", entity_id="s1", role="target", member_score=1.0),
        dict(ring_id="R-1", entity_type="phone", entity_id=RAW_PHONE, role="shared_identifier", member_score=0.8),
        dict(ring_id="R-1", entity_type="address", entity_id="杭州市西湖区文三路100号3单元", role="shared_identifier", member_score=0.8),
        dict(ring_id="R-1", entity_type="device", entity_id="dev-A", role="shared_identifier", member_score=0.7),
        dict(ring_id="R-2", entity_type="seller", entity_id="s2", role="target", member_score=1.0),
    ]
    members += [dict(ring_id="R-2", entity_type="buyer", entity_id=f"b{i}", role="core", member_score=0.8) for i in (5, 6, 7)]
    evidence = [
        dict(ring_id="R-1", signal="shared_identifiers", value=0.9, strength=1.0, weight=0.55,
             explanation=f"4 members share 1 device and phone {RAW_PHONE}; the most specific is used by 4 accounts in all"),
        dict(ring_id="R-1", signal="five_star_reviews", value=1.0, strength=0.8, weight=0.45,
             explanation="100% of the ring's 12 ratings were five stars (similar random groups: 40%)"),
        dict(ring_id="R-2", signal="refunds", value=1.0, strength=0.9, weight=1.0,
             explanation="100% of the ring's 6 orders to its targets were refunded (similar random groups: 5%)"),
    ]  # fmt: skip
    scores = [dict(buyer_id=b, score=0.9, ring_id="R-1", ring_type="brushing") for b in ring1]
    scores += [dict(buyer_id=f"b{i}", score=0.7123456789, ring_id="R-2", ring_type="malicious_buyers") for i in (5, 6, 7)]
    scores += [dict(buyer_id="b8", score=0.05)]  # b9, b10, b11 are missing: the export must still list them
    publish(
        "run-1", "2026-03-05T00:00:00Z",
        [
            ring("R-2", "malicious_buyers", 0.7, ["b5", "b6", "b7"], "s2", 6, T0 + timedelta(days=1), T0 + timedelta(days=1, minutes=5), "refunds", "new"),
            ring("R-1", "brushing", 0.91, ring1, "s1", 12, T0, T0 + timedelta(hours=33), "shared_identifiers;five_star_reviews", "new"),
        ],
        members, evidence, scores,
    )  # fmt: skip
    store.record_decision("R-1", "needs_review", "analyst-li", f"check <b>dev-A</b>; receiver phone {RAW_PHONE}")
    return store


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One masked CSV/JSON/HTML export of the sample store, shared by the read-only tests."""
    base = tmp_path_factory.mktemp("export")
    store = sample_store(base / "store.duckdb")
    result = export_run(store, base / "out")
    return store, result, base / "out"


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_contract_files_have_the_exact_headers_and_row_order(exported):
    _store, result, out = exported
    assert set(result.files) >= {"rings.csv", "ring_members.csv", "buyer_scores.csv", "rings.json", "reports/index.html"}

    rings = read_csv(out / "rings.csv")
    assert rings[0] == list(RINGS_COLUMNS) == [
        "ring_id", "ring_type", "score", "n_buyers", "n_sellers", "n_orders",
        "first_order_at", "last_order_at", "target_seller_ids", "top_signals", "change",
    ]  # fmt: skip
    assert [r[0] for r in rings[1:]] == ["R-1", "R-2"]  # highest score first
    r1 = dict(zip(rings[0], rings[1], strict=True))
    assert r1["first_order_at"] == "2026-03-01T12:00:00Z" and r1["last_order_at"] == "2026-03-02T21:00:00Z"
    assert r1["score"] == "0.910000" and r1["top_signals"] == "shared_identifiers;five_star_reviews"

    members = read_csv(out / "ring_members.csv")
    assert members[0] == list(MEMBER_COLUMNS) == ["ring_id", "entity_type", "entity_id", "role", "member_score"]
    assert [m[0] for m in members[1:]] == sorted([m[0] for m in members[1:]], key=["R-1", "R-2"].index)
    assert [m[2] for m in members[1:5]] == ["b1", "b2", "b3", "b4"]  # by member score within a ring

    scores = read_csv(out / "buyer_scores.csv")
    assert scores[0] == list(BUYER_SCORE_COLUMNS) == ["buyer_id", "score", "ring_id", "ring_type"]
    by_buyer = {row[0]: row for row in scores[1:]}
    assert set(by_buyer) == {f"b{i}" for i in range(1, 12)}  # every buyer seen in the store
    assert by_buyer["b11"] == ["b11", "0.000000", "", ""]
    assert by_buyer["b5"] == ["b5", "0.712346", "R-2", "malicious_buyers"]
    values = [float(row[1]) for row in scores[1:]]
    assert values == sorted(values, reverse=True)

    doc = json.loads((out / "rings.json").read_text(encoding="utf-8"))
    assert [r["ring_id"] for r in doc["rings"]] == ["R-1", "R-2"]
    assert doc["rings"][0]["target_seller_ids"] == ["s1"]
    assert doc["rings"][0]["evidence"][0]["signal"] == "shared_identifiers"
    assert {m["entity_type"] for m in doc["rings"][0]["members"]} == {"buyer", "seller", "phone", "address", "device"}


def test_the_same_store_gives_byte_identical_exports(exported, tmp_path):
    store, _result, out = exported
    again = export_run(store, tmp_path / "again")
    for name in ("rings.csv", "ring_members.csv", "buyer_scores.csv", "rings.json"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert again.files == _result.files


def test_personal_data_is_masked_by_default(exported):
    _store, result, out = exported
    assert result.masked is True
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert RAW_PHONE not in text, path
            assert "文三路" not in text, path  # the street is cut; the district stays
            assert "10.1.2.3" not in text, path
    members = read_csv(out / "ring_members.csv")
    assert ["R-1", "phone", "138****5678", "shared_identifier", "0.800000"] in members
    assert any(m[1] == "address" and m[2].startswith("杭州市西湖区 #") for m in members)
    assert json.loads((out / "rings.json").read_text(encoding="utf-8"))["masked"] is True
    page = (out / "reports" / "R-1.html").read_text(encoding="utf-8")
    assert "138****5678" in page and "张*" in page and "10.1.2.0/24" in page
    assert "Personal data is masked" in page


def test_no_mask_only_when_asked_and_recorded(tmp_path):
    store = sample_store(tmp_path / "store.duckdb")
    result = export_run(store, tmp_path / "out", mask=False)
    assert result.masked is False
    assert json.loads((tmp_path / "out" / "rings.json").read_text(encoding="utf-8"))["masked"] is False
    members = read_csv(tmp_path / "out" / "ring_members.csv")
    assert ["R-1", "phone", RAW_PHONE, "shared_identifier", "0.800000"] in members
    page = (tmp_path / "out" / "reports" / "R-1.html").read_text(encoding="utf-8")
    assert RAW_PHONE in page and ADDRESS in page
    assert "NOT masked" in page and "--no-mask" in page
    assert "NOT masked" in (tmp_path / "out" / "reports" / "index.html").read_text(encoding="utf-8")


def test_formula_cells_are_neutralised_in_every_csv(tmp_path):
    store = sample_store(tmp_path / "store.duckdb", hostile_buyer=FORMULA)
    export_run(store, tmp_path / "out", formats=["csv"])
    members = read_csv(tmp_path / "out" / "ring_members.csv")
    scores = read_csv(tmp_path / "out" / "buyer_scores.csv")
    assert ["R-1", "buyer", "'" + FORMULA] in [m[:3] for m in members]
    assert "'" + FORMULA in [s[0] for s in scores]
    for name in ("rings.csv", "ring_members.csv", "buyer_scores.csv"):
        for row in read_csv(tmp_path / "out" / name)[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), (name, cell)


def test_ring_filter_exports_only_those_rings(exported, tmp_path):
    store, _result, _out = exported
    result = export_run(store, tmp_path / "one", ring_ids=["R-2"], formats=["csv", "html"])
    assert [r[0] for r in read_csv(tmp_path / "one" / "rings.csv")[1:]] == ["R-2"]
    assert {r[0] for r in read_csv(tmp_path / "one" / "buyer_scores.csv")[1:]} == {"b5", "b6", "b7"}
    assert result.files == (
        "buyer_scores.csv", "reports/R-2.html", "reports/index.html", "ring_members.csv", "rings.csv",
    )  # fmt: skip
    with pytest.raises(ExportError, match="R-9"):
        export_run(store, tmp_path / "none", ring_ids=["R-9"])


def test_a_store_without_runs_says_what_to_do(tmp_path):
    store = open_store(f"duckdb://{tmp_path / 'empty.duckdb'}")
    with pytest.raises(ExportError, match="ringwatch detect"):
        export_run(store, tmp_path / "out")


def test_unknown_format_is_refused(exported, tmp_path):
    with pytest.raises(ValueError, match="xls"):
        export_run(exported[0], tmp_path / "out", formats=["csv", "xls"])


def test_report_file_names_are_safe():
    assert report_name("R-1a2b") == "R-1a2b"
    for hostile in ("../../etc/passwd", "index", "a b/c", ""):
        name = report_name(hostile)
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and name != "index", name
    assert report_name("a/b") != report_name("a_b")


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from app.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    captured = capsys.readouterr()
    return int(stop.value.code or 0), captured.out, captured.err


def test_cli_json_equals_the_library_result(exported, tmp_path, capsys):
    store, _result, _out = exported
    library = export_run(store, tmp_path / "out", formats=["csv", "json"], ring_ids=["R-1"]).to_dict()
    code, stdout, _err = _cli(
        ["export", "--out", str(tmp_path / "out"), "--store", store.uri, "--format", "csv,json", "--ring", "R-1", "--json"],
        capsys,
    )
    assert code == 0
    assert json.loads(stdout) == library


def test_cli_usage_and_run_errors(exported, tmp_path, capsys):
    store, _result, _out = exported
    code, _out_text, err = _cli(["export", "--out", str(tmp_path / "o"), "--store", store.uri, "--format", "xls"], capsys)
    assert code == 2 and "xls" in err
    code, _out_text, err = _cli(["export", "--out", str(tmp_path / "o"), "--store", store.uri, "--ring", "R-9"], capsys)
    assert code == 1 and "R-9" in err
    code, out_text, err = _cli(["export", "--out", str(tmp_path / "o"), "--store", store.uri, "--no-mask"], capsys)
    assert code == 0 and "NOT masked" in out_text and "--no-mask" in err


def test_generated_data_set_exports_end_to_end(tmp_path):
    """Generate ~3k orders, ingest, detect, export: the files hold the contract and the reports render."""
    generate = pytest.importorskip("ingest.generate", reason="ingest.generate (the synthetic data generator) is not built yet")
    pipeline = pytest.importorskip("ingest.pipeline", reason="ingest.pipeline (ingest_paths) is not built yet")
    from graph.detect.pipeline import run_detection

    data_dir = tmp_path / "data"
    generate.generate(data_dir, orders=3000, seed=1)
    store = open_store(f"duckdb://{tmp_path / 'store.duckdb'}")
    pipeline.ingest_paths([data_dir], store, rejects_path=tmp_path / "rejects.csv")
    detection = run_detection(store, seed=0)
    result = export_run(store, tmp_path / "out")
    assert result.n_rings == detection.rings.num_rows > 0
    rings = read_csv(tmp_path / "out" / "rings.csv")
    assert rings[0] == list(RINGS_COLUMNS) and len(rings) == result.n_rings + 1
    assert len(read_csv(tmp_path / "out" / "buyer_scores.csv")) - 1 == store.counts()["Buyer"]
    for row in rings[1:]:
        page = (tmp_path / "out" / "reports" / f"{report_name(row[0])}.html").read_text(encoding="utf-8")
        assert row[0] in page and "Why it was flagged" in page
    assert len(json.loads((tmp_path / "out" / "rings.json").read_text(encoding="utf-8"))["rings"]) == result.n_rings


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def forking(monkeypatch):
    """Reports render in forked workers even for the sample store's two rings."""
    from graph.report import export

    monkeypatch.setattr(export, "_PARALLEL_MIN_RINGS", 1)
    return export


def test_reports_rendered_in_workers_equal_those_rendered_in_one_process(exported, forking, tmp_path):
    store, _result, out = exported
    result = export_run(store, tmp_path / "out", workers=2)
    assert _files(tmp_path / "out") == _files(out)
    assert result.files == _result.files
    assert not multiprocessing.active_children()


def test_a_failing_report_fails_the_export_in_the_parent(exported, forking, tmp_path, monkeypatch):
    def broken(data, ring_id, **_kw):
        raise ExportError(f"cannot render {ring_id}")

    monkeypatch.setattr(forking, "ring_context", broken)
    with pytest.raises(ExportError, match="cannot render R-"):
        export_run(exported[0], tmp_path / "out", workers=2)
    assert not multiprocessing.active_children()


def test_a_worker_that_dies_fails_the_export(exported, forking, tmp_path, monkeypatch):
    monkeypatch.setattr(forking, "ring_context", lambda *_a, **_kw: os._exit(3))  # only workers get here
    with pytest.raises(BrokenProcessPool):
        export_run(exported[0], tmp_path / "out", workers=2)
    assert not multiprocessing.active_children()


def test_few_rings_render_without_forking(exported, tmp_path, monkeypatch):
    from graph.report import export

    monkeypatch.setattr(export, "ProcessPoolExecutor", None)  # calling it would fail the export
    export_run(exported[0], tmp_path / "out", workers=2)
    assert _files(tmp_path / "out") == _files(exported[2])
