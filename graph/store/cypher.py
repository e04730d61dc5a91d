"""Every Cypher statement the Neo4j store can send, in one registry.

Each statement is a :class:`Statement` constant with the names of the
parameters it takes; :data:`STATEMENTS` maps every statement name to it, so
``tests/test_cypher_lint.py`` can lint them all with Neo4j's own Cypher
language support. Values always travel as parameters. Labels, relationship
types and property names are spelled from :mod:`graph.model` and
:mod:`graph.schema` constants when this module is imported, never from data.

Beside the graph model the store keeps its own records (Neo4j only): a
detection run is a ``(:Run)`` that ``FOUND`` its ``(:Ring)`` nodes; a ring
``HAS_MEMBER`` (``role``, ``member_score``) buyers, sellers and identifiers,
and ``HAS_EVIDENCE`` ``(:Evidence)`` nodes; a run ``SCORED`` every buyer. One
``(:RingWatchMeta)`` node points at the current run (``CURRENT_RUN``) and keeps
the schema version. Analyst decisions are ``(:Decision)`` nodes, the ingest
manifest ``(:IngestedFile)`` nodes, the batch lock one ``(:BatchLock)`` node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from graph.model import (
    EDGE_TYPES,
    IDENTIFIER_COLUMNS,
    MEMBER_ENTITY_TYPES,
    NODE_TYPES,
    ORDER_IDENTIFIER_REL,
    EdgeType,
    NodeType,
)
from graph.schema import ENTITY_SCHEMAS, ORDER_SCHEMA, RESULT_SCHEMAS

__all__ = [
    "Statement",
    "STATEMENTS",
    "markdown_queries",
    "STORE_NODE_TYPES",
    "STORE_EDGE_TYPES",
    "LABELS",
    "RELATIONSHIP_TYPES",
    "PROPERTY_KEYS",
    "SCHEMA_VERSION",
    "META_ID",
]

SCHEMA_VERSION = 1
META_ID = "ringwatch"

# The store's own records (see the module docstring). Keys: the property a node is found by
# (unique for Run, Decision, RingWatchMeta, IngestedFile and BatchLock).
STORE_NODE_TYPES: tuple[NodeType, ...] = (
    NodeType("Run", "publish_id", "run"),
    NodeType("Ring", "ring_id", "ring"),
    NodeType("Evidence", "signal", "evidence"),
    NodeType("Decision", "decision_id", "decision"),
    NodeType("RingWatchMeta", "id", "meta"),
    NodeType("IngestedFile", "path", "ingested_file"),
    NodeType("BatchLock", "id", "batch_lock"),
)
_UNIQUE_STORE_LABELS = ("Run", "Decision", "RingWatchMeta", "IngestedFile", "BatchLock")
STORE_EDGE_TYPES: tuple[EdgeType, ...] = (
    EdgeType("FOUND", "Run", "Ring", "the run found the ring"),
    EdgeType("HAS_MEMBER", "Ring", "*member*", "role, member_score; target is a buyer, seller or identifier"),
    EdgeType("HAS_EVIDENCE", "Ring", "Evidence", "a signal behind the ring's score"),
    EdgeType("SCORED", "Run", "Buyer", "score, ring_id, ring_type of every buyer in the run"),
    EdgeType("CURRENT_RUN", "RingWatchMeta", "Run", "the run readers see"),
)

LABELS: tuple[str, ...] = tuple(nt.label for nt in NODE_TYPES + STORE_NODE_TYPES)
RELATIONSHIP_TYPES: tuple[str, ...] = tuple(dict.fromkeys(et.rel for et in EDGE_TYPES + STORE_EDGE_TYPES))

_LABEL = {nt.entity: nt.label for nt in NODE_TYPES}
_KEY = {nt.entity: nt.key for nt in NODE_TYPES}
# Buyer -> identifier relationship types per kind: USED (from orders), and REGISTERED_PHONE for phones.
_BUYER_LINKS = {
    kind: "|".join(et.rel for et in EDGE_TYPES if et.source == "Buyer" and et.target in (_LABEL[kind], "*identifier*"))
    for kind in IDENTIFIER_COLUMNS
}
_ORDER_RELS = ("PLACED", "SOLD_BY", "CONTAINS", *ORDER_IDENTIFIER_REL.values())

# Properties the store writes beyond the columns of graph.schema.
_STORE_PROPERTIES = (
    "key",  # identifier nodes: the normalised value links are made on
    "has_attributes",  # Buyer/Seller/Item: a buyers/sellers/items row was loaded
    "n_orders",
    "first_seen",
    "last_seen",  # USED
    "publish_id",
    "run_id",
    "info",
    "started_at",
    "published_at",
    "superseded",  # Run
    "decision_id",
    "decision",
    "analyst",
    "note",
    "decided_at",  # Decision
    "id",
    "schema_version",  # RingWatchMeta
    "path",
    "size",
    "sha256",
    "ingested_at",  # IngestedFile
    "holder",
    "claimed_at",  # BatchLock
)
PROPERTY_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *ORDER_SCHEMA.names,
            *(n for schema in ENTITY_SCHEMAS.values() for n in schema.names),
            *(n for schema in RESULT_SCHEMAS.values() for n in schema.names),
            *_STORE_PROPERTIES,
        ]
    )
)

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Statement:
    """One Cypher statement and the names of the parameters it takes."""

    name: str
    text: str
    params: tuple[str, ...]


STATEMENTS: dict[str, Statement] = {}


_CLAUSE = re.compile(
    r"(UNWIND|MATCH|OPTIONAL|MERGE|CREATE|SET|REMOVE|DELETE|DETACH|WITH|WHERE|RETURN|ORDER|LIMIT|CALL)\b"
)


def _layout(text: str) -> str:
    """One clause a line, continuation lines indented: statements read the same however they were built."""
    lines = (line.strip() for line in text.strip().splitlines())
    return "\n".join(line if _CLAUSE.match(line) else "  " + line for line in lines if line)


def _register(name: str, text: str, *params: str) -> Statement:
    text = _layout(text)
    used = set(_PARAM.findall(text))
    if used != set(params):
        raise ValueError(f"statement {name}: declares parameters {sorted(params)} but uses {sorted(used)}")
    if name in STATEMENTS:
        raise ValueError(f"statement {name} registered twice")
    STATEMENTS[name] = Statement(name, text, tuple(params))
    return STATEMENTS[name]


def _micros(expr: str) -> str:
    """A temporal value as microseconds since the epoch (null stays null): Arrow reads it without Python objects."""
    return f"{expr}.epochSeconds * 1000000 + {expr}.microsecond"


def _from_micros(expr: str) -> str:
    """Epoch microseconds (sent as integers: the driver's datetime packing costs ~0.1 ms a value) as a DATETIME.

    Floor division, so instants before 1970 come out right too.
    """
    seconds = f"{expr} / 1000000 - CASE WHEN {expr} % 1000000 < 0 THEN 1 ELSE 0 END"
    nanos = f"({expr} % 1000000 + 1000000) % 1000000 * 1000"
    return f"CASE WHEN {expr} IS NULL THEN null ELSE datetime({{epochSeconds: {seconds}, nanosecond: {nanos}}}) END"


def _set_times(var: str, schema: pa.Schema) -> str:
    """``, var.t = <DATETIME of row.t>`` for each timestamp column (appended to ``SET var = row``)."""
    return "".join(
        f",\n{var}.{f.name} = {_from_micros('row.' + f.name)}" for f in schema if pa.types.is_timestamp(f.type)
    )


def _row(var: str, schema: pa.Schema, **computed: str) -> str:
    """``[var.a, var.b, ...]`` in schema order; timestamps as microseconds; ``computed`` overrides columns."""
    parts = []
    for field in schema:
        if field.name in computed:
            parts.append(computed[field.name])
        elif pa.types.is_timestamp(field.type):
            parts.append(_micros(f"{var}.{field.name}"))
        else:
            parts.append(f"{var}.{field.name}")
    return "[" + ", ".join(parts) + "]"


# Projections choose their columns at run time: values come back as one list per record, in $columns order.
_DYNAMIC_ROW = (
    "[k IN $columns | CASE WHEN k IN $time_columns THEN {v}[k].epochSeconds * 1000000 + {v}[k].microsecond "
    "ELSE {v}[k] END]"
)

# -- schema -----------------------------------------------------------------------

SCHEMA_META_VERSION = _register(
    "schema_meta_version",
    f"""
    OPTIONAL MATCH (m:RingWatchMeta {{id: '{META_ID}'}})
    RETURN m.schema_version AS version
    """,
)
SCHEMA_SET_VERSION = _register(
    "schema_set_version",
    f"""
    MERGE (m:RingWatchMeta {{id: '{META_ID}'}})
    SET m.schema_version = $version
    """,
    "version",
)
SCHEMA_CONSTRAINTS: tuple[Statement, ...] = tuple(
    _register(
        f"constraint_{nt.label.lower()}",
        f"CREATE CONSTRAINT ringwatch_{nt.label.lower()}_{nt.key} IF NOT EXISTS "
        f"FOR (n:{nt.label}) REQUIRE n.{nt.key} IS UNIQUE",
    )
    for nt in (*NODE_TYPES, *(nt for nt in STORE_NODE_TYPES if nt.label in _UNIQUE_STORE_LABELS))
)
SCHEMA_INDEXES: tuple[Statement, ...] = (
    _register(
        "index_ring_publish",
        "CREATE INDEX ringwatch_ring_publish IF NOT EXISTS FOR (n:Ring) ON (n.publish_id, n.ring_id)",
    ),
    _register("index_ring_id", "CREATE INDEX ringwatch_ring_id IF NOT EXISTS FOR (n:Ring) ON (n.ring_id)"),
    _register("index_run_id", "CREATE INDEX ringwatch_run_id IF NOT EXISTS FOR (n:Run) ON (n.run_id)"),
    _register(
        "index_decision_ring", "CREATE INDEX ringwatch_decision_ring IF NOT EXISTS FOR (n:Decision) ON (n.ring_id)"
    ),
)
SCHEMA_AWAIT = _register("schema_await", "CALL db.awaitIndexes($timeout_seconds)", "timeout_seconds")

# -- orders -----------------------------------------------------------------------

_ORDER_REFERENCES = ("buyer_id", "seller_id", "item_id", *(col for col, _raw in IDENTIFIER_COLUMNS.values()))

# Which incoming rows are already stored: stale ones (older updated_at) are left out, unchanged ones skipped.
ORDERS_EXISTING = _register(
    "orders_existing",
    f"""
    UNWIND $rows AS row
    MATCH (o:Order {{order_id: row.order_id}})
    RETURN o.order_id AS order_id,
           coalesce(row.updated_at < {_micros("o.updated_at")}, false) AS stale,
           coalesce(size(keys(o)) = size(keys(row)) AND all(k IN keys(row) WHERE
             CASE WHEN k IN $time_columns THEN {_micros("o[k]")} = row[k] ELSE o[k] = row[k] END), false) AS unchanged,
           o {{{", ".join("." + c for c in _ORDER_REFERENCES)}}} AS old
    """,
    "rows",
    "time_columns",
)
# A replaced order drops all its relationships; they are written again from the new row.
ORDERS_UNLINK = _register(
    "orders_unlink",
    f"""
    UNWIND $order_ids AS order_id
    MATCH (o:Order {{order_id: order_id}})-[r:{"|".join(_ORDER_RELS)}]-()
    DELETE r
    """,
    "order_ids",
)
ORDERS_MERGE = _register(
    "orders_merge",
    f"""
    UNWIND $rows AS row
    MERGE (o:Order {{order_id: row.order_id}})
    SET o = row{_set_times("o", ORDER_SCHEMA)}
    MERGE (b:Buyer {{buyer_id: row.buyer_id}})
    MERGE (s:Seller {{seller_id: row.seller_id}})
    MERGE (b)-[:PLACED]->(o)
    MERGE (o)-[:SOLD_BY]->(s)
    """,
    "rows",
)
ORDERS_LINK_ITEMS = _register(
    "orders_link_items",
    """
    UNWIND $rows AS row
    MATCH (o:Order {order_id: row.order_id})
    MERGE (i:Item {item_id: row.item_id})
    MERGE (o)-[:CONTAINS]->(i)
    """,
    "rows",
)
ORDERS_LINK_IDENTIFIER: dict[str, Statement] = {
    kind: _register(
        f"orders_link_{kind}",
        f"""
        UNWIND $rows AS row
        MATCH (o:Order {{order_id: row.order_id}})
        MERGE (i:{_LABEL[kind]} {{key: row.key}})
        MERGE (o)-[:{rel}]->(i)
        """,
        "rows",
    )
    for kind, rel in ORDER_IDENTIFIER_REL.items()
}
# Networks exist for every ipnet_key; an IP links to the network its orders name.
ORDERS_LINK_NETWORKS = _register(
    "orders_link_networks",
    """
    UNWIND $rows AS row
    MERGE (n:IPNetwork {key: row.ipnet_key})
    WITH n, row
    WHERE row.ip_key IS NOT NULL
    MATCH (ip:IP {key: row.ip_key})
    MERGE (ip)-[:IN_NETWORK]->(n)
    """,
    "rows",
)
# USED is an aggregate of the buyer's orders, recomputed for the buyers a batch touched.
USED_REFRESH: dict[str, Statement] = {
    kind: _register(
        f"used_refresh_{kind}",
        f"""
        UNWIND $buyer_ids AS buyer_id
        MATCH (b:Buyer {{buyer_id: buyer_id}})-[:PLACED]->(o:Order)
        WHERE o.{col} IS NOT NULL
        WITH b, o.{col} AS key, count(*) AS n_orders, min(o.created_at) AS first_seen, max(o.created_at) AS last_seen
        MATCH (i:{_LABEL[kind]} {{key: key}})
        MERGE (b)-[u:USED]->(i)
        SET u.n_orders = n_orders, u.first_seen = first_seen, u.last_seen = last_seen
        """,
        "buyer_ids",
    )
    for kind, (col, _raw) in IDENTIFIER_COLUMNS.items()
}
USED_PRUNE: dict[str, Statement] = {
    kind: _register(
        f"used_prune_{kind}",
        f"""
        UNWIND $buyer_ids AS buyer_id
        MATCH (b:Buyer {{buyer_id: buyer_id}})-[u:USED]->(i:{_LABEL[kind]})
        WHERE NOT EXISTS {{ MATCH (b)-[:PLACED]->(o:Order) WHERE o.{col} = i.key }}
        DELETE u
        """,
        "buyer_ids",
    )
    for kind, (col, _raw) in IDENTIFIER_COLUMNS.items()
}
NETWORKS_PRUNE = _register(
    "networks_prune",
    """
    UNWIND $keys AS key
    MATCH (ip:IP {key: key})-[r:IN_NETWORK]->(n:IPNetwork)
    WHERE NOT EXISTS { MATCH (ip)<-[:FROM_IP]-(o:Order) WHERE o.ipnet_key = n.key }
    DELETE r
    """,
    "keys",
)
# Nodes that only existed through orders go when their last order moves away (as in the embedded store);
# nodes a published run points at stay.
def _kept_by_results(entity: str) -> str:
    kept = ["EXISTS { MATCH (n)<-[:HAS_MEMBER]-(:Ring) }"] if entity in MEMBER_ENTITY_TYPES else []
    if entity == "buyer":
        kept.append("EXISTS { MATCH (n)<-[:SCORED]-(:Run) }")
    return "".join(f" AND NOT {k}" for k in kept)


ORPHANS_DELETE: dict[str, Statement] = {
    **{
        kind: _register(
            f"orphans_delete_{kind}",
            f"""
            UNWIND $keys AS key
            MATCH (n:{_LABEL[kind]} {{key: key}})
            WHERE NOT EXISTS {{ MATCH (n)<-[:{_BUYER_LINKS[kind]}]-(:Buyer) }}{_kept_by_results(kind)}
            DETACH DELETE n
            """,
            "keys",
        )
        for kind in IDENTIFIER_COLUMNS
    },
    "buyer": _register(
        "orphans_delete_buyer",
        f"""
        UNWIND $keys AS key
        MATCH (n:Buyer {{buyer_id: key}})
        WHERE n.has_attributes IS NULL AND NOT EXISTS {{ MATCH (n)-[:PLACED]->(:Order) }}{_kept_by_results("buyer")}
        DETACH DELETE n
        """,
        "keys",
    ),
    "seller": _register(
        "orphans_delete_seller",
        f"""
        UNWIND $keys AS key
        MATCH (n:Seller {{seller_id: key}})
        WHERE n.has_attributes IS NULL AND NOT EXISTS {{ MATCH (n)<-[:SOLD_BY]-(:Order) }}
          AND NOT EXISTS {{ MATCH (n)<-[:LISTED_BY]-(:Item) }}{_kept_by_results("seller")}
        DETACH DELETE n
        """,
        "keys",
    ),
    # COUNT {} = 0, not NOT EXISTS {}: the linter (language-support 2.0.0-next.38) reads NOT EXISTS as a
    # negated relationship type and warns when CONTAINS is the only way into an Item.
    "item": _register(
        "orphans_delete_item",
        """
        UNWIND $keys AS key
        MATCH (n:Item {item_id: key})
        WHERE n.has_attributes IS NULL AND COUNT { (n)<-[:CONTAINS]-(:Order) } = 0
        DETACH DELETE n
        """,
        "keys",
    ),
}

# -- buyers, sellers, items ---------------------------------------------------------

ENTITY_UPSERT: dict[str, Statement] = {
    entity: _register(
        f"entity_upsert_{entity}",
        f"""
        UNWIND $rows AS row
        MERGE (n:{_LABEL[entity]} {{{_KEY[entity]}: row.{_KEY[entity]}}})
        SET n = row{_set_times("n", ENTITY_SCHEMAS[entity])}
        """,
        "rows",
    )
    for entity in ("buyer", "seller", "item")
}
# An entity row may name one linked node: a buyer its registered phone, an item its shop.
# The link follows the latest row (the old one is dropped, its node pruned when orphaned).
# entity -> (relationship, row column, target label, target key, ORPHANS_DELETE kind)
ENTITY_LINKS: dict[str, tuple[str, str, str, str, str]] = {
    "buyer": ("REGISTERED_PHONE", "phone_key", "Phone", "key", "phone"),
    "item": ("LISTED_BY", "seller_id", "Seller", "seller_id", "seller"),
}
ENTITY_UNLINK: dict[str, Statement] = {
    entity: _register(
        f"entity_unlink_{entity}",
        f"""
        UNWIND $keys AS key
        MATCH (:{_LABEL[entity]} {{{_KEY[entity]}: key}})-[r:{rel}]->(t:{label})
        DELETE r
        RETURN t.{target_key} AS key
        """,
        "keys",
    )
    for entity, (rel, _column, label, target_key, _kind) in ENTITY_LINKS.items()
}
ENTITY_LINK: dict[str, Statement] = {
    entity: _register(
        f"entity_link_{entity}",
        f"""
        UNWIND $rows AS row
        MATCH (n:{_LABEL[entity]} {{{_KEY[entity]}: row.key}})
        MERGE (t:{label} {{{target_key}: row.target}})
        MERGE (n)-[:{rel}]->(t)
        """,
        "rows",
    )
    for entity, (rel, _column, label, target_key, _kind) in ENTITY_LINKS.items()
}

# -- reads --------------------------------------------------------------------------

COUNT_NODES: dict[str, Statement] = {
    nt.label: _register(f"count_{nt.label.lower()}", f"MATCH (n:{nt.label}) RETURN count(n) AS n")
    for nt in NODE_TYPES
}
COUNT_RELATIONSHIPS: dict[str, Statement] = {
    rel: _register(f"count_{rel.lower()}", f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")
    for rel in dict.fromkeys(et.rel for et in EDGE_TYPES)
}
PROJECT_ORDERS = _register(
    "project_orders",
    f"MATCH (o:Order)\nRETURN {_DYNAMIC_ROW.format(v='o')} AS row",
    "columns",
    "time_columns",
)
# buyers/sellers/items: the attribute rows loaded for them, not every node the orders created.
PROJECT_ENTITIES: dict[str, Statement] = {
    entity: _register(
        f"project_{entity}s",
        f"MATCH (n:{_LABEL[entity]})\nWHERE n.has_attributes = true\nRETURN {_DYNAMIC_ROW.format(v='n')} AS row",
        "columns",
        "time_columns",
    )
    for entity in ("buyer", "seller", "item")
}
PROJECT_USED: dict[str, Statement] = {
    kind: _register(
        f"project_used_{kind}",
        f"""
        MATCH (b:Buyer)-[u:USED]->(i:{_LABEL[kind]})
        RETURN [b.buyer_id, '{kind}', i.key, u.n_orders, {_micros("u.first_seen")}, {_micros("u.last_seen")}] AS row
        """,
    )
    for kind in IDENTIFIER_COLUMNS
}
# Registered phones the buyer never used on an order: rows of buyer_identifiers with no orders.
PROJECT_REGISTERED_PHONES = _register(
    "project_registered_phones",
    """
    MATCH (b:Buyer)-[:REGISTERED_PHONE]->(i:Phone)
    WHERE NOT EXISTS { MATCH (b)-[:USED]->(i) }
    RETURN [b.buyer_id, 'phone', i.key, 0, null, null] AS row
    """,
)
ORDERS_OF = _register(
    "orders_of",
    f"""
    UNWIND $buyer_ids AS buyer_id
    MATCH (:Buyer {{buyer_id: buyer_id}})-[:PLACED]->(o:Order)
    RETURN {_DYNAMIC_ROW.format(v="o")} AS row
    """,
    "buyer_ids",
    "columns",
    "time_columns",
)

# Neighbourhoods: orders collapsed into buyer-seller (BOUGHT_FROM) and buyer-identifier (USED) edges,
# each part cut at $limit in the same order the caller sorts the union by.
_EDGE_ORDER = "ORDER BY n_orders DESC, source, target LIMIT $limit"
_KIND_OF_I = (
    "CASE " + " ".join(f"WHEN i:{_LABEL[kind]} THEN '{kind}'" for kind in IDENTIFIER_COLUMNS) + " END"
)
NEIGHBOURS_BUYER_USED = _register(
    "neighbours_buyer_used",
    f"""
    UNWIND $ids AS id
    MATCH (b:Buyer {{buyer_id: id}})-[u:USED]->(i)
    WITH 'buyer:' + b.buyer_id AS source, {_KIND_OF_I} + ':' + i.key AS target, u
    RETURN source, target, 'USED' AS rel, u.n_orders AS n_orders,
           {_micros("u.first_seen")} AS first_seen, {_micros("u.last_seen")} AS last_seen
    {_EDGE_ORDER}
    """,
    "ids",
    "limit",
)
_BOUGHT_FROM_RETURN = f"""
    WITH b, s, count(o) AS n_orders, min(o.created_at) AS first_seen, max(o.created_at) AS last_seen
    RETURN 'buyer:' + b.buyer_id AS source, 'seller:' + s.seller_id AS target, 'BOUGHT_FROM' AS rel, n_orders,
           {_micros("first_seen")} AS first_seen, {_micros("last_seen")} AS last_seen
    {_EDGE_ORDER}
"""
NEIGHBOURS_BUYER_SELLERS = _register(
    "neighbours_buyer_sellers",
    """
    UNWIND $ids AS id
    MATCH (b:Buyer {buyer_id: id})-[:PLACED]->(o:Order)-[:SOLD_BY]->(s:Seller)
    """
    + _BOUGHT_FROM_RETURN,
    "ids",
    "limit",
)
NEIGHBOURS_SELLER = _register(
    "neighbours_seller",
    """
    UNWIND $ids AS id
    MATCH (b:Buyer)-[:PLACED]->(o:Order)-[:SOLD_BY]->(s:Seller {seller_id: id})
    """
    + _BOUGHT_FROM_RETURN,
    "ids",
    "limit",
)
NEIGHBOURS_IDENTIFIER: dict[str, Statement] = {
    kind: _register(
        f"neighbours_{kind}",
        f"""
        UNWIND $ids AS id
        MATCH (b:Buyer)-[u:USED]->(i:{_LABEL[kind]} {{key: id}})
        RETURN 'buyer:' + b.buyer_id AS source, '{kind}:' + i.key AS target, 'USED' AS rel, u.n_orders AS n_orders,
               {_micros("u.first_seen")} AS first_seen, {_micros("u.last_seen")} AS last_seen
        {_EDGE_ORDER}
        """,
        "ids",
        "limit",
    )
    for kind in IDENTIFIER_COLUMNS
}
# The raw values people typed for an identifier (the caller shows the most common) and how many buyers share it.
DESCRIBE_IDENTIFIER: dict[str, Statement] = {
    kind: _register(
        f"describe_{kind}",
        f"""
        UNWIND $keys AS key
        MATCH (i:{_LABEL[kind]} {{key: key}})
        RETURN i.key AS key,
               size([(i)<-[:USED]-(:Buyer) | 1]) AS n_buyers,
               [(i)<-[:USED]-(:Buyer)-[:PLACED]->(o:Order) WHERE o.{col} = i.key AND o.{raw} IS NOT NULL | o.{raw}]
                 AS raw_values
        """,
        "keys",
    )
    for kind, (col, raw) in IDENTIFIER_COLUMNS.items()
}
DESCRIBE_SELLERS = _register(
    "describe_sellers",
    """
    UNWIND $keys AS key
    MATCH (s:Seller {seller_id: key})
    RETURN s.seller_id AS key, s.name AS name
    """,
    "keys",
)

# -- detection runs ------------------------------------------------------------------

# Publishing: the run's nodes are written under a fresh publish_id (readers do not see them), then one
# transaction points RingWatchMeta at the new Run, then older copies are deleted.
RUN_CREATE = _register(
    "run_create",
    """
    MERGE (run:Run {publish_id: $publish_id})
    SET run.run_id = $run_id, run.info = $info, run.started_at = $started_at
    """,
    "publish_id",
    "run_id",
    "info",
    "started_at",
)
RINGS_CREATE = _register(
    "rings_create",
    f"""
    MATCH (run:Run {{publish_id: $publish_id}})
    UNWIND $rows AS row
    CREATE (run)-[:FOUND]->(r:Ring)
    SET r = row{_set_times("r", RESULT_SCHEMAS["rings"])}
    """,
    "publish_id",
    "rows",
)
MEMBERS_CREATE: dict[str, Statement] = {
    entity: _register(
        f"members_create_{entity}",
        f"""
        UNWIND $rows AS row
        MATCH (r:Ring {{publish_id: $publish_id, ring_id: row.ring_id}})
        MERGE (n:{_LABEL[entity]} {{{_KEY[entity]}: row.entity_id}})
        CREATE (r)-[m:HAS_MEMBER]->(n)
        SET m = row.props
        """,
        "publish_id",
        "rows",
    )
    for entity in MEMBER_ENTITY_TYPES
}
EVIDENCE_CREATE = _register(
    "evidence_create",
    """
    UNWIND $rows AS row
    MATCH (r:Ring {publish_id: $publish_id, ring_id: row.ring_id})
    CREATE (r)-[:HAS_EVIDENCE]->(e:Evidence)
    SET e = row.props
    """,
    "publish_id",
    "rows",
)
SCORES_CREATE = _register(
    "scores_create",
    """
    MATCH (run:Run {publish_id: $publish_id})
    UNWIND $rows AS row
    MERGE (b:Buyer {buyer_id: row.buyer_id})
    CREATE (run)-[s:SCORED]->(b)
    SET s = row.props
    """,
    "publish_id",
    "rows",
)
# Runs flip in one transaction: older copies of the same run_id are superseded, the pointer moves.
RUN_SUPERSEDE = _register(
    "run_supersede",
    """
    MATCH (old:Run {run_id: $run_id})
    WHERE old.publish_id <> $publish_id
    SET old.superseded = true
    REMOVE old.published_at
    """,
    "run_id",
    "publish_id",
)
RUN_FLIP = _register(
    "run_flip",
    f"""
    MATCH (new:Run {{publish_id: $publish_id}})
    SET new.published_at = $published_at
    MERGE (meta:RingWatchMeta {{id: '{META_ID}'}})
    WITH new, meta
    OPTIONAL MATCH (meta)-[old:CURRENT_RUN]->(:Run)
    DELETE old
    WITH DISTINCT new, meta
    CREATE (meta)-[:CURRENT_RUN]->(new)
    RETURN new.publish_id AS publish_id
    """,
    "publish_id",
    "published_at",
)
RUNS_ALL = _register(
    "runs_all",
    f"""
    MATCH (run:Run)
    RETURN run.publish_id AS publish_id, run.run_id AS run_id, run.info AS info,
           {_micros("run.published_at")} AS published_at, {_micros("run.started_at")} AS started_at,
           coalesce(run.superseded, false) AS superseded
    """,
)
RUN_DELETE_EVIDENCE = _register(
    "run_delete_evidence",
    """
    MATCH (:Run {publish_id: $publish_id})-[:FOUND]->(:Ring)-[:HAS_EVIDENCE]->(e:Evidence)
    WITH e LIMIT $batch_size
    DETACH DELETE e
    RETURN count(*) AS deleted
    """,
    "publish_id",
    "batch_size",
)
RUN_DELETE_RINGS = _register(
    "run_delete_rings",
    """
    MATCH (:Run {publish_id: $publish_id})-[:FOUND]->(r:Ring)
    WITH r LIMIT $batch_size
    DETACH DELETE r
    RETURN count(*) AS deleted
    """,
    "publish_id",
    "batch_size",
)
RUN_DELETE_SCORES = _register(
    "run_delete_scores",
    """
    MATCH (:Run {publish_id: $publish_id})-[s:SCORED]->(:Buyer)
    WITH s LIMIT $batch_size
    DELETE s
    RETURN count(*) AS deleted
    """,
    "publish_id",
    "batch_size",
)
RUN_DELETE = _register(
    "run_delete",
    """
    MATCH (run:Run {publish_id: $publish_id})
    DETACH DELETE run
    """,
    "publish_id",
)
CURRENT_PUBLISH = _register(
    "current_publish",
    f"""
    MATCH (:RingWatchMeta {{id: '{META_ID}'}})-[:CURRENT_RUN]->(run:Run)
    RETURN run.publish_id AS publish_id
    """,
)
RUN_PUBLISH = _register(
    "run_publish",
    """
    MATCH (run:Run {run_id: $run_id})
    WHERE run.published_at IS NOT NULL
    RETURN run.publish_id AS publish_id
    ORDER BY run.published_at DESC
    LIMIT 1
    """,
    "run_id",
)
READ_RESULTS: dict[str, Statement] = {
    "rings": _register(
        "read_rings",
        f"""
        MATCH (:Run {{publish_id: $publish_id}})-[:FOUND]->(r:Ring)
        RETURN {_row("r", RESULT_SCHEMAS["rings"])} AS row
        """,
        "publish_id",
    ),
    "ring_members": _register(
        "read_ring_members",
        f"""
        MATCH (:Run {{publish_id: $publish_id}})-[:FOUND]->(r:Ring)-[m:HAS_MEMBER]->()
        RETURN {_row("m", RESULT_SCHEMAS["ring_members"], ring_id="r.ring_id")} AS row
        """,
        "publish_id",
    ),
    "ring_evidence": _register(
        "read_ring_evidence",
        f"""
        MATCH (:Run {{publish_id: $publish_id}})-[:FOUND]->(r:Ring)-[:HAS_EVIDENCE]->(e:Evidence)
        RETURN {_row("e", RESULT_SCHEMAS["ring_evidence"], ring_id="r.ring_id")} AS row
        """,
        "publish_id",
    ),
    "buyer_scores": _register(
        "read_buyer_scores",
        f"""
        MATCH (:Run {{publish_id: $publish_id}})-[s:SCORED]->(b:Buyer)
        RETURN {_row("s", RESULT_SCHEMAS["buyer_scores"], buyer_id="b.buyer_id")} AS row
        """,
        "publish_id",
    ),
}

# -- batch bookkeeping -------------------------------------------------------------------

MANIFEST_UPSERT = _register(
    "manifest_upsert",
    f"""
    UNWIND $rows AS row
    MERGE (f:IngestedFile {{path: row.path}})
    SET f = row, f.ingested_at = {_from_micros("row.ingested_at")}
    """,
    "rows",
)
MANIFEST_READ = _register(
    "manifest_read",
    f"""
    MATCH (f:IngestedFile)
    RETURN [f.path, f.size, f.sha256, f.run_id, {_micros("f.ingested_at")}] AS row
    """,
)
# Writing the lock node takes Neo4j's exclusive lock on it until the transaction ends, so two batches
# deciding at once queue here instead of both taking the lock.
LOCK_CLAIM = _register(
    "lock_claim",
    f"""
    MERGE (l:BatchLock {{id: '{META_ID}'}})
    SET l.claimed_at = $claimed_at
    RETURN l.holder AS holder
    """,
    "claimed_at",
)
LOCK_SET = _register(
    "lock_set",
    f"""
    MATCH (l:BatchLock {{id: '{META_ID}'}})
    SET l.holder = $holder
    """,
    "holder",
)
LOCK_RELEASE = _register(
    "lock_release",
    f"""
    MATCH (l:BatchLock {{id: '{META_ID}'}})
    WHERE l.holder = $holder
    REMOVE l.holder
    """,
    "holder",
)

# -- analyst decisions ------------------------------------------------------------------

DECISION_RECORD = _register(
    "decision_record",
    """
    MERGE (d:Decision {decision_id: $decision_id})
    SET d.ring_id = $ring_id, d.decision = $decision, d.analyst = $analyst, d.note = $note,
        d.decided_at = $decided_at
    """,
    "decision_id",
    "ring_id",
    "decision",
    "analyst",
    "note",
    "decided_at",
)
DECISIONS_READ = _register(
    "decisions_read",
    f"""
    MATCH (d:Decision)
    WHERE $ring_id IS NULL OR d.ring_id = $ring_id
    RETURN [d.ring_id, d.decision, d.analyst, d.note, {_micros("d.decided_at")}] AS row
    """,
    "ring_id",
)

# -- tests only -------------------------------------------------------------------------

# Orders first: they carry most relationships, so later batches detach little.
_DROP_ORDER = ("Order", *(label for label in LABELS if label != "Order"))
DROP_LABEL: dict[str, Statement] = {
    label: _register(
        f"drop_{label.lower()}",
        f"""
        MATCH (n:{label})
        WITH n LIMIT $batch_size
        DETACH DELETE n
        RETURN count(*) AS deleted
        """,
        "batch_size",
    )
    for label in _DROP_ORDER
}


_MD_BLOCK = re.compile(r"```cypher\n(.*?)```", re.S)
_MD_PARAMS = re.compile(r"^//\s*Parameters:\s*(.*)$", re.M)


def markdown_queries(markdown: str) -> list[dict]:
    """The ```` ```cypher ```` blocks of a Markdown page, such as docs/neo4j.md's analyst queries.

    Each is ``{"title", "text", "parameters"}``: the title is the paragraph
    before the block, the parameters those a ``// Parameters: a, b`` line in
    the block declares.
    """
    queries, start = [], 0
    for block in _MD_BLOCK.finditer(markdown):
        intro = [p.strip() for p in markdown[start : block.start()].split("\n\n") if p.strip()]
        declared = _MD_PARAMS.search(block.group(1))
        params = [p.strip().lstrip("$") for p in declared.group(1).split(",")] if declared else []
        title = " ".join(intro[-1].split()).rstrip(":") if intro else ""
        queries.append({"title": title, "text": block.group(1), "parameters": [p for p in params if p]})
        start = block.end()
    return queries
