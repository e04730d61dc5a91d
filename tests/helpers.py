"""Small builders shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from graph.schema import ENTITY_SCHEMAS, ORDER_SCHEMA

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table of the schema; absent fields are null."""
    return pa.Table.from_pydict({n: [r.get(n) for r in rows] for n in schema.names}, schema=schema)


def orders(rows: list[dict[str, Any]]) -> pa.Table:
    """Orders with defaults for the required fields (created_at T0 + i minutes)."""
    full = []
    for i, r in enumerate(rows):
        base = {"seller_id": "s1", "created_at": T0 + timedelta(minutes=i), "quantity": 1}
        full.append({**base, **r})
    return table(ORDER_SCHEMA, full)


def entities(entity: str, rows: list[dict[str, Any]]) -> pa.Table:
    return table(ENTITY_SCHEMAS[entity], rows)
