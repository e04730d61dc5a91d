"""Options shared by several commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URI: duckdb:///path/file.duckdb (default ./ringwatch.duckdb) or neo4j://host:7687. "
        "Also RINGWATCH_STORE. Neo4j credentials come from NEO4J_USER / NEO4J_PASSWORD.",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON (equal to the library's result).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (deterministic results).")]
Tz = Annotated[
    str | None,
    typer.Option("--tz", help="Time zone for timestamps without an offset (default UTC).", show_default=False),
]
MaxRejectRate = Annotated[
    float | None,
    typer.Option(
        "--max-reject-rate",
        min=0.0,
        max=1.0,
        help="Fail the run when more than this share of rows is rejected (default 0.01).",
        show_default=False,
    ),
]
