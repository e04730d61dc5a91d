"""``ringwatch demo``: generate a data set, run a full batch on the embedded store, open the app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import options
from app.cli.console import out, progress


def command(
    folder: Annotated[Path, typer.Option("--dir", help="Folder for the demo's data, store and exports.")] = Path("demo"),
    orders: Annotated[int, typer.Option("--orders", min=1000, help="Orders to generate.")] = 50_000,
    seed: options.Seed = None,
    app: Annotated[bool, typer.Option("--app/--no-app", help="Open the analyst app at the end.")] = True,
    port: Annotated[int, typer.Option("--port", help="Port of the analyst app.")] = 8501,
) -> None:
    """Generate demo data, ingest it, find rings, print the top ones, then open the analyst app."""
    from graph.store import open_store
    from ingest.batch import run_batch
    from ingest.generate import generate

    seed = seed or 0
    data, export = folder / "data", folder / "out"
    uri = f"duckdb://{(folder / 'ringwatch.duckdb').resolve()}"
    with progress("demo: ") as on_progress:
        generate(data, orders=orders, seed=seed, on_progress=on_progress)
        store = open_store(uri)
        result = run_batch([data], export, store, seed=seed, on_progress=on_progress)
    counts = store.counts()
    out.print("Graph: " + ", ".join(f"{counts[k]:,} {k}" for k in ("Order", "Buyer", "Seller", "Item", "Address",
                                                                    "Device", "IP", "Phone", "Payment")), highlight=False)
    rings = store.read_results("rings").to_pylist()
    out.print(f"Found {len(rings)} rings; top ones:", highlight=False)
    for ring in rings[:10]:
        out.print(f"  {ring['ring_id']}  {ring['ring_type']:<16} score {ring['score']:.2f}  "
                  f"{ring['n_buyers']:>4} buyers  {ring['n_orders']:>5} orders  {ring['top_signals']}",
                  highlight=False, markup=False)
    out.print(f"Exports in {export}/ (reports/index.html); store {uri}", highlight=False)
    if app and result.ok:
        from app.cli.cmd_app import launch

        launch(uri, port=port)
