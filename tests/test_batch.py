"""Periodic batch jobs (issue 7): incremental, one at a time, crash safe, change tracking, alerts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from graph.store import open_store
from graph.store.lock import new_holder
from ingest.generate import generate

RINGWATCH = str(Path(sys.executable).with_name("ringwatch"))
EXPORTS = ("rings.csv", "ring_members.csv", "buyer_scores.csv", "rings.json")


@pytest.fixture(scope="module")
def two_days(tmp_path_factory) -> tuple[Path, Path]:
    """A generated data set whose orders are split at the median day into two files."""
    root = tmp_path_factory.mktemp("days")
    generate(root / "gen", orders=8000, seed=7)
    day1, day2 = root / "day1", root / "day2"
    day1.mkdir()
    day2.mkdir()
    for name in ("buyers.csv", "sellers.csv", "items.csv"):
        shutil.copy(root / "gen" / name, day1 / name)
    orders = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((root / "gen").glob("orders*.csv"))])
    day = pd.to_datetime(orders["created_at"], utc=True, format="ISO8601").dt.floor("D")
    cut = day.sort_values().iloc[len(day) // 2]
    orders[day < cut].to_csv(day1 / "orders_day1.csv", index=False)
    orders[day >= cut].to_csv(day2 / "orders_day2.csv", index=False)
    return day1, day2


def batch(inputs: Path, out: Path, store: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [RINGWATCH, "batch", "--input", str(inputs), "--out", str(out), "--store", f"duckdb://{store}", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


def exports(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in EXPORTS}


def test_second_day_ingests_only_new_files_and_tracks_changes(two_days, tmp_path):
    day1, day2 = two_days
    inbox, store = tmp_path / "inbox", tmp_path / "s.duckdb"
    shutil.copytree(day1, inbox)
    first = batch(inbox, tmp_path / "out1", store)
    assert first.returncode == 0, first.stderr
    run1 = json.loads((tmp_path / "out1" / "run.json").read_text())
    rings1 = pd.read_csv(tmp_path / "out1" / "rings.csv")
    assert set(rings1["change"]) <= {"new"} and len(rings1) > 0

    shutil.copy(day2 / "orders_day2.csv", inbox)
    second = batch(inbox, tmp_path / "out2", store)
    assert second.returncode == 0, second.stderr
    run2 = json.loads((tmp_path / "out2" / "run.json").read_text())
    actions = {Path(f["path"]).name: f["action"] for f in run2["files"]}
    assert actions == {"buyers.csv": "unchanged", "sellers.csv": "unchanged", "items.csv": "unchanged",
                       "orders_day1.csv": "unchanged", "orders_day2.csv": "ingest"}
    day2_rows = len(pd.read_csv(day2 / "orders_day2.csv", dtype=str))
    assert run2["ingest"]["read"] == day2_rows and run2["run_id"] != run1["run_id"]

    rings2 = pd.read_csv(tmp_path / "out2" / "rings.csv")
    old_ids = set(rings1["ring_id"])
    kept = rings2[rings2["change"] != "new"]
    assert len(kept) > 0, "some day-1 ring should carry on into day 2 with its id"
    assert set(kept["ring_id"]) <= old_ids
    assert not set(rings2.loc[rings2["change"] == "new", "ring_id"]) & old_ids
    assert set(run2["changes"]["disappeared"]) == old_ids - set(rings2["ring_id"])
    for change in ("new", "grown", "shrunk", "unchanged"):
        assert set(run2["changes"][change]) == set(rings2.loc[rings2["change"] == change, "ring_id"])

    # Re-running the finished batch changes nothing.
    again = batch(inbox, tmp_path / "out2", store)
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "out2" / "run.json").read_text())
    assert rerun["ingest"] is None and rerun["detection"] is None and rerun["run_id"] == run2["run_id"]
    assert pd.read_csv(tmp_path / "out2" / "rings.csv").equals(rings2)


def test_a_second_batch_is_refused_while_one_runs(two_days, tmp_path):
    day1, _ = two_days
    store = tmp_path / "s.duckdb"
    holder_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = {**new_holder("run-elsewhere"), "pid": holder_proc.pid}
        open_store(f"duckdb://{store}").acquire_lock(holder)
        refused = batch(day1, tmp_path / "out", store)
        assert refused.returncode == 1
        assert "another batch is running" in refused.stderr and str(holder_proc.pid) in refused.stderr
    finally:
        holder_proc.kill()
        holder_proc.wait()
    # The holder died without releasing: the next batch takes the lock over.
    assert batch(day1, tmp_path / "out", store).returncode == 0


def _kill_at(stage_prefix: str, inputs: Path, out: Path, store: Path) -> None:
    """Run a batch and kill -9 it when it reports progress in a stage starting with ``stage_prefix``."""
    cmd = [RINGWATCH, "--log-json", "batch", "--input", str(inputs), "--out", str(out), "--store", f"duckdb://{store}"]
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                          env={**os.environ, "RINGWATCH_CHUNK_ROWS": "1000"}) as proc:
        for line in proc.stderr:
            stage = json.loads(line).get("stage", "") if line.startswith("{") else ""
            if stage.startswith(stage_prefix):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the batch ended before reaching {stage_prefix!r}"


@pytest.mark.parametrize("stage", ["storing orders", "detect"])
def test_kill_9_then_rerun_gives_the_same_exports_as_a_clean_run(two_days, tmp_path, stage):
    day1, _ = two_days
    clean = batch(day1, tmp_path / "clean", tmp_path / "clean.duckdb")
    assert clean.returncode == 0, clean.stderr

    _kill_at(stage, day1, tmp_path / "crashed", tmp_path / "crashed.duckdb")
    assert not (tmp_path / "crashed" / "rings.csv").exists()
    rerun = batch(day1, tmp_path / "crashed", tmp_path / "crashed.duckdb")
    assert rerun.returncode == 0, rerun.stderr
    assert exports(tmp_path / "crashed") == exports(tmp_path / "clean")


def test_notify_cmd_receives_the_alerts_file(two_days, tmp_path):
    day1, _ = two_days
    received = tmp_path / "received.jsonl"
    notify = shlex.join([sys.executable, "-c", f"import shutil, sys; shutil.copy(sys.argv[1], {str(received)!r})"])
    done = batch(day1, tmp_path / "out", tmp_path / "s.duckdb", "--alert-threshold", "0", "--notify-cmd", notify)
    assert done.returncode == 0, done.stderr
    alerts = (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8")
    assert alerts and received.read_text(encoding="utf-8") == alerts
    rings = pd.read_csv(tmp_path / "out" / "rings.csv")
    assert {json.loads(line)["ring_id"] for line in alerts.splitlines()} == set(rings["ring_id"])


def test_a_failing_notify_cmd_fails_the_run(two_days, tmp_path):
    day1, _ = two_days
    notify = shlex.join([sys.executable, "-c", "import sys; sys.exit(3)"])
    done = batch(day1, tmp_path / "out", tmp_path / "s.duckdb", "--alert-threshold", "0", "--notify-cmd", notify,
                 "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["notify"]["exit_code"] == 3
