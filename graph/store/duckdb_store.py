"""The embedded store: one DuckDB file, no server.

Orders are one wide table whose foreign-key columns are the order's edges
(``PLACED``, ``SOLD_BY``, ``CONTAINS`` and the identifier relationships of
:mod:`graph.model`); ``USED`` edges are an aggregate view over it. Detection
runs are kept per ``run_id`` and published by flipping one pointer inside the
same transaction that wrote them, so readers never see half a run.

Connections are short-lived (one per operation, or one per ``session()``):
DuckDB lets only one process hold a file for writing, and a batch job must be
able to run while the analyst app is open.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import BatchLocked, ConfigError, StoreError, StoreUnavailable
from graph.model import IDENTIFIER_COLUMNS, ORDER_IDENTIFIER_REL
from graph.schema import ENTITY_SCHEMAS, ORDER_SCHEMA, RESULT_SCHEMAS
from graph.store.base import DECISIONS, PROJECTIONS, RESULT_ORDER, RESULT_TABLES, Subgraph, UpsertCounts
from graph.store.lock import describe_holder, holder_is_alive

__all__ = ["DuckDBStore", "SCHEMA_VERSION"]

ENTITY_TABLES = {"buyer": ("buyers", "buyer_id"), "seller": ("sellers", "seller_id"), "item": ("items", "item_id")}
LOCK_WAIT_SECONDS = 30.0
# DuckDB's buffer pool per connection: big queries spill to disk instead of growing.
CONNECTION_MEMORY_LIMIT = "3GB"
# While upserting. An upsert needs little: the pool only caches blocks already written, and with the
# ingest pipeline's ~1 GB the 10M-orders ingest peaked at 4.06 GB RSS with 3GB here.
INGEST_MEMORY_LIMIT = "2GB"
# While reading a whole projection for detection: the sorted result is held in the pool before it
# leaves as Arrow (10M orders: 35M identifier rows; under 3GB that read failed now and then).
READ_MEMORY_LIMIT = "6GB"

def _used_sql(source: str, kinds: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)) -> str:
    """Buyer -> identifier (USED) edges aggregated from the key columns of ``source`` (a table name)."""
    parts = " UNION ALL ".join(
        f"SELECT buyer_id, '{kind}' AS kind, {IDENTIFIER_COLUMNS[kind][0]} AS key, created_at "
        f"FROM {source} WHERE {IDENTIFIER_COLUMNS[kind][0]} IS NOT NULL"
        for kind in kinds
    )
    return f"""SELECT buyer_id, kind, key, count(*)::BIGINT AS n_orders,
       min(created_at) AS first_seen, max(created_at) AS last_seen
FROM ({parts}) GROUP BY buyer_id, kind, key"""


# Every buyer -> identifier link: the USED edges, and registered phones (buyers file) no order of the buyer
# carries, with no orders.
BUYER_IDENTIFIERS_VIEW = f"""CREATE OR REPLACE VIEW buyer_identifiers AS {_used_sql('orders')}
UNION ALL
SELECT b.buyer_id, 'phone' AS kind, b.phone_key AS key, 0::BIGINT AS n_orders,
       NULL::TIMESTAMPTZ AS first_seen, NULL::TIMESTAMPTZ AS last_seen
FROM buyers b WHERE b.phone_key IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.buyer_id = b.buyer_id AND o.phone_key = b.phone_key)"""


# An identifier's display value: its most common raw spelling, ties to the smallest (DuckDB's mode() breaks
# ties by scan order, which made exports differ run to run), and how many buyers use it.
_DESCRIBE_SQL = """WITH o AS (SELECT {col} AS key, {raw} AS raw, buyer_id FROM orders WHERE {col} IN (SELECT unnest(?)))
SELECT key, spelling.display, n_buyers
FROM (SELECT key, count(DISTINCT buyer_id) AS n_buyers FROM o GROUP BY key)
LEFT JOIN (SELECT key, first(raw ORDER BY n DESC, raw) AS display
           FROM (SELECT key, raw, count(*) AS n FROM o WHERE raw IS NOT NULL GROUP BY key, raw) GROUP BY key) spelling
USING (key)"""


def _create_from_schema(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema, prefix: str = "") -> None:
    """Create a table whose columns are the Arrow schema's (one source of truth: graph.schema)."""
    empty = schema.empty_table()  # noqa: F841 - referenced by name in SQL
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT {prefix} * FROM empty")


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    _create_from_schema(con, "orders", ORDER_SCHEMA)
    for entity, (table, _key) in ENTITY_TABLES.items():
        _create_from_schema(con, table, ENTITY_SCHEMAS[entity])
    con.execute(BUYER_IDENTIFIERS_VIEW)
    con.execute(
        "CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, published_at TIMESTAMPTZ, info JSON)"
    )
    for name in RESULT_TABLES:
        _create_from_schema(con, name, RESULT_SCHEMAS[name], prefix="NULL::VARCHAR AS run_id,")
    con.execute(
        "CREATE TABLE IF NOT EXISTS decisions (ring_id VARCHAR, decision VARCHAR, analyst VARCHAR, "
        "note VARCHAR, decided_at TIMESTAMPTZ)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS ingested_files (path VARCHAR PRIMARY KEY, size BIGINT, sha256 VARCHAR, "
        "run_id VARCHAR, ingested_at TIMESTAMPTZ)"
    )
    con.execute("CREATE TABLE IF NOT EXISTS batch_lock (holder JSON)")


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    """Registered phones join the buyer -> identifier links (``BUYER_IDENTIFIERS_VIEW``)."""
    con.execute(BUYER_IDENTIFIERS_VIEW)


def _checkpoint_without_vacuum(con: duckdb.DuckDBPyConnection) -> None:
    """Checkpoint without DuckDB's vacuum, after a session that only appended rows.

    Appends leave no deleted rows to reclaim; the vacuum would only re-pack the
    last, partly filled row group of each upsert into its neighbours, rewriting
    them (~2.5 CPU seconds per 1M orders, a third of the store's ingest work).
    After replacements or deletes the checkpoint at close vacuums as usual.
    """
    try:
        con.execute("SET max_vacuum_tasks = 0")
    except duckdb.Error:  # a DuckDB without the setting: the checkpoint at close does it all
        return
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error:  # another connection of this process is mid-transaction: leave it to close
        pass
    finally:
        with contextlib.suppress(duckdb.Error):  # the connection is closed next either way
            con.execute("RESET max_vacuum_tasks")


# Ordered migrations; the store's version is the number applied.
MIGRATIONS = (_migration_1, _migration_2)
SCHEMA_VERSION = len(MIGRATIONS)


class DuckDBStore:
    """A :class:`~graph.store.base.GraphStore` in one DuckDB file.

    Parameters
    ----------
    uri : str
        ``duckdb:///path/file.duckdb`` (relative: ``duckdb:///./x.duckdb``) or a plain path.

    Example
    -------
    >>> store = DuckDBStore("duckdb:///./ringwatch.duckdb")  # doctest: +SKIP
    >>> store.counts()["Order"]  # doctest: +SKIP
    """

    def __init__(self, uri: str):
        parts = urlsplit(uri)
        raw = (parts.netloc + parts.path) if parts.scheme == "duckdb" else uri
        if parts.scheme == "duckdb" and raw.startswith("/./"):
            raw = raw[1:]
        if not raw or raw in ("/", ":memory:"):
            raise ConfigError(f"{uri!r} names no file: use duckdb:///path/file.duckdb")
        self.path = Path(raw).absolute()
        self.uri = f"duckdb://{self.path}"
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the folder of {self.uri}: {exc}") from exc
        with self._connect() as con:
            self._migrate(con)

    # -- connections ----------------------------------------------------------
    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                con = duckdb.connect(str(self.path))
                con.execute("SET TimeZone = 'UTC'")  # timestamps leave the store as UTC on any machine
                con.execute("SET enable_progress_bar = false")  # progress is ours to report, not DuckDB's
                con.execute(f"SET memory_limit = '{CONNECTION_MEMORY_LIMIT}'")
                # Strings stay uncompressed: DuckDB's dict_fsst costs ~15 us per order row at every write, more
                # than the rest of the ingest; the file is ~2.5x larger and reads are faster (docs/ingest.md).
                with contextlib.suppress(duckdb.NotImplementedException):  # a DuckDB without dict_fsst
                    con.execute("SET disabled_compression_methods = 'dict_fsst'")
                return con
            except duckdb.IOException as exc:
                # Another process (a running batch) holds the file; wait for it a little.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"cannot open {self.uri}: {exc}. If a batch is running, wait for it to finish."
                    ) from exc
                time.sleep(0.2)
            except duckdb.Error as exc:
                raise StoreUnavailable(f"cannot open {self.uri}: {exc}") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        held = getattr(self._local, "con", None)
        if held is not None:
            yield held
            return
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def session(self) -> Iterator[DuckDBStore]:
        """Hold one connection for several operations in this thread (faster, keeps the file)."""
        if getattr(self._local, "con", None) is not None:
            yield self
            return
        self._local.con = self._open()
        self._local.deleted = False
        try:
            yield self
        finally:
            con, self._local.con = self._local.con, None
            if not self._local.deleted:
                _checkpoint_without_vacuum(con)
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.uri} was written by a newer RingWatch (schema {current} > {SCHEMA_VERSION}); upgrade RingWatch"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            MIGRATIONS[version - 1](con)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            con.execute("COMMIT")

    def close(self) -> None:
        """Nothing to release between operations; kept for the protocol."""

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------
    def upsert_orders(self, orders: pa.Table) -> UpsertCounts:
        incoming = orders.select(ORDER_SCHEMA.names).cast(ORDER_SCHEMA)
        ids = incoming.select(["order_id", "updated_at"])  # noqa: F841 - used in SQL
        with self._transaction() as con:
            con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
            # Only the ids already stored need a decision; the rows themselves go in once, straight
            # from Arrow (a new order, the usual case, costs no copy and no delete).
            known = con.sql(
                """SELECT i.order_id, coalesce(i.updated_at < o.updated_at, false) AS stale
                FROM ids i JOIN orders o USING (order_id)"""
            ).to_arrow_table()
            stale = known.filter(known.column("stale")).column("order_id")
            replaced = known.filter(pc.invert(known.column("stale"))).select(["order_id"])  # noqa: F841
            if replaced.num_rows:
                con.execute("DELETE FROM orders WHERE order_id IN (SELECT order_id FROM replaced)")
                self._local.deleted = True
            fresh = incoming.filter(pc.invert(pc.is_in(incoming.column("order_id"), stale))) if len(stale) else incoming
            con.execute("INSERT INTO orders SELECT * FROM fresh")
        return UpsertCounts(stored=fresh.num_rows, stale=orders.num_rows - fresh.num_rows)

    def upsert_entities(self, entity: str, rows: pa.Table) -> UpsertCounts:
        if entity not in ENTITY_TABLES:
            raise ValueError(f"entity must be one of {list(ENTITY_TABLES)}, not {entity!r}")
        table, key = ENTITY_TABLES[entity]
        schema = ENTITY_SCHEMAS[entity]
        incoming = rows.select(schema.names).cast(schema)  # noqa: F841 - used in SQL
        with self._transaction() as con:
            con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
            deleted = con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM incoming)").fetchall()
            con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
        if deleted and deleted[0][0]:
            self._local.deleted = True
        return UpsertCounts(stored=rows.num_rows)

    # -- reads --------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        ident = {kind: col for kind, (col, _raw) in IDENTIFIER_COLUMNS.items()}
        node_sql = {
            "Buyer": "SELECT count(*) FROM (SELECT buyer_id FROM orders UNION SELECT buyer_id FROM buyers)",
            "Seller": "SELECT count(*) FROM (SELECT seller_id FROM orders UNION SELECT seller_id FROM sellers "
            "UNION SELECT seller_id FROM items WHERE seller_id IS NOT NULL)",
            "Item": "SELECT count(*) FROM (SELECT item_id FROM orders WHERE item_id IS NOT NULL "
            "UNION SELECT item_id FROM items)",
            "Order": "SELECT count(*) FROM orders",
            "Address": f"SELECT count(DISTINCT {ident['address']}) FROM orders",
            "Device": f"SELECT count(DISTINCT {ident['device']}) FROM orders",
            "IP": f"SELECT count(DISTINCT {ident['ip']}) FROM orders",
            "IPNetwork": f"SELECT count(DISTINCT {ident['ipnet']}) FROM orders",
            "Phone": f"SELECT count(*) FROM (SELECT {ident['phone']} AS key FROM orders "
            "UNION SELECT phone_key FROM buyers) WHERE key IS NOT NULL",
            "Payment": f"SELECT count(DISTINCT {ident['payment']}) FROM orders",
            "Waybill": f"SELECT count(DISTINCT {ident['waybill']}) FROM orders",
        }
        edge_sql = {
            "PLACED": "SELECT count(*) FROM orders",
            "SOLD_BY": "SELECT count(*) FROM orders",
            "CONTAINS": "SELECT count(item_id) FROM orders",
            **{rel: f"SELECT count({ident[kind]}) FROM orders" for kind, rel in ORDER_IDENTIFIER_REL.items()},
            "IN_NETWORK": "SELECT count(*) FROM (SELECT DISTINCT ip_key, ipnet_key FROM orders "
            "WHERE ip_key IS NOT NULL AND ipnet_key IS NOT NULL)",
            "LISTED_BY": "SELECT count(seller_id) FROM items",
            "REGISTERED_PHONE": "SELECT count(phone_key) FROM buyers",
            "USED": "SELECT count(*) FROM buyer_identifiers WHERE n_orders > 0",
        }
        with self._connect() as con:
            return {name: int(con.execute(sql).fetchall()[0][0]) for name, sql in {**node_sql, **edge_sql}.items()}

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        if name not in PROJECTIONS:
            raise ValueError(f"unknown projection {name!r}; expected one of {PROJECTIONS}")
        order_by = {
            "orders": "order_id",
            "buyers": "buyer_id",
            "sellers": "seller_id",
            "items": "item_id",
            "buyer_identifiers": "buyer_id, kind, key",
        }[name]
        with self._connect() as con:
            known = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
            wanted = columns or known
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise ValueError(f"{name} has no column(s) {unknown}; it has {known}")
            cols = ", ".join(f'"{c}"' for c in wanted)
            con.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")
            try:
                return con.sql(f"SELECT {cols} FROM {name} ORDER BY {order_by}").to_arrow_table()
            finally:
                con.execute(f"SET memory_limit = '{CONNECTION_MEMORY_LIMIT}'")

    def orders_of(self, buyer_ids: list[str], *, columns: list[str] | None = None, limit: int | None = None) -> pa.Table:
        wanted = columns or ORDER_SCHEMA.names
        unknown = sorted(set(wanted) - set(ORDER_SCHEMA.names))
        if unknown:
            raise ValueError(f"orders have no column(s) {unknown}")
        cols = ", ".join(f'"{c}"' for c in wanted)
        sql = f"SELECT {cols} FROM orders WHERE buyer_id IN (SELECT unnest(?)) ORDER BY created_at DESC, order_id"
        params: list[Any] = [list(buyer_ids)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as con:
            return con.sql(sql, params=params).to_arrow_table()

    def neighbourhood(self, entity: str, ids: list[str], *, limit: int = 500) -> Subgraph:
        ids = list(ids)
        # Filter the orders first, then aggregate: the USED view over all orders costs seconds at 1M.
        if entity == "buyer":
            edges_sql = f"""
                WITH o AS (SELECT * FROM orders WHERE buyer_id IN (SELECT unnest($ids)))
                SELECT 'buyer:' || buyer_id AS source, kind || ':' || key AS target, 'USED' AS rel,
                       n_orders, first_seen, last_seen
                FROM ({_used_sql('o')})
                UNION ALL
                SELECT 'buyer:' || buyer_id, 'seller:' || seller_id, 'BOUGHT_FROM', count(*)::BIGINT,
                       min(created_at), max(created_at)
                FROM o GROUP BY buyer_id, seller_id"""
        elif entity == "seller":
            edges_sql = """
                SELECT 'buyer:' || buyer_id AS source, 'seller:' || seller_id AS target, 'BOUGHT_FROM' AS rel,
                       count(*)::BIGINT AS n_orders, min(created_at) AS first_seen, max(created_at) AS last_seen
                FROM orders WHERE seller_id IN (SELECT unnest($ids)) GROUP BY buyer_id, seller_id"""
        elif entity in IDENTIFIER_COLUMNS:
            edges_sql = f"""
                WITH o AS (SELECT * FROM orders WHERE {IDENTIFIER_COLUMNS[entity][0]} IN (SELECT unnest($ids)))
                SELECT 'buyer:' || buyer_id AS source, kind || ':' || key AS target, 'USED' AS rel,
                       n_orders, first_seen, last_seen
                FROM ({_used_sql('o', (entity,))})"""
        else:
            raise ValueError(f"neighbourhood of {entity!r} is not supported; use buyer, seller or an identifier kind")
        params: dict[str, Any] = {"ids": ids, "limit": limit + 1}
        with self._connect() as con:
            edges = con.sql(
                f"SELECT * FROM ({edges_sql}) ORDER BY n_orders DESC, source, target LIMIT $limit", params=params
            ).to_arrow_table()
            truncated = edges.num_rows > limit
            edges = edges.slice(0, limit)
            seen = {*edges["source"].to_pylist(), *edges["target"].to_pylist(), *(f"{entity}:{i}" for i in ids)}
            nodes = self._describe_nodes(con, sorted(seen))
        return Subgraph(nodes=nodes, edges=edges.to_pandas(), truncated=truncated)

    def _describe_nodes(self, con: duckdb.DuckDBPyConnection, node_ids: list[str]) -> pd.DataFrame:
        """Node rows for ``entity:key`` ids: raw display value and, for identifiers, how many buyers share it."""
        entity, key = zip(*(n.split(":", 1) for n in node_ids), strict=True) if node_ids else ((), ())
        display: list[str | None] = list(key)
        n_buyers: list[Any] = [pd.NA] * len(node_ids)
        rows_of: dict[str, list[int]] = {}
        for i, kind in enumerate(entity):
            rows_of.setdefault(kind, []).append(i)
        for kind, (col, raw) in IDENTIFIER_COLUMNS.items():
            if kind not in rows_of:
                continue
            keys = [key[i] for i in rows_of[kind]]
            info = {k: (d, n) for k, d, n in con.execute(_DESCRIBE_SQL.format(col=col, raw=raw), [keys]).fetchall()}
            for i in rows_of[kind]:
                spelling, n_buyers[i] = info.get(key[i], (None, pd.NA))
                display[i] = spelling if spelling is not None else key[i]
        if "seller" in rows_of:
            sellers = [key[i] for i in rows_of["seller"]]
            sql = "SELECT seller_id, name FROM sellers WHERE seller_id IN (SELECT unnest(?))"
            names = dict(con.execute(sql, [sellers]).fetchall())
            for i in rows_of["seller"]:
                display[i] = names.get(key[i]) or key[i]
        return pd.DataFrame(
            {
                "node_id": pd.array(node_ids, dtype="str"),
                "entity": pd.array(entity, dtype="str"),
                "key": pd.array(key, dtype="str"),
                "display": pd.array(display, dtype="str"),
                "n_buyers": pd.array(n_buyers, dtype=object),
            }
        )

    # -- detection runs -------------------------------------------------------
    def publish_run(self, run: dict[str, Any], tables: dict[str, pa.Table]) -> None:
        missing = set(RESULT_TABLES) - set(tables)
        if missing or "run_id" not in run:
            raise ValueError(f"publish_run needs run['run_id'] and tables {RESULT_TABLES}; missing {sorted(missing)}")
        run_id = str(run["run_id"])
        with self._transaction() as con:
            for name in RESULT_TABLES:
                result = tables[name].select(RESULT_SCHEMAS[name].names).cast(RESULT_SCHEMAS[name])  # noqa: F841
                con.execute(f"DELETE FROM {name} WHERE run_id = ?", [run_id])
                con.execute(f"INSERT INTO {name} SELECT ?, * FROM result", [run_id])
            con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?)",
                [run_id, datetime.now(UTC), json.dumps(run, default=str, sort_keys=True)],
            )

    def runs(self) -> list[dict[str, Any]]:
        with self._connect() as con:
            rows = con.execute("SELECT info FROM runs ORDER BY published_at DESC, run_id DESC").fetchall()
        return [json.loads(r[0]) for r in rows]

    def _latest_run_id(self, con: duckdb.DuckDBPyConnection) -> str | None:
        rows = con.execute("SELECT run_id FROM runs ORDER BY published_at DESC, run_id DESC LIMIT 1").fetchall()
        return rows[0][0] if rows else None

    def read_results(self, name: str, run_id: str | None = None) -> pa.Table:
        if name not in RESULT_TABLES:
            raise ValueError(f"unknown result table {name!r}; expected one of {RESULT_TABLES}")
        cols = ", ".join(f'"{c}"' for c in RESULT_SCHEMAS[name].names)
        with self._connect() as con:
            run_id = run_id or self._latest_run_id(con)
            table = con.sql(
                f"SELECT {cols} FROM {name} WHERE run_id = ? ORDER BY {RESULT_ORDER[name]}", params=[run_id]
            ).to_arrow_table()
        return table.cast(RESULT_SCHEMAS[name])

    def prune_runs(self, keep: int) -> int:
        with self._transaction() as con:
            old = [r[0] for r in con.execute(
                "SELECT run_id FROM runs ORDER BY published_at DESC, run_id DESC OFFSET ?", [max(keep, 1)]
            ).fetchall()]
            for name in (*RESULT_TABLES, "runs"):
                con.execute(f"DELETE FROM {name} WHERE list_contains(?, run_id)", [old])
        return len(old)

    # -- batch bookkeeping ------------------------------------------------------
    def ingested_files(self) -> pa.Table:
        with self._connect() as con:
            return con.sql("SELECT * FROM ingested_files ORDER BY path").to_arrow_table()

    def record_ingested_files(self, files: pa.Table) -> None:
        incoming = files.select(["path", "size", "sha256", "run_id", "ingested_at"])  # noqa: F841 - used in SQL
        with self._transaction() as con:
            con.execute("DELETE FROM ingested_files WHERE path IN (SELECT path FROM incoming)")
            con.execute("INSERT INTO ingested_files SELECT * FROM incoming")

    def acquire_lock(self, holder: dict[str, Any]) -> None:
        with self._transaction() as con:
            rows = con.execute("SELECT holder FROM batch_lock").fetchall()
            if rows:
                current = json.loads(rows[0][0])
                if current != holder and holder_is_alive(current):
                    raise BatchLocked(
                        f"another batch is running on {self.uri} ({describe_holder(current)}); "
                        "wait for it to finish"
                    )
            con.execute("DELETE FROM batch_lock")
            con.execute("INSERT INTO batch_lock VALUES (?)", [json.dumps(holder, sort_keys=True)])

    def release_lock(self, holder: dict[str, Any]) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM batch_lock WHERE holder = ?::JSON", [json.dumps(holder, sort_keys=True)])

    # -- analyst decisions ----------------------------------------------------
    def record_decision(self, ring_id: str, decision: str, analyst: str, note: str = "") -> None:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        if not analyst.strip():
            raise ValueError("a decision needs the analyst's name")
        with self._connect() as con:
            con.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
                [ring_id, decision, analyst.strip(), note, datetime.now(UTC)],
            )

    def decisions(self, ring_id: str | None = None) -> pa.Table:
        with self._connect() as con:
            return con.sql(
                "SELECT * FROM decisions WHERE $ring IS NULL OR ring_id = $ring ORDER BY decided_at DESC",
                params={"ring": ring_id},
            ).to_arrow_table()
