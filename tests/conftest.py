"""Fixtures shared by the suite. ``store`` runs a test on every store implementation."""

from __future__ import annotations

import os

import pytest

from graph.settings import get_settings
from graph.store import open_store

NEO4J_HOWTO = (
    "Neo4j leg skipped: no NEO4J_URI. It needs a Neo4j 5.x/2025.x server you provide, e.g. "
    "NEO4J_URI=bolt://localhost:7687 NEO4J_USER=neo4j NEO4J_PASSWORD=... ./dev test -k neo4j "
    "(docker compose up -d starts one from docker-compose.yml; docs/neo4j.md)."
)


@pytest.fixture(params=["duckdb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path):
    """A fresh, empty store of each kind."""
    if request.param == "duckdb":
        yield open_store(f"duckdb://{tmp_path / 'store.duckdb'}")
        return
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.skip(NEO4J_HOWTO)
    neo = open_store(uri, settings=get_settings(store=uri))
    neo.drop_all()
    try:
        yield neo
    finally:
        neo.drop_all()
        neo.close()


@pytest.fixture
def duck(tmp_path):
    """A fresh embedded store (for tests that are about DuckDB only)."""
    return open_store(f"duckdb://{tmp_path / 'store.duckdb'}")
