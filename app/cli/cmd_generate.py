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


Out = Annotated[Path, typer.Option("--out", help="Folder to write (created; earlier generated files replaced).")]
Orders = Annotated[int, typer.Option("--orders", min=200, help="Number of orders.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Format of the orders, buyers, sellers and items files.")]


def command(out: Out, orders: Orders = 100_000, seed: Seed = None, fmt: FormatOpt = Format.csv,
            json_: Json = False) -> None:  # fmt: skip
    """Write a synthetic marketplace (orders, buyers, sellers, items) with planted rings, honest
    look-alikes and the ground truth (truth.json, truth_buyers.csv). See docs/generate.md."""
    from ingest.generate import generate

    with progress("generate ") as on_progress:
        result = generate(out, orders=orders, seed=seed or 0, fmt=fmt.value, on_progress=on_progress)
    c = result.counts
    human = "\n".join([
        f"wrote {c['orders']:,} orders ({c['order_files']} file(s)), {c['buyers']:,} buyers, "
        f"{c['sellers']:,} sellers, {c['items']:,} items",
        f"planted {c['rings']} rings: {c['ring_buyers']:,} accounts, {c['ring_orders']:,} orders",
        f"listed {c['lookalike_groups']:,} honest look-alike groups",
        f"truth: {Path(result.out_dir) / 'truth.json'}, truth_buyers.csv ({result.seconds:.1f} s)",
    ])  # fmt: skip
    emit(result.to_dict(), as_json=json_, human=human)
