"""The one description of the RingWatch graph: node labels, keys and edges.

Both stores map this model one to one: DuckDB keeps orders as a wide table
whose foreign-key columns *are* the order's edges, Neo4j keeps the same
labels and relationship types as nodes and relationships. Nothing else in the
code base spells a label or relationship type by hand.

Identifiers (address, device, ip, ipnet, phone, payment, waybill) are the
things accounts share. Each has a raw value kept for display and a normalised
key that links are made on (see :mod:`ingest.normalise`). Orders name them;
a buyer's registered phone (buyers file) is a Phone too, linked to the
account by ``REGISTERED_PHONE``. The ``buyer_identifiers`` projection that
detection reads holds both: every ``USED`` edge and every registered phone.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "NodeType",
    "EdgeType",
    "NODE_TYPES",
    "EDGE_TYPES",
    "IDENTIFIER_KINDS",
    "IDENTIFIER_COLUMNS",
    "MEMBER_ENTITY_TYPES",
    "RING_TYPES",
    "ORDER_STATUSES",
    "node_type",
]


@dataclass(frozen=True)
class NodeType:
    """A node label, the name of its key property and the entity name used in outputs."""

    label: str
    key: str
    entity: str


@dataclass(frozen=True)
class EdgeType:
    """A relationship type between two labels (direction: source -> target)."""

    rel: str
    source: str
    target: str
    doc: str


NODE_TYPES: tuple[NodeType, ...] = (
    NodeType("Buyer", "buyer_id", "buyer"),
    NodeType("Seller", "seller_id", "seller"),
    NodeType("Item", "item_id", "item"),
    NodeType("Order", "order_id", "order"),
    NodeType("Address", "key", "address"),
    NodeType("Device", "key", "device"),
    NodeType("IP", "key", "ip"),
    NodeType("IPNetwork", "key", "ipnet"),
    NodeType("Phone", "key", "phone"),
    NodeType("Payment", "key", "payment"),
    NodeType("Waybill", "key", "waybill"),
)

# Identifier kind -> (order column holding the normalised key, raw display column).
IDENTIFIER_COLUMNS: dict[str, tuple[str, str]] = {
    "address": ("address_key", "ship_address"),
    "device": ("device_key", "device_id"),
    "ip": ("ip_key", "ip"),
    "ipnet": ("ipnet_key", "ip"),
    "phone": ("phone_key", "receiver_phone"),
    "payment": ("payment_key", "payment_account"),
    "waybill": ("waybill_key", "tracking_no"),
}
IDENTIFIER_KINDS: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)

EDGE_TYPES: tuple[EdgeType, ...] = (
    EdgeType("PLACED", "Buyer", "Order", "the buyer placed the order"),
    EdgeType("SOLD_BY", "Order", "Seller", "the order was placed with this shop"),
    EdgeType("CONTAINS", "Order", "Item", "the product ordered"),
    EdgeType("SHIPPED_TO", "Order", "Address", "normalised shipping address"),
    EdgeType("USED_DEVICE", "Order", "Device", "device fingerprint at checkout"),
    EdgeType("FROM_IP", "Order", "IP", "IP address at checkout"),
    EdgeType("RECEIVER_PHONE", "Order", "Phone", "receiver phone (full or masked)"),
    EdgeType("PAID_WITH", "Order", "Payment", "hashed payment instrument"),
    EdgeType("SHIPPED_AS", "Order", "Waybill", "tracking number"),
    EdgeType("IN_NETWORK", "IP", "IPNetwork", "the /24 (IPv4) or /64 (IPv6) network of an IP"),
    EdgeType("LISTED_BY", "Item", "Seller", "the shop that lists the item"),
    EdgeType("REGISTERED_PHONE", "Buyer", "Phone", "the phone the account registered with (buyers file)"),
    EdgeType(
        "USED",
        "Buyer",
        "*identifier*",
        "a buyer used an identifier on orders; properties first_seen, last_seen, n_orders",
    ),
)

# Order -> identifier relationship type per identifier kind.
ORDER_IDENTIFIER_REL: dict[str, str] = {
    "address": "SHIPPED_TO",
    "device": "USED_DEVICE",
    "ip": "FROM_IP",
    "phone": "RECEIVER_PHONE",
    "payment": "PAID_WITH",
    "waybill": "SHIPPED_AS",
}

# Entity types that may appear in ring_members.csv (CONTRACT.md section 3).
MEMBER_ENTITY_TYPES: tuple[str, ...] = ("buyer", "seller", "address", "device", "ip", "phone", "payment")

RING_TYPES: tuple[str, ...] = ("brushing", "malicious_buyers")

ORDER_STATUSES: tuple[str, ...] = (
    "created",
    "paid",
    "shipped",
    "delivered",
    "completed",
    "refunded",
    "cancelled",
)


def node_type(entity: str) -> NodeType:
    """Return the node type for an entity name (``"buyer"``, ``"ipnet"`` ...)."""
    for nt in NODE_TYPES:
        if nt.entity == entity:
            return nt
    raise KeyError(f"unknown entity type {entity!r}; expected one of {[n.entity for n in NODE_TYPES]}")
