"""The analyst notebooks (notebooks/*.ipynb) run top to bottom in a clean kernel and are stored clean.

Each notebook runs from a copy in a temporary folder (its ``scratch/`` data lands
there, never in the repository), in a fresh kernel of this virtualenv's Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from graph.evaluate import load_truth
from graph.store import open_store
from tests.conftest import NEO4J_HOWTO
from tests.test_cypher_lint import doc_queries

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 240  # seconds; the ablation cell of 02 is the longest (~30 s on a busy 2-core machine)
KERNEL = "ringwatch-test"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """Execute a stored notebook from a copy in tmp_path; returns the executed notebook."""
    # A kernelspec of this Python, first on the Jupyter path, so no other "python3" kernel is picked.
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "RingWatch test", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "notebooks"
    work.mkdir()

    def run(name: str) -> nbformat.NotebookNode:
        shutil.copy(ROOT / "notebooks" / name, work / name)
        nb = nbformat.read(work / name, as_version=4)
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                                resources={"metadata": {"path": str(work)}})
        client.execute()
        return nb

    run.work = work
    return run


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for o in _outputs(nb):
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _assert_no_warnings(nb: nbformat.NotebookNode) -> None:
    stderr = [o["text"] for o in _outputs(nb) if o.get("name") == "stderr"]
    assert not [t for t in stderr if "Warning" in t], stderr


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} is stored with outputs: clear them before committing (docs/notebooks.md)")


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_evaluate_and_tune.ipynb",
                                           "03_cypher_on_neo4j.ipynb"]


@pytest.mark.slow
def test_quickstart_shows_and_exports_a_ring_of_the_store_it_built(run_notebook):
    nb = run_notebook("01_quickstart.ipynb")
    ring_id = re.search(r"^ring (R-[0-9a-f]+): ", _text(nb), re.M).group(1)
    scratch = run_notebook.work / "scratch" / "01_quickstart"
    store = open_store(f"duckdb://{scratch / 'demo.duckdb'}")
    assert ring_id in store.read_results("rings").column("ring_id").to_pylist()
    assert (scratch / "export" / "reports" / f"{ring_id}.html").exists()
    assert _images(nb) == 1  # the ring's graph
    _assert_no_warnings(nb)


@pytest.mark.slow
def test_evaluate_notebook_reports_the_truth_it_generated_and_draws_both_charts(run_notebook):
    nb = run_notebook("02_evaluate_and_tune.ipynb")
    text = _text(nb)
    planted = int(re.search(r"(\d+) planted rings", text).group(1))
    (data,) = (run_notebook.work / "scratch").glob("02_evaluate_*/data")
    assert planted == len(load_truth(data).rings)
    for variant in ("all methods", "without identity", "only dense_block", "min_score 0.5"):
        assert variant in text
    assert _images(nb) == 2  # precision-recall curves, recall by tactic
    _assert_no_warnings(nb)


def test_cypher_notebook_without_neo4j_says_how_to_run_it_and_only_lists_the_queries(run_notebook, monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    nb = run_notebook("03_cypher_on_neo4j.ipynb")
    outputs = _outputs(nb)
    assert len(outputs) == 2, outputs
    assert "NEO4J_URI is not set" in outputs[0]["text"] and "docker compose up -d" in outputs[0]["text"]
    assert "A ring's shared devices" in outputs[1]["data"]["text/plain"]


def _cell_defining(nb: nbformat.NotebookNode, marker: str) -> str:
    (source,) = [c.source for c in nb.cells if c.cell_type == "code" and marker in c.source]
    return source


def test_cypher_notebook_runs_exactly_the_queries_of_docs_neo4j_md(monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    nb = _read("03_cypher_on_neo4j.ipynb")
    namespace: dict = {}
    exec(_cell_defining(nb, "NEO4J_URI = os.environ"), namespace)  # the notebook's imports
    namespace["display"] = lambda frame: None
    exec(_cell_defining(nb, "queries = markdown_queries"), namespace)
    found = namespace["queries"]
    documented = doc_queries().values()
    assert [q["text"] for q in found] == [d["text"] for d in documented]
    assert [q["parameters"] for q in found] == [d["parameters"] for d in documented]
    assert found[0]["title"] == "The current rings, most suspicious first"


@pytest.mark.slow
@pytest.mark.neo4j
def test_cypher_notebook_on_neo4j_runs_every_query(run_notebook, monkeypatch):
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.skip(NEO4J_HOWTO)
    # The notebook loads its demo data into the database: wipe RingWatch's nodes before and after.
    store = open_store(uri)
    store.drop_all()
    monkeypatch.setenv("RINGWATCH_NOTEBOOK_LOAD_DEMO", "1")
    try:
        nb = run_notebook("03_cypher_on_neo4j.ipynb")
    finally:
        store.drop_all()
        store.close()
    # Every query printed its row count; the one on a shared device may lack a device to ask about.
    assert len(re.findall(r"^  \d+ rows$", _text(nb), re.M)) >= len(doc_queries()) - 1
