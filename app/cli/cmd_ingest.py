"""`ringwatch ingest` (being built; see the open issues)."""

from __future__ import annotations

from graph.errors import RingWatchError


def command() -> None:
    """Not built yet."""
    raise RingWatchError("'ringwatch ingest' is not built yet")
