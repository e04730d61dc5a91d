"""Graph stores: open one by URI.

``duckdb:///path/file.duckdb`` (default ``./ringwatch.duckdb``) or
``neo4j://``, ``neo4j+s://``, ``bolt://``, ``bolt+s://`` URIs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from graph.errors import ConfigError
from graph.settings import Settings, get_settings
from graph.store.base import PROJECTIONS, RESULT_TABLES, GraphStore, Subgraph, UpsertCounts

__all__ = ["open_store", "GraphStore", "Subgraph", "UpsertCounts", "PROJECTIONS", "RESULT_TABLES", "redact_uri"]

NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


def redact_uri(uri: str) -> str:
    """The URI without user info, safe to log or show."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return parts.geturl()


def open_store(uri: str | None = None, *, settings: Settings | None = None, driver: Any = None) -> GraphStore:
    """Open the store named by ``uri`` (or the settings' ``store``).

    ``driver`` hands in a ready Neo4j driver (tests, notebooks).
    """
    settings = settings or get_settings()
    uri = uri or settings.store
    scheme = urlsplit(uri).scheme
    if scheme == "duckdb" or (not scheme and uri.endswith(".duckdb")):
        from graph.store.duckdb_store import DuckDBStore

        return DuckDBStore(uri)
    if scheme in NEO4J_SCHEMES:
        from graph.store.neo4j_store import Neo4jStore

        return Neo4jStore(uri, settings=settings, driver=driver)
    raise ConfigError(
        f"unknown store URI {redact_uri(uri)!r}: use duckdb:///path/file.duckdb or neo4j://host:7687 "
        f"(also {', '.join(s + '://' for s in NEO4J_SCHEMES[1:])})"
    )
