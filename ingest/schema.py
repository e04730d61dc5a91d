"""The input contract (CONTRACT.md section 1) as data: file kinds, their columns, types and rules.

Readers hand over columns as read (text formats: all strings); the checks in
:mod:`ingest.checks` parse them by the ``type`` declared here and turn every
broken rule into a row error with the ``code`` declared here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

from graph.model import IDENTIFIER_COLUMNS
from graph.schema import BUYER_SCHEMA, ITEM_SCHEMA, ORDER_SCHEMA, SELLER_SCHEMA

__all__ = [
    "ValueType",
    "Column",
    "FileKind",
    "KINDS",
    "FORMATS",
    "FIELD_MAX_BYTES",
    "kind_from_name",
    "format_from_name",
    "kind_from_columns",
    "normalise_header",
]

ValueType = Literal["id", "text", "timestamp", "decimal", "int", "bool", "status"]

# Longer values are rejected (field_too_long): no id, address or review is this long,
# and a spreadsheet cell holds at most 32,767 characters.
FIELD_MAX_BYTES = 65_536

# File name endings, longest first so that ".csv.gz" wins over ".gz".
FORMATS: dict[str, str] = {
    ".csv.gz": "csv",
    ".csv": "csv",
    ".jsonl.gz": "jsonl",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class Column:
    """One input column: how to read it and which rule a bad value breaks.

    Attributes
    ----------
    name : str
        Contract name (headers are matched case-insensitively, trimmed).
    type : ValueType
        ``id`` (trimmed string), ``text`` (kept as typed), ``timestamp``,
        ``decimal``, ``int``, ``bool`` or ``status``.
    required : bool
        The column must exist and every row must have a value.
    minimum, maximum : float or None
        Allowed range for numbers.
    code : str
        Row error code when a number is outside the range.
    default : int or None
        Value used when the column is absent or empty (``quantity``: 1).
    """

    name: str
    type: ValueType = "text"
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    code: str = "out_of_range"
    default: int | None = None

    def range_note(self) -> str:
        """The rule a value outside the range breaks, for people."""
        whole = "a whole number" if self.type == "int" else "a number"
        if self.maximum is None:
            return f"{self.name} must be {whole} >= {self.minimum:g}"
        return f"{self.name} must be {whole} from {self.minimum:g} to {self.maximum:g}"


@dataclass(frozen=True)
class FileKind:
    """A kind of input file: its columns and the table the store receives."""

    name: str  # "orders", "buyers", "sellers", "items"
    entity: str  # "order", "buyer", "seller", "item" (graph.model entity names)
    key: str  # the id column, unique per entity
    columns: tuple[Column, ...]
    target: pa.Schema
    keys: dict[str, tuple[str, str]]  # key column -> (identifier kind, raw column it is made from)

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column | None:
        """The contract column of that name, or None for an extra column."""
        return next((c for c in self.columns if c.name == name), None)


_MONEY = {"type": "decimal", "minimum": 0, "code": "negative_amount"}

ORDERS = FileKind(
    "orders",
    "order",
    "order_id",
    (
        Column("order_id", "id", required=True),
        Column("buyer_id", "id", required=True),
        Column("seller_id", "id", required=True),
        Column("created_at", "timestamp", required=True),
        Column("amount", **_MONEY),
        Column("item_id", "id"),
        Column("quantity", "int", minimum=1, code="bad_quantity", default=1),
        Column("item_price", **_MONEY),
        Column("ship_address"),
        Column("receiver_name"),
        Column("receiver_phone"),
        Column("device_id"),
        Column("ip"),
        Column("payment_account"),
        Column("tracking_no"),
        Column("carrier"),
        Column("parcel_weight_g", "decimal", minimum=0, code="negative_value"),
        Column("shipped_at", "timestamp"),
        Column("delivered_at", "timestamp"),
        Column("confirmed_at", "timestamp"),
        Column("status", "status"),
        Column("refund_reason"),
        Column("rating", "int", minimum=1, maximum=5, code="rating_out_of_range"),
        Column("review_text"),
        Column("reviewed_at", "timestamp"),
        Column("chat_messages", "int", minimum=0, code="negative_value"),
        Column("updated_at", "timestamp"),
    ),
    ORDER_SCHEMA,
    {key: (kind, raw) for kind, (key, raw) in IDENTIFIER_COLUMNS.items()},
)
BUYERS = FileKind(
    "buyers",
    "buyer",
    "buyer_id",
    (
        Column("buyer_id", "id", required=True),
        Column("registered_at", "timestamp"),
        Column("real_name_verified", "bool"),
        Column("credit_level", "int", minimum=-(2**31)),
        Column("phone"),
    ),
    BUYER_SCHEMA,
    {"phone_key": ("phone", "phone")},
)
SELLERS = FileKind(
    "sellers",
    "seller",
    "seller_id",
    (
        Column("seller_id", "id", required=True),
        Column("name"),
        Column("category"),
        Column("registered_at", "timestamp"),
    ),
    SELLER_SCHEMA,
    {},
)
ITEMS = FileKind(
    "items",
    "item",
    "item_id",
    (
        Column("item_id", "id", required=True),
        Column("seller_id", "id"),
        Column("title"),
        Column("price", **_MONEY),
        Column("category"),
    ),
    ITEM_SCHEMA,
    {},
)

# In the order files are loaded: the entities an order refers to first.
KINDS: dict[str, FileKind] = {k.name: k for k in (SELLERS, ITEMS, BUYERS, ORDERS)}

_KIND_RE = re.compile(r"^(orders|buyers|sellers|items)", re.IGNORECASE)


def format_from_name(path: Path) -> str | None:
    """``csv``, ``jsonl`` or ``parquet`` from the file name's ending, or None."""
    name = path.name.lower()
    return next((fmt for ending, fmt in FORMATS.items() if name.endswith(ending)), None)


def kind_from_name(path: Path) -> FileKind | None:
    """The file kind its name announces (``orders*``, ``buyers*`` ...), or None."""
    match = _KIND_RE.match(path.name)
    return KINDS[match.group(1).lower()] if match else None


def kind_from_columns(columns: list[str]) -> FileKind | None:
    """Guess a file's kind from its (normalised) columns: the kind whose required columns it has.

    Orders win, then items (which also carry ``seller_id``); otherwise the one
    entity kind whose key column is present. None when it is not clear.
    """
    present = set(columns)
    if set(ORDERS.required) <= present:
        return ORDERS
    if ITEMS.key in present:  # items also carry seller_id
        return ITEMS
    matches = [k for k in (BUYERS, SELLERS) if k.key in present]
    return matches[0] if len(matches) == 1 else None


def normalise_header(name: str) -> str:
    """Header names are matched trimmed, case-insensitively and without a byte-order mark."""
    return name.replace("\ufeff", "").strip().lower()
