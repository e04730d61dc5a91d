"""``ringwatch ingest PATH...``: load input files into the graph store (CONTRACT.md sections 1 and 2)."""

from __future__ import annotations

import codecs
import zoneinfo
from pathlib import Path
from typing import Annotated

import typer

from app.cli import options
from app.cli.console import emit, progress


def _check_usage(tz: str | None, encoding: str | None) -> None:
    """Bad option values are usage errors (exit 2), found before anything is read."""
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {tz!r}; use an IANA name such as Asia/Shanghai"
            raise typer.BadParameter(message, param_hint="--tz") from None
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            message = f"unknown encoding {encoding!r}; use for example gb18030"
            raise typer.BadParameter(message, param_hint="--encoding") from None


def render(result) -> str:
    """The per-file table and where the rejects went."""
    header = ("file", "kind", "read", "stored", "stale", "rejected")
    rows = [(f.path, f.kind, f.read, f.stored, f.stale, f.rejected) for f in result.files]
    rows.append(("total", "", result.read, result.stored, result.stale, result.rejected))
    cells = [header, *[(str(a), str(b), *(f"{n:,}" for n in rest)) for a, b, *rest in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    rate = f"{result.reject_rate:.2%} rejected (limit {result.max_reject_rate:.2%})"
    where = f"rejected rows written to {result.rejects_path}"
    if not result.rejected:
        where = f"no rejected rows ({result.rejects_path})"
    lines += ["", f"{rate}; {where}; {result.seconds:.1f} s"]
    return "\n".join(lines)


def command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Input files or folders. Folders are read for orders*, buyers*, sellers*, items* files in "
            ".csv, .csv.gz, .parquet, .jsonl, .jsonl.gz.",
            show_default=False,
        ),
    ],
    store: options.Store = None,
    tz: options.Tz = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Text encoding of CSV/JSONL files (default: detect UTF-8, with or without BOM, or GB18030).",
            show_default=False,
        ),
    ] = None,
    max_reject_rate: options.MaxRejectRate = None,
    rejects: Annotated[
        Path, typer.Option("--rejects", help="CSV file for rejected rows (replaced on every run).")
    ] = Path("rejects.csv"),
    as_json: options.Json = False,
) -> None:
    """Load input files into the graph store. Exits 1 when more rows are rejected than --max-reject-rate allows."""
    from graph.errors import RejectRateExceeded
    from graph.settings import get_settings
    from graph.store import open_store
    from ingest.pipeline import ingest_paths

    _check_usage(tz, encoding)
    settings = get_settings(store=store, tz=tz, max_reject_rate=max_reject_rate)
    graph_store = open_store(settings=settings)
    try:
        with progress("ingest ") as on_progress:
            result = ingest_paths(
                paths,
                graph_store,
                tz=settings.tz,
                encoding=encoding,
                max_reject_rate=settings.max_reject_rate,
                rejects_path=rejects,
                chunk_rows=settings.chunk_rows,
                on_progress=on_progress,
            )
    finally:
        graph_store.close()
    emit(result.to_dict(), as_json=as_json, human=render(result))
    if not result.ok:
        raise RejectRateExceeded(
            f"{result.rejected:,} of {result.read:,} rows rejected ({result.reject_rate:.2%}), more than "
            f"--max-reject-rate {result.max_reject_rate:g} allows: see {result.rejects_path}, fix the input "
            "or raise the limit"
        )
