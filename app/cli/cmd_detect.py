"""``ringwatch detect``: find, type and score rings; store them as a new run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli import options
from app.cli.console import emit, out, progress

TOP_ROWS = 20


def render(result: dict[str, Any], top: int = TOP_ROWS) -> None:
    """Print the run's top rings as a table, then a one-line summary."""
    from rich.table import Table

    rings = result["rings"]
    table = Table(title=f"Top rings of {result['run_id']}", show_lines=False)
    for name, justify in (("ring", "left"), ("type", "left"), ("score", "right"), ("buyers", "right"),
                          ("orders", "right"), ("targets", "left"), ("top signals", "left"), ("change", "left")):
        # Ids and numbers never wrap (they are copied into other commands); prose folds.
        table.add_column(name, justify=justify, no_wrap=name != "top signals", overflow="fold")
    for ring in rings[:top]:
        targets = ring["target_seller_ids"]
        table.add_row(
            ring["ring_id"],
            ring["ring_type"],
            f"{ring['score']:.2f}",
            f"{ring['n_buyers']:,}",
            f"{ring['n_orders']:,}",
            ", ".join(targets[:3]) + (f" +{len(targets) - 3}" if len(targets) > 3 else ""),
            ", ".join(ring["top_signals"]),
            ring["change"],
        )
    if rings:
        out.print(table)
    skipped = [f"{m} ({i.get('reason', '')})" for m, i in result["methods"].items() if not i.get("ran")]
    out.print(
        f"{result['n_rings']:,} rings, {result['n_flagged']:,} scoring 0.5 or more, from "
        f"{result['n_orders']:,} orders of {result['n_buyers']:,} buyers"
        + (f"; skipped: {'; '.join(skipped)}" if skipped else ""),
        highlight=False,
        markup=False,
    )


def command(
    store: options.Store = None,
    seed: options.Seed = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rings shown in the table.")] = TOP_ROWS,
    as_json: options.Json = False,
) -> None:
    """Find, type and score rings in the stored orders; publish them as a new run."""
    from graph.detect.pipeline import run_detection
    from graph.settings import get_settings
    from graph.store import open_store

    settings = get_settings(store=store, seed=seed)
    graph_store = open_store(settings=settings)
    with progress() as on_progress:
        result = run_detection(graph_store, seed=settings.seed, on_progress=on_progress).to_dict()
    if as_json:
        emit(result, as_json=True)
    else:
        render(result, top)
