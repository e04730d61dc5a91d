"""The holdout generator (benchmarks/holdout.py) is deterministic and its files ingest cleanly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from graph.evaluate import load_truth

_spec = importlib.util.spec_from_file_location(
    "holdout", Path(__file__).resolve().parents[1] / "benchmarks" / "holdout.py")
holdout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(holdout)


def test_holdout_deterministic_and_ingests(tmp_path):
    names = ("orders.csv", "buyers.csv", "sellers.csv", "items.csv", "truth.json", "truth_buyers.csv")
    holdout.generate(tmp_path / "a", orders=5000, seed=3)
    holdout.generate(tmp_path / "b", orders=5000, seed=3)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    holdout.generate(tmp_path / "c", orders=5000, seed=4)
    assert (tmp_path / "c" / "orders.csv").read_bytes() != (tmp_path / "a" / "orders.csv").read_bytes()

    truth = load_truth(tmp_path / "a")
    assert {r["tactic"] for r in truth.rings} == set(holdout.TACTICS)
    assert all(len(r["buyers"]) >= 2 for r in truth.rings)
    _store, result = holdout.ingest(tmp_path / "a")
    read = {f.kind: f.read for f in result.files}
    assert read["orders"] == 5000 and read["buyers"] == len(truth.buyers)
    assert result.rejected == 0 and result.stored == result.read
