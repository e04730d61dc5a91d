"""Every Cypher statement the Neo4j store can send, and every query in docs/neo4j.md, lints clean.

The linter is Neo4j's own Cypher language support (``@neo4j-cypher/language-support``,
run by ``tools/cypher-lint/lint.mjs`` under Node.js), the checks Neo4j Browser runs.
Each statement is linted as Cypher 5 and Cypher 25 (Neo4j 5.x and 2025.x), with only
the parameters it declares, against the RingWatch graph: its labels, relationship
types (with their directions) and property keys. Zero diagnostics are allowed, so a
misspelt label, property or ``$parameter``, or a relationship walked the wrong way,
fails here without a Neo4j server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.model import EDGE_TYPES, IDENTIFIER_KINDS, MEMBER_ENTITY_TYPES, node_type
from graph.store.cypher import (
    LABELS,
    PROPERTY_KEYS,
    RELATIONSHIP_TYPES,
    STORE_EDGE_TYPES,
    STATEMENTS,
    markdown_queries,
)

ROOT = Path(__file__).resolve().parents[1]
LINT_DIR = ROOT / "tools" / "cypher-lint"
DOCS = ROOT / "docs" / "neo4j.md"
VERSIONS = ("CYPHER 5", "CYPHER 25")

# Accessors of temporal values (``o.created_at.epochSeconds``): the linter checks them like property keys.
TEMPORAL_ACCESSORS = ("epochSeconds", "microsecond", "epochMillis")

_WILDCARDS = {
    "*identifier*": tuple(node_type(kind).label for kind in IDENTIFIER_KINDS),
    "*member*": tuple(node_type(entity).label for entity in MEMBER_ENTITY_TYPES),
}


def _graph_schema() -> list[dict[str, str]]:
    """The model's relationships with their directions, wildcard targets spelled out."""
    pairs = []
    for et in (*EDGE_TYPES, *STORE_EDGE_TYPES):
        for target in _WILDCARDS.get(et.target, (et.target,)):
            pairs.append({"from": et.source, "to": target, "relType": et.rel})
    return pairs


SCHEMA = {
    "labels": list(LABELS),
    "relationshipTypes": list(RELATIONSHIP_TYPES),
    "propertyKeys": [*PROPERTY_KEYS, *TEMPORAL_ACCESSORS],
    "graphSchema": _graph_schema(),
}


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "Cypher lint skipped: Node.js is not installed (./dev test installs Debian's nodejs and npm)."
    if not (LINT_DIR / "node_modules").is_dir():
        return (
            "Cypher lint skipped: tools/cypher-lint/node_modules is missing; "
            "run `cd tools/cypher-lint && npm ci` (./dev test does it)."
        )
    return None


def _lint_input_key(statements: list[dict]) -> str:
    """Cache key: the statements, the schema, the lint script and the locked linter version."""
    digest = hashlib.sha256(json.dumps([statements, SCHEMA], sort_keys=True).encode())
    for name in ("lint.mjs", "package-lock.json"):
        digest.update((LINT_DIR / name).read_bytes())
    return "cypher-lint/" + digest.hexdigest()


def lint(statements: list[dict], cache: pytest.Cache | None = None) -> dict[str, list[dict]]:
    """Lint ``[{name, text, parameters}]``; diagnostics per name, each tagged with its Cypher version.

    The analyser is slow (~0.1 s a statement), so the two Cypher versions run in two
    Node processes at once, and the result is remembered in pytest's cache under a key
    made of everything that decides it (statements, schema, lint script, locked linter).
    """
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    key = _lint_input_key(statements)
    remembered = cache.get(key, None) if cache is not None else None
    if remembered is not None:
        return remembered
    procs = [
        subprocess.Popen(
            ["node", "lint.mjs"],
            cwd=LINT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in VERSIONS
    ]
    found: dict[str, list[dict]] = {s["name"]: [] for s in statements}
    outputs = [
        proc.communicate(json.dumps({"statements": statements, "schema": SCHEMA, "versions": [version]}), timeout=600)
        for proc, version in zip(procs, VERSIONS)
    ]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, f"cypher-lint failed: {err}"
        for result in json.loads(out)["results"]:
            found[result["name"]] += [{**d, "version": result["version"]} for d in result["diagnostics"]]
    if cache is not None:
        cache.set(key, found)
    return found


def _cache(request: pytest.FixtureRequest) -> pytest.Cache | None:
    return getattr(request.config, "cache", None)  # None under -p no:cacheprovider


@pytest.fixture(scope="session")
def store_lint(request) -> dict[str, list[dict]]:
    statements = [{"name": s.name, "text": s.text, "parameters": list(s.params)} for s in STATEMENTS.values()]
    return lint(statements, _cache(request))


def doc_queries() -> dict[str, dict]:
    """The ```cypher blocks of docs/neo4j.md by position, with the parameters they declare."""
    queries = markdown_queries(DOCS.read_text(encoding="utf-8"))
    return {f"docs/neo4j.md block {n}": {"text": q["text"], "parameters": q["parameters"]} for n, q in enumerate(queries, 1)}


@pytest.fixture(scope="session")
def docs_lint(request) -> dict[str, list[dict]]:
    return lint([{"name": name, **block} for name, block in doc_queries().items()], _cache(request))


def _explain(text: str, diagnostics: list[dict]) -> str:
    lines = [f"  [{d['version']}] {d['severity']} at {d['line']}:{d['column']}: {d['message']}" for d in diagnostics]
    return "\n".join(["", text, "", *lines])


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_store_statement_lints_clean(name, store_lint):
    diagnostics = store_lint[name]
    assert not diagnostics, _explain(STATEMENTS[name].text, diagnostics)


@pytest.mark.parametrize("name", sorted(doc_queries()))
def test_docs_query_lints_clean(name, docs_lint):
    diagnostics = docs_lint[name]
    assert not diagnostics, _explain(doc_queries()[name]["text"], diagnostics)


def test_docs_have_the_queries_analysts_asked_for():
    text = "\n".join(b["text"] for b in doc_queries().values())
    assert len(doc_queries()) >= 5
    for must in ("CURRENT_RUN", "HAS_MEMBER", ":Device", ":USED", ":SOLD_BY"):
        assert must in text, f"docs/neo4j.md has no query using {must}"


BROKEN = {
    "syntax": ("MATCH (n:Buyer) RETRN n", "Invalid input"),
    "undeclared parameter": ("MATCH (n:Buyer {buyer_id: $buyer}) RETURN n", "Parameter $buyer is not defined"),
    "unknown label": ("MATCH (n:Byer) RETURN n", "Byer is not present"),
    "unknown property": ("MATCH (n:Buyer) RETURN n.buyerid", "buyerid is not present"),
    "wrong direction": ("MATCH (o:Order)-[:PLACED]->(b:Buyer) RETURN b", "has no incoming"),
    "undefined variable": ("MATCH (n:Buyer) RETURN m", "Variable `m` not defined"),
}


def test_the_linter_catches_the_mistakes_it_is_here_for(request):
    found = lint([{"name": k, "text": t, "parameters": []} for k, (t, _m) in BROKEN.items()], _cache(request))
    for name, (_text, message) in BROKEN.items():
        messages = [d["message"] for d in found[name]]
        # Both Cypher versions report it.
        assert sum(message in m for m in messages) >= 2, f"{name}: linter said {messages}"
