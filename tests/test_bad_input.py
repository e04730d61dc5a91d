"""The bad-input corpus: each case with the message or rejects it gives, and its accounting."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graph.errors import InputFileError
from graph.store import open_store
from ingest.pipeline import REJECT_COLUMNS, ingest_paths
from ingest.readers import BLOCK_SIZE

HEADER = "order_id,buyer_id,seller_id,created_at,amount,status,rating,updated_at,review_text"


@pytest.fixture
def store(tmp_path):
    graph_store = open_store(f"duckdb:///{tmp_path / 'rw.duckdb'}")
    yield graph_store
    graph_store.close()


def csv_file(path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def row(order_id: str, *, buyer="B1", created="2026-03-01T10:00:00+08:00", amount="9.90", status="paid",
        rating="", updated="", review="") -> str:  # fmt: skip
    return ",".join([order_id, buyer, "S1", created, amount, status, rating, updated, review])


def run(tmp_path: Path, store, *paths: Path, **options):
    return ingest_paths(list(paths), store, rejects_path=tmp_path / "rejects.csv", **options)


def rejects(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "rejects.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == REJECT_COLUMNS
        return list(reader)


def stored(store, column: str = "order_id") -> dict[str, dict]:
    return {r[column]: r for r in store.read_table("orders").to_pylist()}


def accounting(result) -> tuple[int, int, int, int]:
    assert result.read == result.stored + result.stale + result.rejected
    return result.read, result.stored, result.stale, result.rejected


# -- files that cannot be read at all ------------------------------------------------------


def test_empty_file_stops_the_run_and_loads_nothing_from_it(tmp_path, store):
    good = csv_file(tmp_path / "orders_1.csv", row("O1"))
    empty = tmp_path / "orders_2.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"orders_2\.csv: is empty: a CSV file needs at least a header row"):
        run(tmp_path, store, good, empty)
    assert list(stored(store)) == ["O1"]  # the file before it was loaded


def test_header_only_reads_zero_rows(tmp_path, store):
    result = run(tmp_path, store, csv_file(tmp_path / "orders.csv"))
    assert accounting(result) == (0, 0, 0, 0)
    assert result.ok and rejects(tmp_path) == []


def test_missing_required_column_names_the_column(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", "O1,B1,S1", header="order_id,buyer_id,seller_id")
    with pytest.raises(InputFileError, match=r"orders\.csv: orders file lacks required column\(s\) created_at"):
        run(tmp_path, store, path)
    assert stored(store) == {}


def test_binary_garbage_is_an_input_file_error(tmp_path, store):
    path = tmp_path / "orders.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputFileError, match=r"orders\.csv: is not UTF-8 text.*--encoding"):
        run(tmp_path, store, path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.csv.gz", b"order_id,buyer_id\n", r"orders\.csv\.gz: is not a readable gzip file"),
        ("orders.jsonl.gz", gzip.compress(b"".join(b'{"id": "%d"}\n' % i**3 for i in range(99_999)))[:99_999],
         r"is not a readable gzip file"),
        ("orders.parquet", b"PAR1 not really", r"orders\.parquet: is not a readable Parquet file"),
    ],
)
def test_wrong_format_is_an_input_file_error(tmp_path, store, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        run(tmp_path, store, path)


def test_a_file_that_breaks_half_way_loads_nothing(tmp_path, store):
    rows = [row(f"O{i}") for i in range(3_000)]
    path = csv_file(tmp_path / "orders.csv", *rows)
    with path.open("ab") as handle:  # invalid UTF-8 well past the sample the encoding is judged on
        handle.write(b"x" * (2 * BLOCK_SIZE) + b"\n" + row("O9").encode() + b"\xff\xfe\n")
    with pytest.raises(InputFileError, match=r"is not valid utf-8 text.*--encoding"):
        run(tmp_path, store, path, chunk_rows=1_000)
    assert stored(store) == {}


def test_a_file_named_otherwise_is_read_by_its_columns(tmp_path, store):
    export = csv_file(tmp_path / "export_march.csv", row("O1"))
    result = run(tmp_path, store, export)
    assert [f.kind for f in result.files] == ["orders"]
    notes = csv_file(tmp_path / "notes.csv", "a,b", header="x,y")
    with pytest.raises(InputFileError, match="cannot tell what this file holds: name it orders"):
        run(tmp_path, store, notes)


# -- encodings -------------------------------------------------------------------------------


def test_bom_is_ignored(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1"), header="\ufeff" + HEADER)
    assert accounting(run(tmp_path, store, path)) == (1, 1, 0, 0)


def test_gbk_file_is_detected(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", review="质量很好，物流快"), encoding="gbk")
    assert accounting(run(tmp_path, store, path)) == (1, 1, 0, 0)
    assert stored(store)["O1"]["review_text"] == "质量很好，物流快"


def test_latin1_text_with_an_explicit_encoding(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", review="crème brûlée"), encoding="latin-1")
    run(tmp_path, store, path, encoding="latin-1")
    assert stored(store)["O1"]["review_text"] == "crème brûlée"


# -- bad rows -------------------------------------------------------------------------------------


def test_ragged_rows_are_rejected_with_their_row_numbers(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1"), "O2,B2,S1", row("O3"), row("O4") + ",surplus", row("O5"))
    result = run(tmp_path, store, path)
    assert accounting(result) == (5, 3, 0, 2)
    got = [(r["row"], r["code"], json.loads(r["raw"])) for r in rejects(tmp_path)]
    assert got == [("2", "ragged_row", "O2,B2,S1"), ("4", "ragged_row", row("O4") + ",surplus")]
    assert sorted(stored(store)) == ["O1", "O3", "O5"]


def test_nul_bytes_are_rejected(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", review="fine"), row("O2", review="bro\x00ken"))
    assert accounting(run(tmp_path, store, path)) == (2, 1, 0, 1)
    (bad,) = rejects(tmp_path)
    assert (bad["row"], bad["field"], bad["code"]) == ("2", "review_text", "nul_byte")


def test_a_one_megabyte_field_is_read_and_rejected(tmp_path, store):
    huge = "好" * (BLOCK_SIZE // 2)  # 1.5 MB of UTF-8: longer than the reader's first block size
    path = csv_file(tmp_path / "orders.csv", row("O1"), row("O2", review=huge), row("O3"))
    assert accounting(run(tmp_path, store, path)) == (3, 2, 0, 1)
    (bad,) = rejects(tmp_path)
    assert (bad["row"], bad["field"], bad["code"]) == ("2", "review_text", "field_too_long")
    assert len(bad["raw"]) < 5_000  # the rejects file shows the start of the value, not all of it
    assert sorted(stored(store)) == ["O1", "O3"]


def test_missing_required_value(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", buyer=""), row("O2", buyer="  "), row("O3"))
    assert accounting(run(tmp_path, store, path)) == (3, 1, 0, 2)
    assert {(r["field"], r["code"], r["reason"]) for r in rejects(tmp_path)} == {
        ("buyer_id", "missing_required", "buyer_id is required")
    }


def test_negative_amount(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", amount="-5"), row("O2", amount="\"¥1,299.00\""))
    assert accounting(run(tmp_path, store, path)) == (2, 1, 0, 1)
    (bad,) = rejects(tmp_path)
    assert (bad["row"], bad["field"], bad["code"]) == ("1", "amount", "negative_amount")
    assert stored(store)["O2"]["amount"] == 1299.0


def test_rating_seven(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", rating="7"), row("O2", rating="4.5"), row("O3", rating="5"))
    assert accounting(run(tmp_path, store, path)) == (3, 1, 0, 2)
    assert [(r["row"], r["code"]) for r in rejects(tmp_path)] == [("1", "rating_out_of_range"), ("2", "rating_out_of_range")]
    assert stored(store)["O3"]["rating"] == 5


def test_unparseable_timestamps(tmp_path, store):
    path = csv_file(
        tmp_path / "orders.csv",
        row("O1", created="yesterday"),
        row("O2", created="2026-02-30 10:00:00"),
        row("O3", updated="13/01/2026"),
        row("O4", created="2026-03-01 10:00:00"),
    )
    assert accounting(run(tmp_path, store, path)) == (4, 1, 0, 3)
    assert [(r["row"], r["field"], r["code"]) for r in rejects(tmp_path)] == [
        ("1", "created_at", "bad_timestamp"),
        ("2", "created_at", "bad_timestamp"),
        ("3", "updated_at", "bad_timestamp"),
    ]


def test_epoch_milliseconds_and_naive_times_in_the_given_zone(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", created="1772367300000"), row("O2", created="2026-03-01 20:15:00"))
    run(tmp_path, store, path, tz="Asia/Shanghai")
    moment = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert [stored(store)[o]["created_at"] for o in ("O1", "O2")] == [moment, moment]


def test_bad_status_and_quantity(tmp_path, store):
    path = csv_file(
        tmp_path / "orders.csv", "O1,B1,S1,2026-03-01,1,PAID,0", "O2,B1,S1,2026-03-01,1,lost,1", "O3,B1,S1,2026-03-01,1,paid,",
        header="order_id,buyer_id,seller_id,created_at,amount,status,quantity",
    )  # fmt: skip
    assert accounting(run(tmp_path, store, path)) == (3, 1, 0, 2)
    assert [(r["row"], r["code"]) for r in rejects(tmp_path)] == [("1", "bad_quantity"), ("2", "bad_status")]
    assert stored(store)["O3"]["quantity"] == 1  # absent means the default


def test_bad_boolean_in_buyers(tmp_path, store):
    path = csv_file(tmp_path / "buyers.csv", "B1,yes", "B2,maybe", "B3,FALSE", header="buyer_id,real_name_verified")
    result = run(tmp_path, store, path)
    assert accounting(result) == (3, 2, 0, 1)
    assert [(r["row"], r["field"], r["code"]) for r in rejects(tmp_path)] == [("2", "real_name_verified", "bad_boolean")]


def test_a_row_with_several_problems_is_one_reject(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", row("O1", buyer="", amount="-1", rating="9"))
    assert accounting(run(tmp_path, store, path)) == (1, 0, 0, 1)
    (bad,) = rejects(tmp_path)
    assert bad["code"] == "missing_required"
    assert bad["reason"] == "buyer_id is required; amount must be a number >= 0; rating must be a whole number from 1 to 5"


def test_rejects_cells_cannot_run_as_spreadsheet_formulas(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = csv_file(Path("=HYPERLINK(1).csv"), row("O1", amount="-1", review="=cmd|' /C calc'!A0"))
    run(tmp_path, store, path)
    (bad,) = rejects(tmp_path)
    assert bad["source_file"] == "'=HYPERLINK(1).csv"
    assert json.loads(bad["raw"])["review_text"] == "=cmd|' /C calc'!A0"  # inside JSON: inert text


# -- duplicates and updates -------------------------------------------------------------------------


def test_duplicate_order_ids_in_one_file_apply_in_file_order(tmp_path, store):
    path = csv_file(
        tmp_path / "orders.csv",
        row("O1", status="paid", updated="2026-03-01T10:00:00Z"),
        row("O2", status="paid"),
        row("O1", status="shipped", updated="2026-03-01T11:00:00Z"),
        row("O1", status="created", updated="2026-03-01T09:00:00Z"),  # older than what came before: stale
        row("O2", status="refunded"),  # no updated_at: the later row wins
    )
    assert accounting(run(tmp_path, store, path)) == (5, 4, 1, 0)
    assert {k: v["status"] for k, v in stored(store).items()} == {"O1": "shipped", "O2": "refunded"}


def test_stale_updates_across_files_and_runs(tmp_path, store):
    first = csv_file(tmp_path / "orders_1.csv", row("O1", status="completed", updated="2026-03-02T00:00:00Z"))
    older = csv_file(tmp_path / "orders_2.csv", row("O1", status="paid", updated="2026-03-01T00:00:00Z"))
    newer = csv_file(tmp_path / "orders_3.csv", row("O1", status="refunded", updated="1772409600000"))
    assert accounting(run(tmp_path, store, first, older)) == (2, 1, 1, 0)
    assert stored(store)["O1"]["status"] == "completed"
    assert accounting(run(tmp_path, store, older, newer)) == (2, 1, 1, 0)
    assert stored(store)["O1"]["status"] == "refunded"


def test_reject_rate_over_the_limit_is_reported_not_raised(tmp_path, store):
    path = csv_file(tmp_path / "orders.csv", *[row(f"O{i}") for i in range(9)], row("O9", amount="-1"))
    result = run(tmp_path, store, path, max_reject_rate=0.05)
    assert (result.reject_rate, result.ok) == (0.1, False)
    assert len(stored(store)) == 9  # good rows are stored all the same
