"""Arrow schemas of the tables that cross the store boundary.

``ORDER_SCHEMA`` is what ingest hands a store after parsing and normalising:
the contract's columns (CONTRACT.md section 1) typed, plus the normalised
identifier keys that links are made on and the row's provenance. Result
schemas are what a detection run publishes (CONTRACT.md section 3).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "TS",
    "ORDER_SCHEMA",
    "BUYER_SCHEMA",
    "SELLER_SCHEMA",
    "ITEM_SCHEMA",
    "ENTITY_SCHEMAS",
    "RESULT_SCHEMAS",
    "empty_table",
]

TS = pa.timestamp("us", tz="UTC")

ORDER_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("buyer_id", pa.string()),
        ("seller_id", pa.string()),
        ("created_at", TS),
        ("amount", pa.float64()),
        ("item_id", pa.string()),
        ("quantity", pa.int32()),
        ("item_price", pa.float64()),
        ("ship_address", pa.string()),
        ("receiver_name", pa.string()),
        ("receiver_phone", pa.string()),
        ("device_id", pa.string()),
        ("ip", pa.string()),
        ("payment_account", pa.string()),
        ("tracking_no", pa.string()),
        ("carrier", pa.string()),
        ("parcel_weight_g", pa.float64()),
        ("shipped_at", TS),
        ("delivered_at", TS),
        ("confirmed_at", TS),
        ("status", pa.string()),
        ("refund_reason", pa.string()),
        ("rating", pa.int8()),
        ("review_text", pa.string()),
        ("reviewed_at", TS),
        ("chat_messages", pa.int32()),
        ("updated_at", TS),
        # Normalised identifier keys (null = unknown); see ingest.normalise.
        ("address_key", pa.string()),
        ("device_key", pa.string()),
        ("ip_key", pa.string()),
        ("ipnet_key", pa.string()),
        ("phone_key", pa.string()),
        ("payment_key", pa.string()),
        ("waybill_key", pa.string()),
        # Unknown extra columns of the input row as a JSON object (null when none).
        ("extra", pa.string()),
        # Provenance: input file and 1-based data row number.
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
    ]
)

BUYER_SCHEMA = pa.schema(
    [
        ("buyer_id", pa.string()),
        ("registered_at", TS),
        ("real_name_verified", pa.bool_()),
        ("credit_level", pa.int32()),
        ("phone", pa.string()),
        ("phone_key", pa.string()),
        ("extra", pa.string()),
    ]
)

SELLER_SCHEMA = pa.schema(
    [
        ("seller_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("registered_at", TS),
        ("extra", pa.string()),
    ]
)

ITEM_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("seller_id", pa.string()),
        ("title", pa.string()),
        ("price", pa.float64()),
        ("category", pa.string()),
        ("extra", pa.string()),
    ]
)

ENTITY_SCHEMAS: dict[str, pa.Schema] = {
    "order": ORDER_SCHEMA,
    "buyer": BUYER_SCHEMA,
    "seller": SELLER_SCHEMA,
    "item": ITEM_SCHEMA,
}

RESULT_SCHEMAS: dict[str, pa.Schema] = {
    "rings": pa.schema(
        [
            ("ring_id", pa.string()),
            ("ring_type", pa.string()),
            ("score", pa.float64()),
            ("n_buyers", pa.int64()),
            ("n_sellers", pa.int64()),
            ("n_orders", pa.int64()),
            ("first_order_at", TS),
            ("last_order_at", TS),
            ("target_seller_ids", pa.string()),
            ("top_signals", pa.string()),
            ("change", pa.string()),
            ("methods", pa.string()),  # ';'-separated detectors that found it
            ("summary", pa.string()),  # one plain-language sentence
        ]
    ),
    "ring_members": pa.schema(
        [
            ("ring_id", pa.string()),
            ("entity_type", pa.string()),
            ("entity_id", pa.string()),
            ("role", pa.string()),
            ("member_score", pa.float64()),
        ]
    ),
    "ring_evidence": pa.schema(
        [
            ("ring_id", pa.string()),
            ("signal", pa.string()),
            ("value", pa.float64()),  # the measured number, in the unit the explanation names
            ("strength", pa.float64()),  # 0..1, how unusual against the population
            ("weight", pa.float64()),  # share of the ring's score this signal carries
            ("explanation", pa.string()),
        ]
    ),
    "buyer_scores": pa.schema(
        [
            ("buyer_id", pa.string()),
            ("score", pa.float64()),
            ("ring_id", pa.string()),
            ("ring_type", pa.string()),
        ]
    ),
}


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table with no rows and the given schema."""
    return schema.empty_table()
