"""The ``GraphStore`` protocol: the operations the product needs, nothing more.

Two implementations satisfy it: :class:`graph.store.duckdb_store.DuckDBStore`
(an embedded file, the default) and :class:`graph.store.neo4j_store.Neo4jStore`.
One contract test suite (``tests/test_store_contract.py``) runs over both.

Data crosses this boundary as Arrow tables, never as Python objects per row.
Table schemas are fixed in :mod:`graph.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa

__all__ = ["GraphStore", "UpsertCounts", "Subgraph", "PROJECTIONS", "RESULT_TABLES", "RESULT_ORDER", "DECISIONS"]

# Read-only projections a store serves with ``read_table``.
PROJECTIONS: tuple[str, ...] = ("orders", "buyers", "sellers", "items", "buyer_identifiers")

# Tables a detection run publishes (schemas in graph.schema.RESULT_SCHEMAS).
RESULT_TABLES: tuple[str, ...] = ("rings", "ring_members", "ring_evidence", "buyer_scores")

# Stable row order of result reads (exports must be byte-identical for the same input).
RESULT_ORDER = {
    "rings": "score DESC, ring_id",
    "ring_members": "ring_id, entity_type, member_score DESC, entity_id",
    "ring_evidence": "ring_id, weight DESC, signal",
    "buyer_scores": "score DESC, buyer_id",
}
DECISIONS = ("confirmed", "dismissed", "needs_review")


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did with the rows it was given."""

    stored: int
    stale: int = 0


@dataclass
class Subgraph:
    """A piece of the graph around some entities, ready to draw.

    ``nodes`` has columns ``node_id`` (``"<entity>:<key>"``), ``entity``, ``key``,
    ``display`` (raw value for people), ``n_buyers`` (how many buyers use it;
    for identifiers); ``edges`` has ``source``, ``target``, ``rel``, ``n_orders``,
    ``first_seen``, ``last_seen``. ``truncated`` says a limit cut it.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    truncated: bool = False


@runtime_checkable
class GraphStore(Protocol):
    """Where the graph, the detection runs and the analysts' decisions live.

    Every method is safe to call again with the same arguments (idempotent),
    so batch jobs may retry after a crash.
    """

    uri: str
    """The store URI with any secret removed (safe to log)."""

    # -- ingest -------------------------------------------------------------
    def upsert_orders(self, orders: pa.Table) -> UpsertCounts:
        """Insert or replace orders (schema ``graph.schema.ORDER_SCHEMA``).

        ``order_id`` is unique within ``orders``. A row replaces the stored
        order with the same id unless both carry ``updated_at`` and the row's
        is older; such rows are left out and counted as ``stale``. The orders'
        edges (buyer, seller, item, identifiers, ``USED``) follow the orders.
        Atomic: all rows or none.
        """
        ...

    def upsert_entities(self, entity: str, rows: pa.Table) -> UpsertCounts:
        """Insert or replace ``buyer``, ``seller`` or ``item`` attribute rows (schemas in graph.schema)."""
        ...

    # -- reads --------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Number of nodes per label (``Buyer`` ...) and of edges per relationship type (``PLACED`` ...)."""
        ...

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """A projection from :data:`PROJECTIONS`, for detection and reports.

        ``buyer_identifiers`` has ``buyer_id, kind, key, n_orders, first_seen, last_seen``:
        the ``USED`` edges.
        """
        ...

    def neighbourhood(self, entity: str, ids: list[str], *, limit: int = 500) -> Subgraph:
        """Entities one hop from the given ones in the buyer-seller-identifier graph (orders collapsed)."""
        ...

    def orders_of(self, buyer_ids: list[str], *, columns: list[str] | None = None, limit: int | None = None) -> pa.Table:
        """Orders placed by these buyers, newest first (ORDER_SCHEMA, or only ``columns`` of it)."""
        ...

    # -- detection runs -------------------------------------------------------
    def publish_run(self, run: dict[str, Any], tables: dict[str, pa.Table]) -> None:
        """Store a detection run atomically: readers see the previous run until this returns.

        ``run`` carries at least ``run_id`` (str) and ``finished_at``; ``tables``
        maps each of :data:`RESULT_TABLES` to its table.
        """
        ...

    def runs(self) -> list[dict[str, Any]]:
        """All published runs, newest first."""
        ...

    def read_results(self, name: str, run_id: str | None = None) -> pa.Table:
        """One result table of a run (default: the latest). Empty when no run exists."""
        ...

    def prune_runs(self, keep: int) -> int:
        """Delete all but the newest ``keep`` runs' results; returns how many runs were removed."""
        ...

    # -- batch bookkeeping ------------------------------------------------------
    def ingested_files(self) -> pa.Table:
        """The ingest manifest: ``path, size, sha256, run_id, ingested_at``, one row per path."""
        ...

    def record_ingested_files(self, files: pa.Table) -> None:
        """Insert or replace manifest rows (same columns as :meth:`ingested_files`, keyed by path)."""
        ...

    def acquire_lock(self, holder: dict[str, Any]) -> None:
        """Take the store's batch lock for ``holder`` (``host``, ``pid``, ``started_at``, ``run_id``).

        Raises :class:`~graph.errors.BatchLocked` naming the current holder when a live
        process holds it. A lock whose holder process is gone (same host, no such pid)
        is taken over.
        """
        ...

    def release_lock(self, holder: dict[str, Any]) -> None:
        """Release the lock if ``holder`` still holds it."""
        ...

    # -- analyst decisions ----------------------------------------------------
    def record_decision(self, ring_id: str, decision: str, analyst: str, note: str = "") -> None:
        """Append an analyst decision (``confirmed``, ``dismissed``, ``needs_review``) to a ring's history."""
        ...

    def decisions(self, ring_id: str | None = None) -> pa.Table:
        """Decision history (``ring_id, decision, analyst, note, decided_at``), newest first."""
        ...

    def close(self) -> None:
        """Release connections and file handles."""
        ...
