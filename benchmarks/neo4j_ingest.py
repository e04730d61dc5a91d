"""Neo4j ingest and projection-read throughput, to size RingWatch runs on your server.

Generates ``--orders`` orders with RingWatch's seeded generator, then for each
``--batch-size`` ingests them into the Neo4j database named by ``NEO4J_URI``
(from scratch, then again: a re-ingest writes nothing) and reads back the
projections detection reads. Prints orders/s for both ingests and rows/s for
each read.

    NEO4J_URI=bolt://localhost:7687 NEO4J_USER=neo4j NEO4J_PASSWORD=... \\
        .venv/bin/python benchmarks/neo4j_ingest.py [--orders 1000000] [--batch-size 5000 10000 20000]

It deletes RingWatch's nodes in that database before each round, so it
refuses to start on a database that already holds orders unless
``--drop-existing`` is given: point it at a scratch database
(``RINGWATCH_NEO4J_DATABASE``). Without ``NEO4J_URI`` it measures only the
client side (Arrow rows to query parameters, which bounds any server) and
says how to run the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.detect.pipeline import ORDER_COLUMNS  # noqa: E402
from graph.errors import RingWatchError  # noqa: E402
from graph.schema import ORDER_SCHEMA  # noqa: E402
from graph.settings import get_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402
from graph.store.neo4j_store import _plain_rows  # noqa: E402
from ingest.generate import generate  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402

# What detection reads (graph.detect.pipeline), so rows/s here is what a detect run waits for.
READS = (
    ("orders", list(ORDER_COLUMNS)),
    ("buyer_identifiers", ["buyer_id", "kind", "key", "n_orders"]),
    ("buyers", None),
    ("items", None),
)


def client_side(n_orders: int, batch_size: int) -> float:
    """Orders per CPU second turned from Arrow into query parameters (the client's ceiling)."""
    rng = np.random.default_rng(0)
    ids = np.arange(n_orders)

    def strings(prefix: str, values: np.ndarray, share: float = 1.0) -> pa.Array:
        text = pa.array(np.char.add(prefix, values.astype(str)))
        return pa.array(np.where(rng.random(n_orders) < share, text.to_numpy(zero_copy_only=False), None))

    created = 1_767_225_600_000_000 + rng.integers(0, 90 * 86_400_000_000, n_orders)
    columns = {
        "order_id": strings("o", ids),
        "buyer_id": strings("b", ids // 5),
        "seller_id": strings("s", ids % 997),
        "created_at": pa.array(created, pa.int64()).cast(ORDER_SCHEMA.field("created_at").type),
        "amount": pa.array(rng.gamma(2.0, 60.0, n_orders)),
        "item_id": strings("i", ids % 20_011),
        "quantity": pa.array(np.ones(n_orders, dtype=np.int32)),
        "ship_address": strings("杭州市西湖区文三路", ids % 50_021, 0.9),
        "device_id": strings("dev-", ids // 7, 0.8),
        "ip": strings("10.1.", ids % 65_021, 0.8),
        "status": pa.array(np.full(n_orders, "completed")),
        "address_key": strings("addr:", ids % 50_021, 0.9),
        "device_key": strings("dev-", ids // 7, 0.8),
        "ip_key": strings("10.1.", ids % 65_021, 0.8),
        "ipnet_key": strings("10.1.", ids % 255, 0.8),
        "payment_key": strings("pay", ids // 5, 0.7),
        "waybill_key": strings("YT", ids, 0.7),
    }
    table = pa.table({f.name: columns.get(f.name, pa.nulls(n_orders, f.type)) for f in ORDER_SCHEMA}, ORDER_SCHEMA)
    started = time.process_time()  # CPU time: what one core costs, however busy the machine is
    for batch in table.to_batches(batch_size):
        _plain_rows(batch)
    return n_orders / (time.process_time() - started)


def open_scratch(uri: str, batch_size: int, drop_existing: bool) -> GraphStore:
    """The store, refusing to touch a database that holds someone's orders unless told to."""
    store = open_store(uri, settings=get_settings(store=uri, neo4j_batch_size=batch_size))
    held = store.counts()["Order"]
    if held and not drop_existing:
        store.close()
        raise SystemExit(
            f"{store.uri} already holds {held:,} orders and this benchmark deletes RingWatch's nodes: point it at a "
            "scratch database (RINGWATCH_NEO4J_DATABASE) or pass --drop-existing."
        )
    return store


def neo4j_round(store: GraphStore, data: Path, tmp: Path) -> dict[str, float]:
    """Ingest twice into an emptied store and read the projections; rates per second."""
    store.drop_all()
    rates: dict[str, float] = {}
    for label in ("ingest", "re-ingest"):
        started = time.perf_counter()
        result = ingest_paths([data], store, rejects_path=tmp / "rejects.csv", chunk_rows=get_settings().chunk_rows)
        orders = sum(f.read for f in result.files if f.kind == "orders")
        rates[f"{label} orders/s"] = orders / (time.perf_counter() - started)
    for name, columns in READS:
        started = time.perf_counter()
        rows = store.read_table(name, columns).num_rows
        rates[f"read {name} rows/s"] = rows / (time.perf_counter() - started)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[10_000], help="rows per UNWIND statement")
    parser.add_argument("--data", type=Path, help="reuse a folder written by `ringwatch generate`")
    parser.add_argument("--drop-existing", action="store_true", help="allow deleting RingWatch data in the database")
    parser.add_argument("--keep", action="store_true", help="leave the last round's graph in the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    figures: dict[str, object] = {
        "orders": args.orders,
        "client orders/s": round(client_side(args.orders, args.batch_size[0])),
    }
    print(f"client side: {figures['client orders/s']:,} orders per CPU second turned into query parameters")
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        print(
            "Neo4j part skipped: set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD) to a scratch database, e.g.\n"
            "  NEO4J_URI=bolt://localhost:7687 NEO4J_USER=neo4j NEO4J_PASSWORD=... "
            ".venv/bin/python benchmarks/neo4j_ingest.py",
            file=sys.stderr,
        )
        return 0
    rounds = []
    try:
        open_scratch(uri, args.batch_size[0], args.drop_existing).close()
        with tempfile.TemporaryDirectory(prefix="ringwatch-neo4j-bench-") as tmp:
            data = args.data
            if data is None:
                data = Path(tmp) / "data"
                started = time.perf_counter()
                generate(data, orders=args.orders, seed=args.seed, fmt="parquet")
                print(f"generated {args.orders:,} orders in {time.perf_counter() - started:.0f} s")
            for batch_size in args.batch_size:
                store = open_scratch(uri, batch_size, drop_existing=True)
                try:
                    rates = {"batch size": batch_size, **neo4j_round(store, data, Path(tmp))}
                    if batch_size == args.batch_size[-1] and not args.keep:
                        store.drop_all()
                finally:
                    store.close()
                rounds.append({k: round(v) for k, v in rates.items()})
                print("  ".join(f"{k}: {v:,.0f}" for k, v in rates.items()), flush=True)
    except RingWatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures["rounds"] = rounds
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
