"""Writing the data files: the formats of CONTRACT.md section 1, deterministic bytes, a clean folder."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from graph.errors import ConfigError

from .clock import iso_local

__all__ = ["FORMATS", "Writer", "prepare_folder"]

FORMATS: tuple[str, ...] = ("csv", "csv.gz", "parquet", "jsonl")
_TS_COLUMNS = ("created_at", "shipped_at", "delivered_at", "confirmed_at", "reviewed_at", "registered_at")
_OUT_NAMES = ("orders", "buyers", "sellers", "items")


def _as_format(table: pa.Table, fmt: str) -> pa.Table:
    """Timestamps as ISO 8601 text with +08:00 for text formats, typed with the offset in Parquet."""
    for name in _TS_COLUMNS:
        if name not in table.column_names:
            continue
        col = table[name].combine_chunks()
        secs = col.fill_null(0).to_numpy()
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        if fmt == "parquet":
            new = pa.array(secs, pa.timestamp("s", tz="+08:00"), mask=~valid)
        else:
            new = iso_local(secs, valid)
        table = table.set_column(table.column_names.index(name), name, new)
    return table


class Writer:
    """Writes tables in the chosen format; deterministic bytes for the same tables."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.ext = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet", "jsonl": "jsonl"}[fmt]

    def write(self, table: pa.Table, path: Path) -> None:
        table = _as_format(table, self.fmt)
        if self.fmt in ("csv", "csv.gz"):
            import pyarrow.csv as pcsv

            opts = pcsv.WriteOptions(quoting_style="needed")
            if self.fmt == "csv":
                pcsv.write_csv(table, str(path), opts)
            else:
                with pa.CompressedOutputStream(str(path), "gzip") as out:
                    pcsv.write_csv(table, out, opts)
        elif self.fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, str(path), compression="zstd")
        else:
            import duckdb

            con = duckdb.connect()
            try:
                con.execute("SET threads=1")
                con.register("chunk", table)
                con.execute("COPY chunk TO ? (FORMAT json)", [str(path)])
            finally:
                con.close()


def prepare_folder(out_dir: Path) -> None:
    """Create the folder, and remove a data set generated into it before."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create the output folder {out_dir}: {exc.strerror}"
        raise ConfigError(f"{problem}; choose a writable --out folder") from exc
    # A previous data set in the folder would be read together with this one: remove it (only our file names).
    for name in _OUT_NAMES:
        for old in out_dir.glob(f"{name}*"):
            ours = old.name.split(".")[0].split("_")[0] == name and old.name.endswith(tuple("." + e for e in FORMATS))
            if old.is_file() and ours:
                old.unlink()
    for old in ("truth.json", "truth_buyers.csv"):
        (out_dir / old).unlink(missing_ok=True)
