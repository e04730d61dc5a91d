"""`ringwatch generate`: write a synthetic marketplace with planted rings and its ground truth."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from app.cli.console import emit, progress
from app.cli.options import Json, Seed


class Format(str, Enum):
    """File formats of the generated input files (CONTRACT.md section 1)."""

    csv = "csv"
    csv_gz = "csv.gz"
    parquet = "parquet"
    jsonl = "jsonl"


def command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (created; earlier generated files replaced).")],
    orders: Annotated[int, typer.Option("--orders", min=200, help="Number of orders.")] = 100_000,
    seed: Seed = None,
    fmt: Annotated[Format, typer.Option("--format", help="Format of the orders, buyers, sellers and items files.")] = Format.csv,
    json_: Json = False,
) -> None:
    """Write a synthetic marketplace (orders, buyers, sellers, items) with planted rings, honest
    look-alikes and the ground truth (truth.json, truth_buyers.csv)."""
    from ingest.generate import generate

    with progress("generate ") as on_progress:
        result = generate(out, orders=orders, seed=0 if seed is None else seed, fmt=fmt.value, on_progress=on_progress)
    c = result.counts
    human = (
        f"wrote {c['orders']:,} orders in {c['order_files']} file(s), {c['buyers']:,} buyers, {c['sellers']:,} sellers, "
        f"{c['items']:,} items to {result.out_dir} in {result.seconds:.1f} s\n"
        f"planted {c['rings']} rings ({c['ring_buyers']:,} accounts, {c['ring_orders']:,} orders) and "
        f"{c['lookalike_groups']:,} honest look-alike groups; truth in truth.json and truth_buyers.csv"
    )
    emit(result.to_dict(), as_json=json_, human=human)
