"""``ringwatch export``: write the latest run's rings, members, scores and reports (CONTRACT.md section 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import options
from app.cli.console import emit, err, progress

FORMAT_NAMES = ("csv", "json", "html", "pdf")


def _formats(value: str) -> list[str]:
    asked = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = sorted(set(asked) - set(FORMAT_NAMES))
    if unknown or not asked:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown) or repr(value)}; choose from {','.join(FORMAT_NAMES)}"
        )
    return asked


def command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder (created if needed).", file_okay=False, show_default=False)
    ],
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: csv, json, html, pdf (pdf needs Chromium).")
    ] = "csv,json,html",
    rings: Annotated[
        list[str] | None,
        typer.Option("--ring", help="Export only this ring (repeat, or separate ids with commas).", show_default=False),
    ] = None,
    store: options.Store = None,
    no_mask: Annotated[
        bool,
        typer.Option(
            "--no-mask",
            help="Do NOT mask personal data (phones, addresses, names, IPs, waybills). The reports record it.",
        ),
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="Penalty rule set (TOML) for the reports; default RINGWATCH_RULES_FILE or the shipped example.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Write rings.csv, ring_members.csv, buyer_scores.csv, rings.json and per-ring reports of the latest run."""
    from graph.report import export_run
    from graph.settings import get_settings
    from graph.store import open_store

    wanted = _formats(formats)
    ring_ids = [r.strip() for value in rings or [] for r in value.split(",") if r.strip()] or None
    settings = get_settings(store=store, rules_file=rules)
    graph_store = open_store(settings=settings)
    if no_mask:
        err.print("warning: exporting WITHOUT masking personal data (--no-mask)", highlight=False, markup=False)
    with progress("export ") as on_progress:
        result = export_run(
            graph_store,
            out_dir,
            formats=wanted,
            ring_ids=ring_ids,
            mask=not no_mask,
            rules=settings.rules_file,
            on_progress=on_progress,
        ).to_dict()
    emit(
        result,
        as_json=as_json,
        human=(
            f"{result['n_rings']:,} rings, {result['n_members']:,} members, {result['n_buyers']:,} buyers of run "
            f"{result['run_id']} written to {result['out_dir']} ({len(result['files'])} files"
            f"{'' if result['masked'] else ', personal data NOT masked'})"
        ),
    )
