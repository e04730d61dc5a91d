"""`ringwatch app`: start the analyst web explorer (Streamlit) on a store.

The store URI reaches the app through the ``RINGWATCH_STORE`` environment
variable, never through the Streamlit command line, so process listings and
logs do not show it (nor any credential in it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli.options import Store
from graph.settings import get_settings

__all__ = ["command", "streamlit_argv", "launch", "ENTRY"]

ENTRY = Path(__file__).resolve().parents[1] / "web" / "main.py"


def streamlit_argv(*, port: int, host: str, headless: bool) -> list[str]:
    """The ``streamlit run`` command line for the explorer (no store, no secrets in it).

    It runs Streamlit through :mod:`app.web.serve`, which imports the pages'
    libraries before the server listens, so the first analyst does not wait for them.
    """
    return [
        sys.executable,
        "-m",
        "app.web.serve",
        "run",
        str(ENTRY),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true" if headless else "false",
        # No telemetry, no file watching, no dev tooling: a tool for analysts, not a dev server.
        "--browser.gatherUsageStats",
        "false",
        # Streamlit's first run on a machine otherwise waits on the terminal for an e-mail address.
        "--server.showEmailPrompt",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.base",
        "light",
        "--theme.primaryColor",
        "#0072B2",
    ]


def launch(store: str | None = None, *, port: int = 8501, host: str = "127.0.0.1", headless: bool = False) -> None:
    """Replace this process with the Streamlit server on the explorer (returns only on failure).

    ``ringwatch demo`` calls this after building its store.
    """
    uri = get_settings(store=store).store
    env = {**os.environ, "RINGWATCH_STORE": uri}
    argv = streamlit_argv(port=port, host=host, headless=headless)
    # exec, not a child process: stopping `ringwatch app` (Ctrl-C, SIGTERM) stops the server itself.
    os.execve(argv[0], argv, env)


def command(
    store: Store = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: everyone).")
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Start the analyst web explorer on the store."""
    launch(store, port=port, host=host, headless=headless)
