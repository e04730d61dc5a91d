"""``ringwatch batch``: ingest + detect + export in one idempotent run, for schedulers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import options
from app.cli.console import emit, progress


def render(result) -> str:
    lines = [f"batch {result.run_id}: {result.status}"]
    if result.ingest:
        i = result.ingest
        lines.append(f"  ingest: read {i['read']:,}  stored {i['stored']:,}  stale {i['stale']:,}  rejected {i['rejected']:,}")
    else:
        lines.append("  ingest: no new or changed input files")
    changes = {k: len(v) for k, v in result.changes.items() if v}
    lines.append("  rings: " + (", ".join(f"{n} {k}" for k, n in changes.items()) or "none"))
    lines.append(f"  alerts: {result.alerts}" + (f"  (notify exit {result.notify.get('exit_code')})" if result.notify else ""))
    lines.append("  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    return "\n".join(lines)


def command(
    inputs: Annotated[list[Path], typer.Option("--input", help="Input file or folder (repeatable).", exists=True)],
    out: Annotated[Path, typer.Option("--out", help="Output folder: exports, rejects.csv, run.json, alerts.jsonl.")],
    more_inputs: Annotated[
        list[Path] | None, typer.Argument(help="More input files or folders (so --input a b works).", exists=True)
    ] = None,
    store: options.Store = None,
    full: Annotated[bool, typer.Option("--full", help="Re-read every input file and re-detect.")] = False,
    seed: options.Seed = None,
    tz: options.Tz = None,
    max_reject_rate: options.MaxRejectRate = None,
    formats: Annotated[str, typer.Option("--format", help="Export formats: csv,json,html,pdf.")] = "csv,json,html",
    alert_threshold: Annotated[float, typer.Option("--alert-threshold", min=0, max=1, help="Alert on new/grown rings scoring at least this.")] = 0.5,
    notify_cmd: Annotated[str | None, typer.Option("--notify-cmd", help="Command run with the alerts file as its last argument.")] = None,
    keep_runs: Annotated[int, typer.Option("--keep-runs", min=1, help="Detection runs whose ring snapshots the store keeps.")] = 30,
    as_json: options.Json = False,
) -> None:
    """Ingest new or changed files, re-detect, export, and report what changed (exit 1 when the run failed)."""
    from graph.settings import get_settings
    from graph.store import open_store
    from ingest.batch import run_batch

    settings = get_settings(store=store, seed=seed, tz=tz, max_reject_rate=max_reject_rate)
    graph_store = open_store(settings=settings)
    with progress() as on_progress:
        result = run_batch(
            [*inputs, *(more_inputs or [])], out, graph_store, full=full, seed=settings.seed, tz=settings.tz,
            max_reject_rate=settings.max_reject_rate, chunk_rows=settings.chunk_rows, formats=tuple(f.strip() for f in formats.split(",") if f.strip()),
            alert_threshold=alert_threshold, notify_cmd=notify_cmd, keep_runs=keep_runs, on_progress=on_progress,
        )
    emit(result.to_dict(), as_json=as_json, human=render(result))
    if not result.ok:
        raise typer.Exit(1)
