"""Identity linkage in a forked process: the same tables as in one process, and its failures raised here."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

import graph.detect.pipeline as pipeline
from graph.detect.pipeline import run_detection
from graph.errors import EmptyGraphError
from tests.test_detect_pipeline import NOW, _store

OOM_SCORE = Path("/proc/self/oom_score_adj")


@pytest.fixture
def forking(monkeypatch):
    """Identity runs in a forked process whatever the size (and the machine's cores)."""
    monkeypatch.setattr(pipeline, "FORK_MIN_IDENTIFIERS", 0)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)


def test_a_forked_identity_run_publishes_the_same_tables(tmp_path, monkeypatch):
    store = _store(tmp_path / "s.duckdb")
    monkeypatch.setattr(pipeline, "FORK_MIN_IDENTIFIERS", 10**12)
    alone = run_detection(store, seed=1, now=NOW, publish=False)
    monkeypatch.setattr(pipeline, "FORK_MIN_IDENTIFIERS", 0)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    forked = run_detection(store, seed=1, now=NOW, publish=False)
    assert "wait_identity" in forked.timings and "wait_identity" not in alone.timings
    assert forked.timings["detect_identity"] > 0
    assert forked.run["methods"]["identity"]["ran"] and forked.rings.num_rows
    for name, table in alone.tables().items():
        assert forked.tables()[name].equals(table), name
    volatile = ("timings",)
    assert {k: v for k, v in forked.run.items() if k not in volatile} == {
        k: v for k, v in alone.run.items() if k not in volatile
    }
    assert not multiprocessing.active_children()


def test_an_error_in_the_forked_process_is_raised_with_its_traceback(tmp_path, monkeypatch, forking):
    def broken(identifiers, seed):
        raise ValueError("identity broke")

    monkeypatch.setattr(pipeline, "_run_identity", broken)
    with pytest.raises(ValueError, match="identity broke") as raised:
        run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert isinstance(raised.value.__cause__, ChildProcessError)
    assert "in broken" in str(raised.value.__cause__)
    assert not multiprocessing.active_children()


def test_an_empty_identity_graph_in_the_forked_process_is_reported_as_not_run(tmp_path, monkeypatch, forking):
    def empty(identifiers, seed):
        raise EmptyGraphError("no two buyers share an identifier")

    monkeypatch.setattr(pipeline, "_run_identity", empty)
    result = run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert result.run["methods"]["identity"] == {"ran": False, "reason": "no two buyers share an identifier"}


def test_a_forked_process_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch, forking):
    monkeypatch.setattr(pipeline, "_run_identity", lambda identifiers, seed: os._exit(3))
    with pytest.raises(RuntimeError, match="exit code 3"):
        run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert not multiprocessing.active_children()


def test_the_forked_process_is_killed_when_this_one_fails(tmp_path, monkeypatch, forking):
    def failing_dense(orders, seed):
        raise MemoryError("dense blocks ran out")

    monkeypatch.setattr(pipeline, "_run_identity", lambda identifiers, seed: time.sleep(60))
    monkeypatch.setattr(pipeline, "_run_dense", failing_dense)
    started = time.monotonic()
    with pytest.raises(MemoryError):
        run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert time.monotonic() - started < 30
    assert not multiprocessing.active_children()


def test_without_memory_for_a_second_process_identity_runs_here(tmp_path, monkeypatch, forking):
    monkeypatch.setattr(pipeline, "_available_memory", lambda: 0)
    result = run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert "wait_identity" not in result.timings and result.run["methods"]["identity"]["ran"]


def test_the_memory_available_is_read_from_the_kernel():
    assert 0 < pipeline._available_memory() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _cgroup(root, version: int, limit: str, usage: int, active: int = 0, inactive: int = 0, mapped: int = 0) -> str:
    """A cgroup file tree as the kernel mounts it; returns the /proc/self/cgroup text."""
    folder = root / ("pod" if version == 2 else "memory/pod")
    folder.mkdir(parents=True)
    names = ("memory.max", "memory.current", "") if version == 2 else (
        "memory.limit_in_bytes", "memory.usage_in_bytes", "total_")
    (folder / names[0]).write_text(f"{limit}\n")
    (folder / names[1]).write_text(f"{usage}\n")
    prefix = names[2]
    mapped_name = "file_mapped" if version == 2 else "total_mapped_file"
    (folder / "memory.stat").write_text(
        f"{prefix}anon {usage - active - inactive}\n{prefix}active_file {active}\n"
        f"{prefix}inactive_file {inactive}\n{mapped_name} {mapped}\n"
    )
    proc = root / "proc-self-cgroup"
    proc.write_text("0::/pod\n" if version == 2 else "4:memory:/pod\n1:cpu:/\n0::/\n")
    return str(proc)


@pytest.mark.parametrize("version", [2, 1])
def test_a_container_memory_limit_caps_what_is_available(tmp_path, version):
    gb = 10**9
    proc = _cgroup(tmp_path, version, str(16 * gb), usage=10 * gb, active=2 * gb, inactive=1 * gb, mapped=gb // 2)
    # 16 GB limit, 10 GB charged of which 3 GB page cache, 0.5 GB of it mapped by processes:
    # the kernel can drop 2.5 GB, so 8.5 GB are left.
    assert pipeline._cgroup_headroom(proc, str(tmp_path)) == 8 * gb + gb // 2


def test_an_unlimited_cgroup_leaves_the_host_figure(tmp_path):
    proc = _cgroup(tmp_path, 2, "max", usage=10**9)
    assert pipeline._cgroup_headroom(proc, str(tmp_path)) is None


def test_a_forked_process_killed_for_memory_is_redone_here(tmp_path, monkeypatch, forking, caplog):
    parent = os.getpid()
    real = pipeline._run_identity

    def killed_in_the_child(identifiers, seed):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer sends
        return real(identifiers, seed)

    store = _store(tmp_path / "s.duckdb")
    expected = run_detection(store, seed=1, now=NOW, publish=False)
    monkeypatch.setattr(pipeline, "_run_identity", killed_in_the_child)
    result = run_detection(store, seed=1, now=NOW, publish=False)
    assert "killed" in caplog.text
    assert result.run["methods"]["identity"]["ran"]
    for name, table in expected.tables().items():
        assert result.tables()[name].equals(table), name
    assert not multiprocessing.active_children()


def test_the_forked_process_volunteers_for_the_out_of_memory_killer(tmp_path, monkeypatch, forking):
    def own_score(identifiers, seed):
        raise ValueError(OOM_SCORE.read_text().strip())

    monkeypatch.setattr(pipeline, "_run_identity", own_score)
    with pytest.raises(ValueError, match="^1000$"):
        run_detection(_store(tmp_path / "s.duckdb"), now=NOW, publish=False)
    assert OOM_SCORE.read_text().strip() != "1000"  # this process keeps its own
