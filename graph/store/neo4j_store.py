"""The Neo4j store: the RingWatch graph as labels and relationships in Neo4j 5.x / 2025.x.

Nodes and relationships are exactly those of :mod:`graph.model`; orders keep
every column of ``ORDER_SCHEMA`` as properties (timestamps as ``DATETIME``),
identifiers are keyed by their normalised ``key``, and ``USED`` carries
``first_seen``, ``last_seen`` and ``n_orders``. Detection runs, rings and
analyst decisions live beside the graph (see :mod:`graph.store.cypher`, which
holds every statement this module sends).

Writes go through managed transactions (``execute_write``), so the driver
retries transient failures (leader changes, deadlocks, dropped connections)
for up to ``max_retry_time`` seconds; every write here is idempotent, so a
retry never doubles anything. Rows travel as ``UNWIND $rows`` batches of
``neo4j_batch_size``. Reads stream records into Arrow record batches.

Credentials come only from the settings (``NEO4J_USER`` / ``NEO4J_PASSWORD``
or the config file); URIs carrying credentials are refused, and no message
or log line of this module contains them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from neo4j import Driver, GraphDatabase, ManagedTransaction, Record, Result
from neo4j.exceptions import (
    AuthError,
    DriverError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from graph import __version__
from graph.errors import BatchLocked, ConfigError, StoreError, StoreUnavailable
from graph.model import IDENTIFIER_COLUMNS, MEMBER_ENTITY_TYPES
from graph.schema import ENTITY_SCHEMAS, ORDER_SCHEMA, RESULT_SCHEMAS, TS
from graph.settings import Settings, get_settings
from graph.store import NEO4J_SCHEMES, redact_uri
from graph.store import cypher as C
from graph.store.base import PROJECTIONS, RESULT_TABLES, Subgraph, UpsertCounts
from graph.store.base import DECISIONS, RESULT_ORDER
from graph.store.lock import describe_holder, holder_is_alive

__all__ = ["Neo4jStore", "BUYER_IDENTIFIERS_SCHEMA", "DECISIONS_SCHEMA", "EDGES_SCHEMA", "MANIFEST_SCHEMA"]

T = TypeVar("T")

BUYER_IDENTIFIERS_SCHEMA = pa.schema(
    [
        ("buyer_id", pa.string()),
        ("kind", pa.string()),
        ("key", pa.string()),
        ("n_orders", pa.int64()),
        ("first_seen", TS),
        ("last_seen", TS),
    ]
)
DECISIONS_SCHEMA = pa.schema(
    [
        ("ring_id", pa.string()),
        ("decision", pa.string()),
        ("analyst", pa.string()),
        ("note", pa.string()),
        ("decided_at", TS),
    ]
)
MANIFEST_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("run_id", pa.string()),
        ("ingested_at", TS),
    ]
)
EDGES_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("target", pa.string()),
        ("rel", pa.string()),
        ("n_orders", pa.int64()),
        ("first_seen", TS),
        ("last_seen", TS),
    ]
)

PROJECTION_SCHEMAS: dict[str, pa.Schema] = {
    "orders": ORDER_SCHEMA,
    "buyers": ENTITY_SCHEMAS["buyer"],
    "sellers": ENTITY_SCHEMAS["seller"],
    "items": ENTITY_SCHEMAS["item"],
    "buyer_identifiers": BUYER_IDENTIFIERS_SCHEMA,
}
# Row order of reads, as the embedded store returns them (sorted here, in Arrow, so both stores agree).
PROJECTION_ORDER: dict[str, list[str]] = {
    "orders": ["order_id"],
    "buyers": ["buyer_id"],
    "sellers": ["seller_id"],
    "items": ["item_id"],
    "buyer_identifiers": ["buyer_id", "kind", "key"],
}
# Records gathered into one Arrow record batch while streaming a read.
READ_CHUNK_ROWS = 50_000
# Records the server sends per round trip on reads (the driver's default is 1,000).
FETCH_SIZE = 10_000
# A publish that never flipped (its process died) is removed after this long.
ABANDONED_PUBLISH = timedelta(hours=24)
SCHEMA_AWAIT_SECONDS = 300


def _sort_keys(order_by: str) -> list[tuple[str, str]]:
    """``"score DESC, ring_id"`` as Arrow sort keys."""
    keys = []
    for part in order_by.split(","):
        name, *direction = part.split()
        keys.append((name, "descending" if direction == ["DESC"] else "ascending"))
    return keys


def _time_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_timestamp(f.type)]


def _plain_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows as parameter maps: nulls left out (unknown is never stored), timestamps as epoch microseconds."""
    names = batch.schema.names
    columns = [(c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c).to_pylist() for c in batch.columns]
    return [{k: v for k, v in zip(names, values) if v is not None} for values in zip(*columns)]


def _run(tx: ManagedTransaction, statement: C.Statement, **params: Any) -> Result:
    if set(params) != set(statement.params):
        raise TypeError(f"Cypher statement {statement.name} takes {statement.params}, was given {sorted(params)}")
    return tx.run(statement.text, params)


def _consume(tx: ManagedTransaction, statement: C.Statement, **params: Any) -> None:
    _run(tx, statement, **params).consume()


def _records(tx: ManagedTransaction, statement: C.Statement, **params: Any) -> list[Record]:
    return list(_run(tx, statement, **params))


def _first_value(tx: ManagedTransaction, statement: C.Statement, **params: Any) -> Any:
    records = _records(tx, statement, **params)
    return records[0][0] if records else None


def _arrow_batch(rows: list[list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.RecordBatch.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema)], schema=schema)


def _collect(tx: ManagedTransaction, schema: pa.Schema, queries: list[tuple[C.Statement, dict[str, Any]]]) -> pa.Table:
    """Stream the ``row`` lists of each query into one Arrow table, a record batch at a time."""
    batches: list[pa.RecordBatch] = []
    for statement, params in queries:
        chunk: list[list[Any]] = []
        for record in _run(tx, statement, **params):
            chunk.append(record[0])
            if len(chunk) >= READ_CHUNK_ROWS:
                batches.append(_arrow_batch(chunk, schema))
                chunk = []
        if chunk:
            batches.append(_arrow_batch(chunk, schema))
    return pa.Table.from_batches(batches, schema=schema)


def _mode(values: list[str]) -> str | None:
    """The most common value (ties: the smallest), as the embedded store shows an identifier."""
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


class Neo4jStore:
    """A :class:`~graph.store.base.GraphStore` in a Neo4j 5.x / 2025.x database (Community, Enterprise or Aura).

    Parameters
    ----------
    uri : str
        ``neo4j://``, ``neo4j+s://``, ``bolt://`` or ``bolt+s://`` URI, without credentials.
    settings : Settings, optional
        ``neo4j_user``, ``neo4j_password`` (from ``NEO4J_USER`` / ``NEO4J_PASSWORD``),
        ``neo4j_database`` (default: the server's default database) and ``neo4j_batch_size``.
    driver : neo4j.Driver, optional
        A ready driver (tests, notebooks); the store then neither configures nor closes it.
    max_retry_time : float
        Seconds a managed transaction is retried after transient failures before the
        error is raised (as :class:`~graph.errors.StoreUnavailable` when the server is unreachable).

    Notes
    -----
    Nothing is sent to the server until the first operation; that one creates the
    constraints and indexes when the database has none yet (``IF NOT EXISTS``).

    Example
    -------
    >>> store = Neo4jStore("neo4j://localhost:7687")  # doctest: +SKIP
    >>> store.counts()["Order"]  # doctest: +SKIP
    """

    def __init__(
        self,
        uri: str,
        *,
        settings: Settings | None = None,
        driver: Driver | None = None,
        max_retry_time: float = 30.0,
    ):
        parts = urlsplit(uri)
        if parts.scheme not in NEO4J_SCHEMES:
            raise ConfigError(f"{redact_uri(uri)!r} is not a Neo4j URI: use neo4j://host:7687 or bolt://host:7687")
        if parts.username or parts.password:
            raise ConfigError(
                f"{redact_uri(uri)}: put Neo4j credentials in NEO4J_USER and NEO4J_PASSWORD (environment or "
                "config file), never in the store URI"
            )
        settings = settings or get_settings()
        self.uri = uri
        self._database = settings.neo4j_database
        self._batch_size = settings.neo4j_batch_size
        self._owns_driver = driver is None
        self._driver = driver if driver is not None else self._new_driver(settings, max_retry_time)
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    def _new_driver(self, settings: Settings, max_retry_time: float) -> Driver:
        user, password = settings.neo4j_user, settings.neo4j_password
        if (user is None) != (password is None):
            raise ConfigError(
                "set both NEO4J_USER and NEO4J_PASSWORD (or neither, for a server without authentication)"
            )
        try:
            return GraphDatabase.driver(
                self.uri,
                auth=None if password is None else (user, password.get_secret_value()),
                max_transaction_retry_time=max_retry_time,
                user_agent=f"ringwatch/{__version__}",
            )
        except (DriverError, ValueError) as exc:
            raise ConfigError(f"cannot use {self.uri!r} as a Neo4j URI: {exc}") from exc

    def close(self) -> None:
        """Close the driver's connections (an injected driver is left to its owner)."""
        if self._owns_driver:
            self._driver.close()

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri!r})"

    # -- sessions, errors, schema ---------------------------------------------------
    @contextlib.contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        """Driver errors as RingWatch errors that name the URI (never credentials) and say what to do."""
        try:
            yield
        except AuthError as exc:
            raise StoreUnavailable(
                f"Neo4j at {self.uri} refused the login while {doing}: check NEO4J_USER and NEO4J_PASSWORD"
            ) from exc
        except IncompleteCommit as exc:
            raise StoreUnavailable(
                f"the connection to Neo4j at {self.uri} broke while committing ({doing}); the commit may or may "
                "not have happened. RingWatch writes are idempotent: run the command again"
            ) from exc
        except (ServiceUnavailable, SessionExpired) as exc:
            raise StoreUnavailable(
                f"cannot reach Neo4j at {self.uri} while {doing} ({exc}). Check that the server runs and that "
                "NEO4J_URI (or --store), NEO4J_USER and NEO4J_PASSWORD are right"
            ) from exc
        except Neo4jError as exc:
            if exc.code == "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreUnavailable(
                    f"Neo4j at {self.uri} has no database {self._database!r}: set RINGWATCH_NEO4J_DATABASE to an "
                    "existing one (or leave it unset for the server's default)"
                ) from exc
            # One ingest chunk is one transaction: too big a chunk for the server's transaction memory.
            hint = (
                ". Lower RINGWATCH_CHUNK_ROWS or raise the server's db.memory.transaction.total.max"
                if "Memory" in (exc.code or "")
                else ""
            )
            raise StoreError(f"Neo4j at {self.uri} refused {doing}: {exc.code}: {exc.message}{hint}") from exc
        except DriverError as exc:
            raise StoreError(f"the Neo4j driver failed while {doing} against {self.uri}: {exc}") from exc

    def _write(self, doing: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(tx, ...)`` in one managed write transaction (retried on transient errors)."""
        self._ensure_schema()
        with self._translate(doing), self._driver.session(database=self._database) as session:
            return session.execute_write(work, *args, **kwargs)

    def _read(self, doing: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(tx, ...)`` in one managed read transaction (routed to a reader in a cluster)."""
        self._ensure_schema()
        with (
            self._translate(doing),
            self._driver.session(database=self._database, fetch_size=FETCH_SIZE) as session,
        ):
            return session.execute_read(work, *args, **kwargs)

    def _ensure_schema(self) -> None:
        """Constraints and indexes on first use; refuse a database written by a newer RingWatch."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self._translate("opening the store"), self._driver.session(database=self._database) as session:
                version = session.execute_read(_first_value, C.SCHEMA_META_VERSION)
                if version is not None and version > C.SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.uri} was written by a newer RingWatch (schema {version} > {C.SCHEMA_VERSION}); "
                        "upgrade RingWatch"
                    )
                # A read-only account can use a store that is already set up: no schema commands then.
                if version != C.SCHEMA_VERSION:
                    for statement in (*C.SCHEMA_CONSTRAINTS, *C.SCHEMA_INDEXES):
                        session.execute_write(_consume, statement)
                    session.execute_write(_consume, C.SCHEMA_AWAIT, timeout_seconds=SCHEMA_AWAIT_SECONDS)
                    session.execute_write(_consume, C.SCHEMA_SET_VERSION, version=C.SCHEMA_VERSION)
            self._schema_ready = True

    def drop_all(self) -> None:
        """Delete every node and relationship RingWatch wrote (tests only). Constraints and indexes stay."""
        for label, statement in C.DROP_LABEL.items():
            while self._write(f"deleting {label} nodes", _first_value, statement, batch_size=self._batch_size):
                pass
        self._schema_ready = False

    # -- ingest -----------------------------------------------------------------------
    def upsert_orders(self, orders: pa.Table) -> UpsertCounts:
        table = orders.select(ORDER_SCHEMA.names).cast(ORDER_SCHEMA)
        stale = self._write("storing orders", self._write_orders, table)
        return UpsertCounts(stored=table.num_rows - stale, stale=stale)

    def _write_orders(self, tx: ManagedTransaction, table: pa.Table) -> int:
        # One transaction for the whole table: all rows or none, as the protocol asks.
        return sum(self._write_order_batch(tx, _plain_rows(b)) for b in table.to_batches(self._batch_size))

    def _write_order_batch(self, tx: ManagedTransaction, rows: list[dict[str, Any]]) -> int:
        """Write one batch of orders with their edges; return how many rows were stale."""
        existing = {
            r["order_id"]: r
            for r in _run(tx, C.ORDERS_EXISTING, rows=rows, time_columns=_time_columns(ORDER_SCHEMA))
        }
        stale = sum(r["stale"] for r in existing.values())
        skip = {order_id for order_id, r in existing.items() if r["stale"] or r["unchanged"]}
        fresh = [r for r in rows if r["order_id"] not in skip]
        if not fresh:
            return stale
        replaced_ids = [r["order_id"] for r in fresh if r["order_id"] in existing]
        replaced = [existing[order_id]["old"] for order_id in replaced_ids]
        if replaced_ids:
            _consume(tx, C.ORDERS_UNLINK, order_ids=replaced_ids)
        _consume(tx, C.ORDERS_MERGE, rows=fresh)
        items = [{"order_id": r["order_id"], "item_id": r["item_id"]} for r in fresh if "item_id" in r]
        if items:
            _consume(tx, C.ORDERS_LINK_ITEMS, rows=items)
        for kind, statement in C.ORDERS_LINK_IDENTIFIER.items():
            col = IDENTIFIER_COLUMNS[kind][0]
            links = [{"order_id": r["order_id"], "key": r[col]} for r in fresh if col in r]
            if links:
                _consume(tx, statement, rows=links)
        networks = dict.fromkeys((r["ipnet_key"], r.get("ip_key")) for r in fresh if "ipnet_key" in r)
        if networks:
            _consume(tx, C.ORDERS_LINK_NETWORKS, rows=[{"ipnet_key": n, "ip_key": ip} for n, ip in networks])
        buyers = sorted({r["buyer_id"] for r in fresh} | {old["buyer_id"] for old in replaced})
        for statement in C.USED_REFRESH.values():
            _consume(tx, statement, buyer_ids=buyers)
        if replaced:
            self._forget_moved_edges(tx, buyers, replaced)
        return stale

    def _forget_moved_edges(self, tx: ManagedTransaction, buyers: list[str], replaced: list[dict[str, Any]]) -> None:
        """After orders changed: drop USED and IN_NETWORK edges no order supports, then nodes no order names."""
        for statement in C.USED_PRUNE.values():
            _consume(tx, statement, buyer_ids=buyers)

        def prune(statement: C.Statement, col: str) -> None:
            keys = sorted({old[col] for old in replaced if old.get(col) is not None})
            if keys:
                _consume(tx, statement, keys=keys)

        prune(C.NETWORKS_PRUNE, "ip_key")
        for kind, (col, _raw) in IDENTIFIER_COLUMNS.items():
            prune(C.ORPHANS_DELETE[kind], col)
        for entity in ("buyer", "seller", "item"):
            prune(C.ORPHANS_DELETE[entity], f"{entity}_id")

    def upsert_entities(self, entity: str, rows: pa.Table) -> UpsertCounts:
        if entity not in C.ENTITY_UPSERT:
            raise ValueError(f"entity must be one of {list(C.ENTITY_UPSERT)}, not {entity!r}")
        schema = ENTITY_SCHEMAS[entity]
        table = rows.select(schema.names).cast(schema)
        self._write(f"storing {entity}s", self._write_entities, entity, table)
        return UpsertCounts(stored=table.num_rows)

    def _write_entities(self, tx: ManagedTransaction, entity: str, table: pa.Table) -> None:
        for batch in table.to_batches(self._batch_size):
            rows = [{**r, "has_attributes": True} for r in _plain_rows(batch)]
            _consume(tx, C.ENTITY_UPSERT[entity], rows=rows)
            if entity in C.ENTITY_LINKS:
                _rel, column, _label, _target_key, orphan_kind = C.ENTITY_LINKS[entity]
                ids = [r[f"{entity}_id"] for r in rows]
                old = [r["key"] for r in _run(tx, C.ENTITY_UNLINK[entity], keys=ids)]
                links = [{"key": r[f"{entity}_id"], "target": r[column]} for r in rows if column in r]
                if links:
                    _consume(tx, C.ENTITY_LINK[entity], rows=links)
                if old:
                    _consume(tx, C.ORPHANS_DELETE[orphan_kind], keys=sorted(set(old)))

    # -- reads --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        def work(tx: ManagedTransaction) -> dict[str, int]:
            found = {label: _first_value(tx, s) for label, s in C.COUNT_NODES.items()}
            found.update({rel: _first_value(tx, s) for rel, s in C.COUNT_RELATIONSHIPS.items()})
            return {name: int(n) for name, n in found.items()}

        return self._read("counting nodes and relationships", work)

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        if name not in PROJECTIONS:
            raise ValueError(f"unknown projection {name!r}; expected one of {PROJECTIONS}")
        schema = PROJECTION_SCHEMAS[name]
        wanted = list(columns or schema.names)
        unknown = sorted(set(wanted) - set(schema.names))
        if unknown:
            raise ValueError(f"{name} has no column(s) {unknown}; it has {schema.names}")
        order = PROJECTION_ORDER[name]
        if name == "buyer_identifiers":
            queries = [(s, {}) for s in (*C.PROJECT_USED.values(), C.PROJECT_REGISTERED_PHONES)]
        else:
            # Only the columns asked for (and the sort key) cross the wire.
            schema = pa.schema([schema.field(c) for c in dict.fromkeys([*wanted, *order])])
            statement = C.PROJECT_ORDERS if name == "orders" else C.PROJECT_ENTITIES[name[:-1]]
            queries = [(statement, {"columns": schema.names, "time_columns": _time_columns(schema)})]
        table = self._read(f"reading {name}", _collect, schema, queries)
        return table.sort_by([(k, "ascending") for k in order]).select(wanted)

    def orders_of(self, buyer_ids: list[str], *, columns: list[str] | None = None, limit: int | None = None) -> pa.Table:
        wanted = columns or ORDER_SCHEMA.names
        unknown = sorted(set(wanted) - set(ORDER_SCHEMA.names))
        if unknown:
            raise ValueError(f"orders have no column(s) {unknown}")
        # Sort keys are read too, then dropped, so the order matches DuckDB's.
        read = list(dict.fromkeys([*wanted, "created_at", "order_id"]))
        schema = pa.schema([ORDER_SCHEMA.field(c) for c in read])
        params = {
            "buyer_ids": list(dict.fromkeys(buyer_ids)),
            "columns": read,
            "time_columns": _time_columns(schema),
        }
        table = self._read("reading orders", _collect, schema, [(C.ORDERS_OF, params)])
        table = table.sort_by([("created_at", "descending"), ("order_id", "ascending")]).select(wanted)
        return table if limit is None else table.slice(0, int(limit))

    def neighbourhood(self, entity: str, ids: list[str], *, limit: int = 500) -> Subgraph:
        if entity == "buyer":
            parts = [C.NEIGHBOURS_BUYER_USED, C.NEIGHBOURS_BUYER_SELLERS]
        elif entity == "seller":
            parts = [C.NEIGHBOURS_SELLER]
        elif entity in IDENTIFIER_COLUMNS:
            parts = [C.NEIGHBOURS_IDENTIFIER[entity]]
        else:
            raise ValueError(f"neighbourhood of {entity!r} is not supported; use buyer, seller or an identifier kind")
        ids = list(dict.fromkeys(ids))

        def work(tx: ManagedTransaction) -> tuple[pa.Table, pd.DataFrame]:
            # Each part is cut at limit + 1 in the final order, so their union holds the overall first limit + 1.
            rows = [r.values() for s in parts for r in _run(tx, s, ids=ids, limit=limit + 1)]
            edges = pa.Table.from_batches([_arrow_batch(rows, EDGES_SCHEMA)])
            edges = edges.sort_by([("n_orders", "descending"), ("source", "ascending"), ("target", "ascending")])
            seen = set(edges["source"].to_pylist()) | set(edges["target"].to_pylist())
            node_ids = sorted(seen | {f"{entity}:{i}" for i in ids})
            return edges, self._describe_nodes(tx, node_ids)

        edges, nodes = self._read(f"reading the neighbourhood of {entity}s", work)
        return Subgraph(
            nodes=nodes,
            edges=edges.slice(0, limit).to_pandas(),
            truncated=edges.num_rows > limit,
        )

    def _describe_nodes(self, tx: ManagedTransaction, node_ids: list[str]) -> pd.DataFrame:
        """Rows for ``entity:key`` node ids: what people typed and, for identifiers, how many buyers share it."""
        entity, key = zip(*(nid.split(":", 1) for nid in node_ids), strict=True) if node_ids else ((), ())
        display = dict(zip(node_ids, key))
        n_buyers: dict[str, Any] = {}
        for kind in sorted(set(entity) & set(IDENTIFIER_COLUMNS)):
            keys = [k for e, k in zip(entity, key) if e == kind]
            for r in _run(tx, C.DESCRIBE_IDENTIFIER[kind], keys=keys):
                node_id = f"{kind}:{r['key']}"
                n_buyers[node_id] = r["n_buyers"]
                display[node_id] = _mode(r["raw_values"]) or r["key"]
        sellers = [k for e, k in zip(entity, key) if e == "seller"]
        if sellers:
            for r in _run(tx, C.DESCRIBE_SELLERS, keys=sellers):
                display[f"seller:{r['key']}"] = r["name"] or r["key"]
        return pd.DataFrame(
            {
                "node_id": node_ids,
                "entity": list(entity),
                "key": list(key),
                "display": [display[n] for n in node_ids],
                "n_buyers": pd.array([n_buyers.get(n, pd.NA) for n in node_ids], dtype=object),
            }
        )

    # -- detection runs -------------------------------------------------------------------
    def publish_run(self, run: dict[str, Any], tables: dict[str, pa.Table]) -> None:
        missing = set(RESULT_TABLES) - set(tables)
        if missing or "run_id" not in run:
            raise ValueError(f"publish_run needs run['run_id'] and tables {RESULT_TABLES}; missing {sorted(missing)}")
        results = {name: tables[name].select(RESULT_SCHEMAS[name].names).cast(RESULT_SCHEMAS[name])
                   for name in RESULT_TABLES}
        self._check_results(results)
        run_id, publish_id = str(run["run_id"]), uuid.uuid4().hex
        self._write(
            "publishing a run",
            _consume,
            C.RUN_CREATE,
            publish_id=publish_id,
            run_id=run_id,
            info=json.dumps(run, default=str, sort_keys=True),
            started_at=datetime.now(UTC),
        )
        # Everything under the new publish_id is invisible to readers until the flip below.
        for batch in results["rings"].to_batches(self._batch_size):
            rows = [{**r, "publish_id": publish_id, "run_id": run_id} for r in _plain_rows(batch)]
            self._write("publishing rings", _consume, C.RINGS_CREATE, publish_id=publish_id, rows=rows)
        self._publish_links(
            publish_id, results["ring_members"], ("ring_id", "entity_id"), lambda r: C.MEMBERS_CREATE[r["entity_type"]]
        )
        self._publish_links(publish_id, results["ring_evidence"], ("ring_id",), lambda r: C.EVIDENCE_CREATE)
        self._publish_links(publish_id, results["buyer_scores"], ("buyer_id",), lambda r: C.SCORES_CREATE)
        self._write("publishing a run", self._flip, publish_id, run_id, datetime.now(UTC))
        self._remove_old_runs()

    def _check_results(self, results: dict[str, pa.Table]) -> None:
        """Members and evidence belong to rings of the run; members are entities the graph can hold."""
        ring_ids = results["rings"]["ring_id"]
        for name in ("ring_members", "ring_evidence"):
            strays = pc.filter(results[name]["ring_id"], pc.invert(pc.is_in(results[name]["ring_id"], ring_ids)))
            if len(strays):
                first = sorted(set(strays.to_pylist()), key=str)[:5]
                raise ValueError(f"{name} names rings that are not in rings: {first}")
        members = results["ring_members"]
        kinds = set(members["entity_type"].to_pylist()) - set(MEMBER_ENTITY_TYPES)
        if kinds:
            raise ValueError(
                f"ring_members entity_type must be one of {MEMBER_ENTITY_TYPES}, not {sorted(kinds, key=str)}"
            )
        for name, key in (("ring_members", "entity_id"), ("buyer_scores", "buyer_id")):
            if results[name][key].null_count:
                raise ValueError(f"{name} has rows without {key}")

    def _publish_links(
        self,
        publish_id: str,
        table: pa.Table,
        keys: tuple[str, ...],
        statement_for: Callable[[dict[str, Any]], C.Statement],
    ) -> None:
        """Write rows that hang off a ring (``ring_id``) or the run (``buyer_id``) as ``{keys..., props}``."""
        for batch in table.to_batches(self._batch_size):
            by_statement: dict[C.Statement, list[dict[str, Any]]] = {}
            for r in _plain_rows(batch):
                row = {k: r[k] for k in keys} | {"props": {k: v for k, v in r.items() if k != keys[0]}}
                by_statement.setdefault(statement_for(r), []).append(row)
            for statement, rows in by_statement.items():
                self._write("publishing a run", _consume, statement, publish_id=publish_id, rows=rows)

    def _flip(self, tx: ManagedTransaction, publish_id: str, run_id: str, published_at: datetime) -> None:
        _consume(tx, C.RUN_SUPERSEDE, run_id=run_id, publish_id=publish_id)
        if not _records(tx, C.RUN_FLIP, publish_id=publish_id, published_at=published_at):
            raise StoreError(
                f"run {run_id!r} was removed from {self.uri} while it was being published (was it published twice "
                "at once?); publish it again"
            )

    def _remove_old_runs(self) -> None:
        """Delete superseded copies of republished runs and publishes whose process died before the flip."""
        cutoff = int((datetime.now(UTC) - ABANDONED_PUBLISH).timestamp() * 1_000_000)
        for r in self._read("listing runs", _records, C.RUNS_ALL):
            abandoned = r["published_at"] is None and (r["started_at"] or 0) < cutoff
            if r["superseded"] or abandoned:
                self._delete_publish(r["publish_id"])

    def _delete_publish(self, publish_id: str) -> None:
        """Delete one publish of a run, in batches (a run scores every buyer)."""
        for statement in (C.RUN_DELETE_EVIDENCE, C.RUN_DELETE_RINGS, C.RUN_DELETE_SCORES):
            while self._write(
                "removing an old run", _first_value, statement, publish_id=publish_id, batch_size=self._batch_size
            ):
                pass
        self._write("removing an old run", _consume, C.RUN_DELETE, publish_id=publish_id)

    def _published(self) -> list[Record]:
        """Published runs, newest first."""
        runs = [r for r in self._read("listing runs", _records, C.RUNS_ALL) if r["published_at"] is not None]
        return sorted(runs, key=lambda r: (r["published_at"], r["run_id"]), reverse=True)

    def runs(self) -> list[dict[str, Any]]:
        return [json.loads(r["info"]) for r in self._published()]

    def read_results(self, name: str, run_id: str | None = None) -> pa.Table:
        if name not in RESULT_TABLES:
            raise ValueError(f"unknown result table {name!r}; expected one of {RESULT_TABLES}")
        schema = RESULT_SCHEMAS[name]

        def work(tx: ManagedTransaction) -> pa.Table:
            if run_id:
                publish_id = _first_value(tx, C.RUN_PUBLISH, run_id=run_id)
            else:
                publish_id = _first_value(tx, C.CURRENT_PUBLISH)
            if publish_id is None:
                return schema.empty_table()
            return _collect(tx, schema, [(C.READ_RESULTS[name], {"publish_id": publish_id})])

        return self._read(f"reading {name}", work).sort_by(_sort_keys(RESULT_ORDER[name]))

    def prune_runs(self, keep: int) -> int:
        old = self._published()[max(keep, 1) :]
        for r in old:
            self._delete_publish(r["publish_id"])
        return len(old)

    # -- batch bookkeeping ------------------------------------------------------------------
    def ingested_files(self) -> pa.Table:
        table = self._read("reading the ingest manifest", _collect, MANIFEST_SCHEMA, [(C.MANIFEST_READ, {})])
        return table.sort_by([("path", "ascending")])

    def record_ingested_files(self, files: pa.Table) -> None:
        table = files.select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)

        def work(tx: ManagedTransaction) -> None:
            for batch in table.to_batches(self._batch_size):
                _consume(tx, C.MANIFEST_UPSERT, rows=_plain_rows(batch))

        self._write("recording ingested files", work)

    def acquire_lock(self, holder: dict[str, Any]) -> None:
        def work(tx: ManagedTransaction) -> None:
            held = _first_value(tx, C.LOCK_CLAIM, claimed_at=datetime.now(UTC))
            current = json.loads(held) if held else None
            if current and current != holder and holder_is_alive(current):
                raise BatchLocked(
                    f"another batch is running on {self.uri} ({describe_holder(current)}); wait for it to finish"
                )
            _consume(tx, C.LOCK_SET, holder=json.dumps(holder, sort_keys=True))

        self._write("taking the batch lock", work)

    def release_lock(self, holder: dict[str, Any]) -> None:
        self._write("releasing the batch lock", _consume, C.LOCK_RELEASE, holder=json.dumps(holder, sort_keys=True))

    # -- analyst decisions ----------------------------------------------------------------
    def record_decision(self, ring_id: str, decision: str, analyst: str, note: str = "") -> None:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        if not analyst.strip():
            raise ValueError("a decision needs the analyst's name")
        # The id is fixed before the first attempt, so a retried transaction writes the same decision.
        self._write(
            "recording a decision",
            _consume,
            C.DECISION_RECORD,
            decision_id=uuid.uuid4().hex,
            ring_id=ring_id,
            decision=decision,
            analyst=analyst.strip(),
            note=note,
            decided_at=datetime.now(UTC),
        )

    def decisions(self, ring_id: str | None = None) -> pa.Table:
        table = self._read(
            "reading decisions", _collect, DECISIONS_SCHEMA, [(C.DECISIONS_READ, {"ring_id": ring_id})]
        )
        return table.sort_by([("decided_at", "descending")])
