"""End to end: files in, store out; re-runs, crashes, formats, the CLI and the generator's truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from graph.store import open_store
from graph.store.lock import new_holder
from ingest.pipeline import STAGING_PREFIX, ingest_paths

RINGWATCH = Path(sys.executable).with_name("ringwatch")
NODE_LABELS = ("Buyer", "Seller", "Item", "Order", "Address", "Device", "IP", "IPNetwork", "Phone", "Payment", "Waybill")


def open_at(path: Path):
    return open_store(f"duckdb:///{path}")


def snapshot(store_path: Path) -> tuple[list[dict], dict[str, int]]:
    """Everything a re-run must reproduce: the orders (in id order) and every count."""
    store = open_at(store_path)
    try:
        orders = store.read_table("orders").sort_by("order_id").drop_columns(["source_file"])
        return orders.to_pylist(), store.counts()
    finally:
        store.close()


def ingest_into(store_path: Path, *paths: Path, rejects: Path, **options):
    store = open_at(store_path)
    try:
        return ingest_paths(list(paths), store, rejects_path=rejects, **options)
    finally:
        store.close()


def orders_csv(path: Path, n: int) -> Path:
    lines = ["order_id,buyer_id,seller_id,created_at,amount,ship_address,receiver_phone,ip,updated_at"]
    for i in range(n):
        lines.append(
            f"O{i:06d},B{i % 997},S{i % 31},2026-03-{1 + i % 28:02d} {i % 24:02d}:00:00,{i % 500}.5,"
            f"杭州市西湖区文三路{i % 89}号{1 + i % 7}栋{100 + i % 13}室,138****{i % 9999:04d},10.{i % 7}.{i % 251}.{i % 199},"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- one tiny golden case ---------------------------------------------------------------------

GOLDEN = """order_id,buyer_id,seller_id,created_at,amount,ship_address,receiver_phone,device_id,ip,payment_account,tracking_no,rating,promo
O1,B1,S1,2026-03-01T10:00:00+08:00,99.00,广东省深圳市南山区科技园路8号3号楼201室,+86 138-1234-5678, dev-1 ,10.0.0.1,pay-1,sf 123,5,spring
O2,B2,S1,2026-03-01 02:00:00,99.00,深圳市南山区科技园路８号三栋201,13812345678,dev-1,10.0.0.2,pay-2,SF123,5,
O3,B3,S1,1772330400000,99.00,深圳市南山区科技园路8号3栋202,138****5678,dev-2,2001:db8::1,pay-2,SF124,4,"x, ""y"" z"
O4,B3,S2,1772330400,15.50,北京市朝阳区建国路1号,,,not-an-ip,,,,
"""


def test_golden_case(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(GOLDEN, encoding="utf-8")
    result = ingest_into(tmp_path / "rw.duckdb", path, rejects=tmp_path / "rejects.csv")
    assert (result.read, result.stored, result.stale, result.rejected) == (4, 4, 0, 0)
    orders, counts = snapshot(tmp_path / "rw.duckdb")
    assert {label: counts[label] for label in NODE_LABELS} == {
        "Buyer": 3, "Seller": 2, "Item": 0, "Order": 4, "Address": 3, "Device": 2, "IP": 3, "IPNetwork": 2,
        "Phone": 2, "Payment": 2, "Waybill": 2,
    }  # fmt: skip
    keys = [(o["address_key"], o["phone_key"], o["ip_key"], o["ipnet_key"], o["waybill_key"]) for o in orders]
    assert keys == [
        ("深圳市南山区科技园路8号3栋201", "13812345678", "10.0.0.1", "10.0.0.0/24", "SF123"),
        ("深圳市南山区科技园路8号3栋201", "13812345678", "10.0.0.2", "10.0.0.0/24", "SF123"),
        ("深圳市南山区科技园路8号3栋202", "masked:138****5678", "2001:db8::1", "2001:db8::/64", "SF124"),
        ("朝阳区建国路1", None, None, None, None),
    ]
    assert {o["created_at"].isoformat() for o in orders} == {"2026-03-01T02:00:00+00:00"}  # offset, naive, ms, s
    assert [o["extra"] and json.loads(o["extra"]) for o in orders] == [{"promo": "spring"}, None, {"promo": 'x, "y" z'}, None]
    assert [o["source_row"] for o in orders] == [1, 2, 3, 4]


# -- re-runs ----------------------------------------------------------------------------------------


def test_ingesting_twice_changes_nothing(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", 3_000)
    first = ingest_into(tmp_path / "rw.duckdb", path, rejects=tmp_path / "r.csv", chunk_rows=1_000)
    before = snapshot(tmp_path / "rw.duckdb")
    again = ingest_into(tmp_path / "rw.duckdb", path, rejects=tmp_path / "r.csv", chunk_rows=1_000)
    assert snapshot(tmp_path / "rw.duckdb") == before
    assert (first.stored, again.stored, again.stale) == (3_000, 3_000, 0)


@pytest.mark.parametrize("fmt", ["csv.gz", "parquet", "jsonl"])
def test_every_format_gives_the_same_store(tmp_path, fmt):
    from ingest.generate import generate

    generate(tmp_path / "csv", orders=600, seed=3)
    generate(tmp_path / fmt, orders=600, seed=3, fmt=fmt)
    ingest_into(tmp_path / "csv.duckdb", tmp_path / "csv", rejects=tmp_path / "r.csv")
    result = ingest_into(tmp_path / f"{fmt}.duckdb", tmp_path / fmt, rejects=tmp_path / "r.csv")
    assert result.rejected == 0
    assert snapshot(tmp_path / f"{fmt}.duckdb") == snapshot(tmp_path / "csv.duckdb")


def test_a_run_killed_half_way_completes_on_the_next_run(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", 12_000)
    env = {**os.environ, "RINGWATCH_CHUNK_ROWS": "1000", "TMPDIR": str(tmp_path)}
    command = [str(RINGWATCH), "--log-json", "ingest", str(path), "--store", f"duckdb:///{tmp_path / 'crash.duckdb'}",
               "--rejects", str(tmp_path / "r.csv")]  # fmt: skip
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr:  # progress arrives as JSON log lines
            entry = json.loads(line)
            if entry.get("stage", "").startswith("storing") and entry.get("done", 0) > 0:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    half, _ = snapshot(tmp_path / "crash.duckdb")
    assert 0 < len(half) < 12_000  # the kill did land half-way
    assert len(list(tmp_path.glob(f"{STAGING_PREFIX}*"))) == 1  # the killed run's staging folder is left

    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    ingest_into(tmp_path / "clean.duckdb", path, rejects=tmp_path / "r2.csv", chunk_rows=1_000)
    assert snapshot(tmp_path / "crash.duckdb") == snapshot(tmp_path / "clean.duckdb")
    assert list(tmp_path.glob(f"{STAGING_PREFIX}*")) == []  # the next run removed it


def test_staging_folders_of_live_ingests_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owners = {"dead": {**new_holder("ingest"), "pid": dead.pid}, "live": {**new_holder("ingest"), "pid": 1}}
    for name, owner in owners.items():
        folder = tmp_path / "tmp" / f"{STAGING_PREFIX}{name}"
        folder.mkdir(parents=True)
        (folder / "owner.json").write_text(json.dumps(owner))
    (tmp_path / "tmp" / f"{STAGING_PREFIX}unknown").mkdir()  # no owner record yet: may be starting now
    ingest_into(tmp_path / "rw.duckdb", orders_csv(tmp_path / "orders.csv", 10), rejects=tmp_path / "r.csv")
    left = sorted(p.name.removeprefix(STAGING_PREFIX) for p in (tmp_path / "tmp").iterdir())
    assert left == ["live", "unknown"]


# -- the command line -----------------------------------------------------------------------------------


def test_cli_json_equals_the_library_result(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", 50)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("O999999,B1,S1,not a time,1,,,,\n")
    library = ingest_into(tmp_path / "lib.duckdb", path, rejects=tmp_path / "r.csv", max_reject_rate=0.5).to_dict()
    args = ["ingest", str(path), "--store", f"duckdb:///{tmp_path / 'cli.duckdb'}", "--rejects", str(tmp_path / "r.csv"),
            "--max-reject-rate", "0.5", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert {**printed, "seconds": 0} == {**library, "seconds": 0}
    assert printed["rejected"] == 1 and printed["files"][0]["rejects_by_code"] == {"bad_timestamp": 1}


def test_cli_exits_1_after_printing_when_too_many_rows_are_rejected(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", 20)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("O999999,,S1,2026-03-01,1,,,,\n")
    done = subprocess.run(
        [str(RINGWATCH), "ingest", str(path), "--store", f"duckdb:///{tmp_path / 'rw.duckdb'}",
         "--rejects", str(tmp_path / "r.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "orders.csv" in done.stdout and "21" in done.stdout and "r.csv" in done.stdout
    assert "1 of 21 rows rejected" in done.stderr and "--max-reject-rate" in done.stderr


def test_cli_exits_1_with_one_clear_message_on_an_unreadable_file(tmp_path):
    empty = tmp_path / "orders.csv"
    empty.write_bytes(b"")
    done = subprocess.run(
        [str(RINGWATCH), "ingest", str(empty), "--store", f"duckdb:///{tmp_path / 'rw.duckdb'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    message = " ".join(done.stderr.split())  # the console wraps long lines
    assert message == f"error: {empty}: is empty: a CSV file needs at least a header row naming its columns"


# -- the generator's truth ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from ingest.generate import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out / "data", orders=3_000, seed=11)
    result = ingest_into(out / "rw.duckdb", out / "data", rejects=out / "rejects.csv")
    truth = json.loads((out / "data" / "truth.json").read_text())
    return result, snapshot(out / "rw.duckdb")[1], truth["expected_counts"]


def test_generated_data_loads_without_rejects(generated):
    result, _, expected = generated
    assert result.rejected == 0 and result.stale == 0
    assert sum(f.read for f in result.files if f.kind == "orders") == expected["Order"]


@pytest.mark.parametrize("label", NODE_LABELS)
def test_generated_counts_match_the_truth(generated, label):
    _, counts, expected = generated
    assert counts[label] == expected[label]


def test_buyer_phones_are_keyed_like_receiver_phones(tmp_path):
    (tmp_path / "buyers.csv").write_text("buyer_id,phone,real_name_verified\nB1,+86 138 1234 5678,yes\nB2,138****5678,0\n")
    ingest_into(tmp_path / "rw.duckdb", tmp_path / "buyers.csv", rejects=tmp_path / "r.csv")
    store = open_at(tmp_path / "rw.duckdb")
    try:
        buyers = store.read_table("buyers").to_pylist()
    finally:
        store.close()
    assert [(b["phone_key"], b["real_name_verified"]) for b in buyers] == [
        ("13812345678", True),
        ("masked:138****5678", False),
    ]


def test_repeated_ids_across_chunks_apply_in_file_order(tmp_path):
    # Chunks of two rows: O1's versions sit in three chunks, and chunks are stored several at a time.
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,buyer_id,seller_id,created_at,status,updated_at\n"
        "O1,B1,S1,2026-03-01 10:00:00,paid,2026-03-01T10:00:00Z\n"
        "O2,B1,S1,2026-03-01 10:00:00,paid,\n"
        "O3,B1,S1,2026-03-01 10:00:00,paid,\n"
        "O1,B1,S1,2026-03-01 10:00:00,shipped,2026-03-01T11:00:00Z\n"
        "O1,B1,S1,2026-03-01 10:00:00,created,2026-03-01T09:00:00Z\n"
        "O2,B1,S1,2026-03-01 10:00:00,refunded,\n",
        encoding="utf-8",
    )
    buyers = tmp_path / "buyers.csv"
    buyers.write_text("buyer_id,credit_level\nB1,1\nB2,2\nB3,3\nB1,4\nB2,5\n", encoding="utf-8")
    result = ingest_into(tmp_path / "rw.duckdb", path, buyers, rejects=tmp_path / "r.csv", chunk_rows=2)
    assert (result.read, result.stored, result.stale) == (11, 10, 1)
    store = open_at(tmp_path / "rw.duckdb")
    try:
        orders = {r["order_id"]: r["status"] for r in store.read_table("orders").to_pylist()}
        credit = {r["buyer_id"]: r["credit_level"] for r in store.read_table("buyers").to_pylist()}
    finally:
        store.close()
    assert orders == {"O1": "shipped", "O2": "refunded", "O3": "paid"}
    assert credit == {"B1": 4, "B2": 5, "B3": 3}  # a later buyers row replaces an earlier one
