"""``python -m app.web.serve run app/web/main.py ...``: Streamlit's command line, the explorer's libraries imported first.

Streamlit imports a page's modules in the first browser session, so the first
analyst to open a freshly started app waited for pandas, DuckDB, Altair and
the report renderer to load (seconds on a busy machine). ``ringwatch app``
starts the server through this module instead, which imports them before the
server listens. Modules with Streamlit caches (:mod:`app.web.data`) are left
to the first run, where the runtime that holds their caches exists.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

# What the pages need beyond Streamlit itself; optional ones may be missing.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "altair",
    "graph.store",
    "app.web.graph_view",
    "app.web.evidence",
    "graph.report",
    "ingest.normalise",
)


def preload() -> None:
    """Import the explorer's heavy libraries (a missing optional one is skipped)."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def main() -> None:
    preload()
    from streamlit.web import cli  # noqa: PLC0415 - after the preload, as the server would

    sys.argv[0] = "streamlit"
    cli.main()


if __name__ == "__main__":
    main()
