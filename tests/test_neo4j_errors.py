"""What a user sees when Neo4j cannot be used: the real driver against local sockets.

No fake driver objects: ``Neo4jStore`` builds the official ``neo4j`` driver and talks
to a TCP socket on 127.0.0.1 that refuses connections, accepts and drops them, or
(like the stub servers of Neo4j's own driver test kit) answers the Bolt handshake
and then drops the connection or rejects the login. The secret is a real password the
driver sends over the wire; it must never reach an error message or a log line.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from graph.errors import ConfigError, StoreUnavailable
from graph.schema import ORDER_SCHEMA
from graph.settings import get_settings
from graph.store import open_store
from graph.store.neo4j_store import Neo4jStore, _arrow_batch, _plain_rows
from tests.helpers import T0, orders

SECRET = "hunter2-Sup3r-s3cret"
BOLT_5_0 = bytes([0, 0, 0, 5])


def _pack_string(text: str) -> bytes:
    data = text.encode()
    return (bytes([0x80 + len(data)]) if len(data) < 16 else bytes([0xD0, len(data)])) + data


def _failure(code: str, message: str) -> bytes:
    """A Bolt FAILURE message, chunked: what a server sends when it refuses a login."""
    body = bytes([0xB1, 0x7F, 0xA2]) + _pack_string("code") + _pack_string(code)
    body += _pack_string("message") + _pack_string(message)
    return struct.pack(">H", len(body)) + body + b"\x00\x00"


class BoltSocket:
    """A listener on 127.0.0.1 that misbehaves in one of these ways.

    ``refuse``: nothing listens, connections are refused. ``drop``: accept and close at once.
    ``drop_after_hello``: agree on Bolt 5.0, read the login, close. ``reject_login``: agree on
    Bolt 5.0, read the login, answer that authentication failed.
    """

    def __init__(self, mode: str):
        self.mode = mode
        self.connections = 0
        self.received = b""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        if mode != "refuse":
            self._sock.listen(16)
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                if self.mode == "drop":
                    continue
                conn.settimeout(5)
                self.received += conn.recv(20)  # magic + four version proposals
                conn.sendall(BOLT_5_0)
                self.received += conn.recv(4096)  # HELLO, with the credentials
                if self.mode == "reject_login":
                    conn.sendall(
                        _failure(
                            "Neo.ClientError.Security.Unauthorized",
                            "The client is unauthorized due to authentication failure.",
                        )
                    )
                    conn.recv(4096)

    def close(self) -> None:
        self._sock.close()


@contextlib.contextmanager
def bolt_socket(mode: str) -> Iterator[BoltSocket]:
    server = BoltSocket(mode)
    try:
        yield server
    finally:
        server.close()


def store_for(server: BoltSocket, scheme: str = "bolt", **kwargs) -> Neo4jStore:
    settings = get_settings(neo4j_user="neo4j", neo4j_password=SECRET, neo4j_batch_size=2)
    return Neo4jStore(f"{scheme}://127.0.0.1:{server.port}", settings=settings, max_retry_time=0.5, **kwargs)


def _whole_story(exc: BaseException) -> str:
    """The message of an error and of every error chained behind it (what a traceback shows)."""
    parts = []
    while exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


@pytest.fixture
def driver_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="neo4j")
    return caplog


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_unreachable_server_is_store_unavailable_naming_the_uri(scheme, driver_logs):
    with bolt_socket("refuse") as server:
        store = store_for(server, scheme)
        with pytest.raises(StoreUnavailable) as caught:
            store.counts()
        store.close()
    message = str(caught.value)
    assert f"{scheme}://127.0.0.1:{server.port}" in message
    assert "NEO4J_URI" in message and "NEO4J_PASSWORD" in message
    assert SECRET not in _whole_story(caught.value)
    assert SECRET not in driver_logs.text


def test_a_dropped_connection_is_retried_within_the_time_budget(driver_logs):
    with bolt_socket("drop_after_hello") as server:
        store = store_for(server)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="cannot reach Neo4j"):
            store.upsert_orders(orders([{"order_id": "o1", "buyer_id": "b1"}]))
        elapsed = time.monotonic() - started
        store.close()
    # Retried (first attempt, then one after the ~1 s back-off), then gave up: the 0.5 s budget bounds it.
    assert server.connections == 2
    assert elapsed < 5
    # The password did go over the wire, and still shows nowhere.
    assert SECRET.encode() in server.received
    assert SECRET not in driver_logs.text


def test_a_refused_login_is_not_retried_and_says_what_to_check(driver_logs):
    with bolt_socket("reject_login") as server:
        store = store_for(server)
        with pytest.raises(StoreUnavailable) as caught:
            store.runs()
        store.close()
    message = str(caught.value)
    assert "refused the login" in message and "NEO4J_USER and NEO4J_PASSWORD" in message
    assert f"bolt://127.0.0.1:{server.port}" in message
    assert server.connections == 1
    assert SECRET.encode() in server.received
    assert SECRET not in _whole_story(caught.value)
    assert SECRET not in driver_logs.text


def test_opening_a_store_sends_nothing_until_first_use():
    with bolt_socket("drop") as server:
        store = open_store(
            f"bolt://127.0.0.1:{server.port}", settings=get_settings(neo4j_user="neo4j", neo4j_password=SECRET)
        )
        assert isinstance(store, Neo4jStore)
        store.close()
    assert server.connections == 0


def test_credentials_in_the_uri_are_refused_without_echoing_them():
    with pytest.raises(ConfigError, match="NEO4J_USER and NEO4J_PASSWORD") as caught:
        open_store(f"neo4j://neo4j:{SECRET}@db.example:7687", settings=get_settings())
    assert SECRET not in str(caught.value)
    assert "neo4j://db.example:7687" in str(caught.value)


def test_a_user_without_a_password_is_a_config_error():
    with pytest.raises(ConfigError, match="both NEO4J_USER and NEO4J_PASSWORD"):
        Neo4jStore("bolt://127.0.0.1:7687", settings=get_settings(neo4j_user="neo4j"))


def test_the_store_names_its_uri_and_never_the_password():
    store = Neo4jStore("neo4j+s://db.example:7687", settings=get_settings(neo4j_user="neo4j", neo4j_password=SECRET))
    assert store.uri == "neo4j+s://db.example:7687"
    assert SECRET not in repr(store) and SECRET not in repr(vars(store))
    store.close()


def test_rows_travel_without_nulls_and_with_microsecond_times():
    early = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    table = orders(
        [
            {"order_id": "o1", "buyer_id": "b1", "amount": 9.5, "updated_at": T0.replace(microsecond=123_456)},
            {"order_id": "o2", "buyer_id": "b2", "created_at": early},
        ]
    )
    rows = _plain_rows(table.to_batches()[0])
    # Unknown values are left out, so they are never stored as properties.
    assert rows[1] == {"order_id": "o2", "buyer_id": "b2", "seller_id": "s1", "created_at": -1, "quantity": 1}
    assert rows[0]["updated_at"] == int(T0.timestamp()) * 1_000_000 + 123_456
    # Read back (what projections do with the server's microsecond numbers), the instants are exact.
    times = pa.schema([ORDER_SCHEMA.field("created_at"), ORDER_SCHEMA.field("updated_at")])
    back = _arrow_batch([[r["created_at"], r.get("updated_at")] for r in rows], times)
    assert back.column("created_at").to_pylist() == table.column("created_at").to_pylist()
    assert back.column("updated_at").to_pylist() == table.column("updated_at").to_pylist()
