"""Readers: every format gives the same rows, in chunks, with their row numbers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.errors import InputFileError
from ingest.readers import detect_encoding, discover, open_input

RECORDS = [
    {"order_id": "O1", "buyer_id": "B1", "seller_id": "S1", "created_at": "2026-03-01T20:15:00+08:00",
     "amount": "12.50", "ship_address": "广东省深圳市南山区 科技园路8号, 3栋201", "review_text": 'said "great"\nreally'},
    {"order_id": "O2", "buyer_id": "B2", "seller_id": "S1", "created_at": "1772367300000",
     "amount": None, "ship_address": None, "review_text": "=1+1"},
    {"order_id": "O3", "buyer_id": "B1", "seller_id": "S2", "created_at": "2026-03-02 08:00:00",
     "amount": "7", "ship_address": "北京市朝阳区", "review_text": None},
]  # fmt: skip


def write(path: Path, records: list[dict], fmt: str) -> Path:
    """Write records in one of the contract's formats (None = empty / absent)."""
    names = list(records[0])
    if fmt.startswith("csv"):
        lines = [",".join(names)]
        for r in records:
            cells = ["" if r[n] is None else '"' + r[n].replace('"', '""') + '"' for n in names]
            lines.append(",".join(cells))
        data = ("\n".join(lines) + "\n").encode()
    elif fmt.startswith("jsonl"):
        data = "".join(json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) + "\n" for r in records).encode()
    else:
        pq.write_table(pa.Table.from_pylist(records, pa.schema([(n, pa.string()) for n in names])), path)
        return path
    path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
    return path


def read_all(path: Path, fmt: str, **options) -> tuple[pa.Table, np.ndarray, list]:
    chunks = list(open_input(path, fmt, **options))
    tables = [c.table for c in chunks if c.table.num_rows]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return table, np.concatenate([c.rows for c in chunks]), [r for c in chunks for r in c.rejects]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "jsonl", "jsonl.gz"])
def test_every_format_reads_the_same_rows(tmp_path, fmt):
    path = write(tmp_path / f"orders.{fmt}", RECORDS, fmt)
    table, rows, rejects = read_all(path, fmt.removesuffix(".gz"))
    got = [{k: v for k, v in r.items() if v is not None} for r in table.to_pylist()]
    assert got == [{k: v for k, v in r.items() if v is not None} for r in RECORDS]
    assert rows.tolist() == [1, 2, 3]
    assert rejects == []


def test_chunks_stay_within_chunk_rows_and_number_rows(tmp_path):
    records = [{**RECORDS[2], "order_id": f"O{i}"} for i in range(2_500)]
    path = write(tmp_path / "orders.csv", records, "csv")
    chunks = list(open_input(path, "csv", chunk_rows=1_000))
    assert [c.table.num_rows for c in chunks] == [1_000, 1_000, 500]
    assert np.concatenate([c.rows for c in chunks]).tolist() == list(range(1, 2_501))
    assert chunks[1].table["order_id"][0].as_py() == "O1000"


def test_ragged_rows_are_handed_out_with_their_row_numbers(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('order_id,buyer_id,note\nO1,B1,"two\nlines"\nO2,B2\nO3,B3,x\nO4,B4,x,extra\nO5,B5,y\n')
    table, rows, rejects = read_all(path, "csv")
    assert table["order_id"].to_pylist() == ["O1", "O3", "O5"]
    assert rows.tolist() == [1, 3, 5]
    assert [(r.row, r.code, r.raw) for r in rejects] == [(2, "ragged_row", "O2,B2"), (4, "ragged_row", "O4,B4,x,extra")]


def test_jsonl_values_become_text_and_broken_lines_are_rejected(tmp_path):
    path = tmp_path / "orders.jsonl"
    lines = [
        '{"order_id": 1, "amount": 12.5, "verified": true, "created_at": "2026-03-01T20:15:00+08:00", "tags": ["a"]}',
        "",
        '{"order_id": "O2", "amount": "13", "created_at": 1772367300000}',
        "{not json",
        "[1, 2]",
        '{"order_id": "O3", "created_at": ""}',
    ]
    path.write_text("\n".join(lines) + "\n")
    table, rows, rejects = read_all(path, "jsonl")
    got = table.select(["order_id", "amount", "created_at"]).to_pylist()
    assert got == [
        {"order_id": "1", "amount": "12.5", "created_at": "2026-03-01T20:15:00+08:00"},  # offset kept as written
        {"order_id": "O2", "amount": "13", "created_at": "1772367300000"},
        {"order_id": "O3", "amount": None, "created_at": None},
    ]
    assert table["verified"][0].as_py() == "true"
    assert json.loads(table["tags"][0].as_py()) == ["a"]
    assert rows.tolist() == [1, 2, 5]
    assert [(r.row, r.code) for r in rejects] == [(3, "bad_json"), (4, "bad_json")]


def test_parquet_keeps_its_types(tmp_path):
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"Order_ID": ["O1", ""], "amount": [1.5, None], "qty": pa.array([1, 2], pa.int16())}), path)
    table, rows, _ = read_all(path, "parquet")
    assert table.column_names == ["order_id", "amount", "qty"]
    assert table["order_id"].to_pylist() == ["O1", None]
    assert pa.types.is_floating(table["amount"].type) and pa.types.is_integer(table["qty"].type)


def test_headers_are_matched_case_insensitively_and_keep_their_spelling(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("\ufeff Order_ID ,Buyer_Id,Promo Code\nO1,B1,X\n".encode())
    reader = open_input(path, "csv")
    assert reader.columns == ["order_id", "buyer_id", "promo code"]
    assert reader.headers["promo code"] == "Promo Code"


def test_duplicate_header_is_an_input_file_error(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,ORDER_ID\n1,2\n")
    with pytest.raises(InputFileError, match="appears twice"):
        open_input(path, "csv")


def test_discover_scans_folders_for_input_names(tmp_path):
    for name in ["orders_1.csv", "orders_2.csv.gz", "buyers.parquet", "items.jsonl.gz", "sellers.jsonl",
                 "notes.csv", ".orders_hidden.csv", "orders.txt", "truth.json"]:  # fmt: skip
        (tmp_path / name).write_text("")
    found = [(f.path.name, f.format, f.kind) for f in discover([tmp_path])]
    assert found == [
        ("buyers.parquet", "parquet", "buyers"),
        ("items.jsonl.gz", "jsonl", "items"),
        ("orders_1.csv", "csv", "orders"),
        ("orders_2.csv.gz", "csv", "orders"),
        ("sellers.jsonl", "jsonl", "sellers"),
    ]


def test_discover_names_what_is_wrong(tmp_path):
    (tmp_path / "export.xlsx").write_text("")
    with pytest.raises(InputFileError, match="no such file"):
        discover([tmp_path / "missing.csv"])
    with pytest.raises(InputFileError, match=r"unsupported file type.*\.csv"):
        discover([tmp_path / "export.xlsx"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="holds no input files"):
        discover([empty])
    (tmp_path / "my_export.csv").write_text("order_id\n")
    assert [f.kind for f in discover([tmp_path / "my_export.csv"])] == [None]  # decided by its columns


def test_encoding_is_detected(tmp_path):
    text = "order_id,ship_address\nO1,广东省深圳市南山区\n"
    cases = {"utf8.csv": text.encode(), "bom.csv": text.encode("utf-8-sig"), "gbk.csv": text.encode("gbk")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert [detect_encoding(tmp_path / n) for n in cases] == ["utf-8", "utf-8", "gb18030"]
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputFileError, match="--encoding"):
        detect_encoding(tmp_path / "binary.csv")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_jsonl_in_other_encodings(tmp_path, encoding):
    path = tmp_path / "orders.jsonl"
    path.write_bytes('{"order_id": "O1", "ship_address": "广东省深圳市"}\n{"order_id": "O2"}\n'.encode(encoding))
    table, rows, _ = read_all(path, "jsonl")
    assert table.to_pylist() == [{"order_id": "O1", "ship_address": "广东省深圳市"}, {"order_id": "O2", "ship_address": None}]


def test_row_numbers_stay_right_across_chunks_with_ragged_rows(tmp_path):
    rng = np.random.default_rng(7)
    ragged = set(rng.choice(np.arange(1, 400), 60, replace=False).tolist())
    lines = ["order_id,buyer_id"] + [f"O{i},B" + (",extra" if i in ragged else "") for i in range(1, 400)]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n")
    chunks = list(open_input(path, "csv", chunk_rows=7))
    got = {int(r): o for c in chunks for r, o in zip(c.rows, c.table["order_id"].to_pylist(), strict=True)}
    assert got == {i: f"O{i}" for i in range(1, 400) if i not in ragged}
    assert sorted(r.row for c in chunks for r in c.rejects) == sorted(ragged)
    assert all(c.table.num_rows <= 7 for c in chunks)
