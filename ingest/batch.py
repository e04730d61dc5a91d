"""The periodic batch job: ingest what is new, re-detect, export, tell the team what changed.

Safe to schedule and to kill: one batch per store (a lock naming its holder,
taken over when the holder died), files remembered in a manifest only after
they are stored, a detection run published atomically, export files replaced
atomically. Re-running a finished batch changes nothing; re-running a killed
one ends in the same store and exports as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from graph import __version__
from graph.errors import RingWatchError
from graph.progress import ProgressFn, report
from graph.store import GraphStore
from graph.store.lock import new_holder

__all__ = ["BatchResult", "run_batch", "file_digest"]

log = logging.getLogger(__name__)

ALERT_CHANGES = ("new", "grown")


@dataclass
class BatchResult:
    """What one batch did; ``to_dict()`` is ``run.json`` and the CLI's ``--json``."""

    run_id: str
    status: str = "running"
    files: list[dict[str, Any]] = field(default_factory=list)
    ingest: dict[str, Any] | None = None
    detection: dict[str, Any] | None = None
    export: dict[str, Any] | None = None
    changes: dict[str, list[str]] = field(default_factory=dict)
    alerts: int = 0
    notify: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in blocks (memory does not grow with the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import duckdb
    import igraph
    import pandas

    return {"ringwatch": __version__, "duckdb": duckdb.__version__, "igraph": igraph.__version__,
            "pandas": pandas.__version__, "pyarrow": pa.__version__}


def _fingerprint(manifest: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """Identifies the input a detection run saw: every file's content, plus the parameters."""
    content = json.dumps(
        {"files": sorted((m["path"], m["sha256"]) for m in manifest), "params": params, "version": __version__},
        sort_keys=True,
    )
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _changes(store: GraphStore, previous_run: str | None) -> dict[str, list[str]]:
    rings = store.read_results("rings").to_pylist()
    changes: dict[str, list[str]] = {c: [] for c in ("new", "grown", "shrunk", "unchanged", "disappeared")}
    for ring in rings:
        changes.setdefault(ring["change"], []).append(ring["ring_id"])
    if previous_run:
        now = {r["ring_id"] for r in rings}
        before = store.read_results("rings", run_id=previous_run).column("ring_id").to_pylist()
        changes["disappeared"] = sorted(set(before) - now)
    return {k: sorted(v) for k, v in changes.items()}


def _write_alerts(store: GraphStore, path: Path, threshold: float, run_id: str) -> int:
    rows = [
        {"run_id": run_id, **{k: r[k] for k in ("ring_id", "ring_type", "score", "change", "n_buyers",
                                                "target_seller_ids", "top_signals")}}
        for r in store.read_results("rings").to_pylist()
        if r["change"] in ALERT_CHANGES and r["score"] >= threshold
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return len(rows)


def _notify(cmd: str, alerts_path: Path, timeout: float = 300) -> dict[str, Any]:
    """Run the team's notification command with the alerts file as its last argument (no shell)."""
    argv = [*shlex.split(cmd), str(alerts_path)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"command": argv[0], "exit_code": None, "error": str(exc)}
    return {"command": argv[0], "exit_code": done.returncode, "stderr": done.stderr[-2000:]}


def _publish_dir(staging: Path, out_dir: Path) -> None:
    """Move staged export files into ``out_dir``, each with an atomic rename."""
    for src in sorted(staging.rglob("*")):
        if src.is_file():
            dst = out_dir / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)


def run_batch(
    inputs: list[Path],
    out_dir: Path,
    store: GraphStore,
    *,
    full: bool = False,
    seed: int = 0,
    tz: str = "UTC",
    max_reject_rate: float = 0.01,
    chunk_rows: int = 200_000,
    formats: tuple[str, ...] = ("csv", "json", "html"),
    alert_threshold: float = 0.5,
    notify_cmd: str | None = None,
    keep_runs: int = 30,
    on_progress: ProgressFn | None = None,
) -> BatchResult:
    """Ingest new or changed input files, re-detect, export, and write ``run.json`` and ``alerts.jsonl``.

    Parameters
    ----------
    inputs : list of Path
        Files or folders, as for ``ringwatch ingest``.
    out_dir : Path
        Where exports, ``rejects.csv``, ``run.json`` and ``alerts.jsonl`` go.
    full : bool
        Re-read every input file, not only new or changed ones, and re-detect.
    alert_threshold : float
        New and grown rings scoring at least this go to ``alerts.jsonl``.
    notify_cmd : str, optional
        A command run (without a shell) with the alerts file's path as its last argument.
    keep_runs : int
        How many detection runs' ring snapshots the store keeps.

    Returns
    -------
    BatchResult
        ``status`` is ``ok``, ``failed`` (rejects over the limit or a failed
        notification) or raises on a fatal error (the lock is released).
    """
    from graph.detect.pipeline import run_detection
    from graph.report.export import export_run
    from ingest.pipeline import ingest_paths
    from ingest.readers import discover

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"seed": seed, "tz": tz, "max_reject_rate": max_reject_rate, "formats": list(formats),
              "alert_threshold": alert_threshold, "keep_runs": keep_runs, "full": full}
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        result.timings[stage] = round(now - clock, 3)
        clock = now

    files = sorted({Path(f.path if hasattr(f, "path") else f).resolve() for f in discover(inputs)})
    report(on_progress, "scan", 0, len(files))
    scanned = [{"path": str(p), "size": p.stat().st_size, "sha256": file_digest(p)} for p in files]
    known = {m["path"]: m for m in store.ingested_files().to_pylist()}
    todo = [f for f in scanned if full or known.get(f["path"], {}).get("sha256") != f["sha256"]]
    manifest = {**known, **{f["path"]: f for f in scanned}}
    run_id = "run-" + _fingerprint(list(manifest.values()), {"seed": seed, "tz": tz})

    result = BatchResult(run_id=run_id, params=params, versions=_versions(),
                         started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    result.files = [{**f, "action": "ingest" if f in todo else "unchanged"} for f in scanned]
    lap("scan")
    holder = new_holder(run_id)
    store.acquire_lock(holder)
    try:
        if todo:
            ingested = ingest_paths([Path(f["path"]) for f in todo], store, tz=tz, max_reject_rate=max_reject_rate,
                                    rejects_path=out_dir / "rejects.csv", chunk_rows=chunk_rows,
                                    on_progress=on_progress)
            result.ingest = ingested.to_dict()
            now = datetime.now(UTC)
            store.record_ingested_files(pa.Table.from_pylist(
                [{**{k: f[k] for k in ("path", "size", "sha256")}, "run_id": run_id, "ingested_at": now} for f in todo]
            ))
            if not ingested.ok:
                result.status = "failed"
        lap("ingest")

        previous = store.runs()
        previous_id = previous[0]["run_id"] if previous else None
        if full or previous_id != run_id:
            result.detection = run_detection(store, seed=seed, run_id=run_id, on_progress=on_progress).to_dict()
            # Compare with the run before this one, even when this run replaced a crashed attempt.
            previous_id = next((r["run_id"] for r in store.runs() if r["run_id"] != run_id), None)
        else:
            previous_id = next((r["run_id"] for r in previous if r["run_id"] != run_id), None)
        result.changes = _changes(store, previous_id)
        lap("detect")

        staging = out_dir / f".staging-{run_id}"
        shutil.rmtree(staging, ignore_errors=True)
        result.export = export_run(store, staging, formats=formats, on_progress=on_progress).to_dict()
        _publish_dir(staging, out_dir)
        result.alerts = _write_alerts(store, out_dir / "alerts.jsonl", alert_threshold, run_id)
        lap("export")

        if notify_cmd and result.alerts:
            result.notify = _notify(notify_cmd, out_dir / "alerts.jsonl")
            if result.notify.get("exit_code") != 0:
                log.error("notify command failed", extra={"notify": result.notify})
                result.status = "failed"
        store.prune_runs(keep_runs)
        lap("finish")
        if result.status == "running":
            result.status = "ok"
    except RingWatchError:
        result.status = "error"
        raise
    finally:
        store.release_lock(holder)
        result.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        tmp = out_dir / "run.json.tmp"
        tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, out_dir / "run.json")
    return result
