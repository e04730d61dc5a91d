"""One detection run: read the store once, detect, assemble, score, publish.

:func:`run_detection` is what ``ringwatch detect`` and ``ringwatch batch``
call. It reads the projections once, runs each detector whose input exists
(identity linkage needs identifier columns; dense blocks, synchrony and the
shop-side view only need buyer, seller and time; with many identifiers, identity
linkage runs in a forked process beside the others), merges their candidates into rings
(:mod:`graph.rings`), measures and scores them against the data set's own
population (:mod:`graph.score`), keeps ring ids stable against the previous
run and publishes everything atomically (readers see the previous run until
the new one is complete).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.metadata
import logging
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph import __version__
from graph.detect.base import Candidate
from graph.errors import EmptyGraphError
from graph.progress import ProgressFn, report
from graph.rings import Ring, add_proposals, assemble, claim_by_score, match_previous, merge_shared_targets
from graph.schema import RESULT_SCHEMAS, TS
from graph.score import (
    LINE_WEIGHTS,
    Evidence,
    Population,
    binding_users,
    evaluate,
    keep_underpowered_whole,
    prepare,
    screen,
    trim_to_evidence,
)
from graph.store.base import GraphStore

__all__ = ["DetectionResult", "run_detection", "METHODS", "FLAG_SCORE"]

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("identity", "dense_block", "synchrony", "shop")
# A ring at or above this score is flagged for an analyst (the contract's "suspicious").
FLAG_SCORE = 0.5
# Rings weaker than this are not published: nothing points at them beyond chance.
MIN_RING_SCORE = 0.2
# Candidates weaker than this are no better than chance for their own detector.
MIN_CANDIDATE_STRENGTH = 0.01
# Methods whose candidates are broad proposals (a shop's customers, honest regulars
# included): assembled apart, never by containment, and their buyers may still serve
# in null groups unless the screen keeps their ring.
PROPOSAL_METHODS: tuple[str, ...] = ("shop",)
# Non-members' scores: the evidence of the groups they were proposed in and the detectors'
# own per-buyer scores as one line, damped so that no buyer outside a ring outranks a
# member of a flagged ring.
OUTSIDE_DAMPING = 0.4
# A buyer outside a ring that uses one of the ring's binding identifiers (a device or payment
# account used mostly by its members): this share of the ring's score times the identifier's
# share of ring users. Always below the flag: a link alone accuses no one.
LINKED_OUTSIDE = 0.5

# From this many buyer identifier rows, identity linkage runs in a forked process beside the
# rest of detection (a 10M-order export has ~35M rows, identity takes ~2 min there); below, the
# fork's memory and start-up are not worth the seconds saved.
FORK_MIN_IDENTIFIERS = 1_000_000
# Memory a forked identity linkage needs free, per identifier row: its own peak beyond what it
# shares with this process and what this process's detectors allocate meanwhile. Measured at 10M
# orders (35M rows) as the whole tree's PSS: 5.7 GB (~165 bytes a row) from the fork to its peak
# (synchrony beside Leiden). With less available, identity runs here, after the others: slower,
# not killed (and should the estimate fail, the kernel kills the child, whose work is redone here).
FORK_BYTES_PER_IDENTIFIER = 200
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal for this process when its parent ends
# Order columns detection reads (the rest of the order row is for reports).
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id", "buyer_id", "seller_id", "created_at", "amount", "item_id", "quantity", "item_price",
    "waybill_key", "parcel_weight_g", "shipped_at", "delivered_at", "confirmed_at", "status",
    "refund_reason", "rating", "review_text", "chat_messages",
)
# The columns the detectors read; prepare has turned the others into arrays.
DETECTOR_COLUMNS: tuple[str, ...] = ("order_id", "buyer_id", "seller_id", "created_at", "item_id", "rating")


@dataclass
class DetectionResult:
    """A published detection run.

    Attributes
    ----------
    run : dict
        What was published as the run's record: ``run_id``, times, seed,
        counts, methods run or skipped (and why), signals available, timings.
    rings, ring_members, ring_evidence, buyer_scores : pa.Table
        The run's tables (schemas in :data:`graph.schema.RESULT_SCHEMAS`),
        rows sorted as the store returns them.
    """

    run: dict[str, Any]
    rings: pa.Table
    ring_members: pa.Table
    ring_evidence: pa.Table
    buyer_scores: pa.Table
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    def tables(self) -> dict[str, pa.Table]:
        """The four result tables by name."""
        return {
            "rings": self.rings,
            "ring_members": self.ring_members,
            "ring_evidence": self.ring_evidence,
            "buyer_scores": self.buyer_scores,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the run record and every ring with its evidence.

        Members and buyer scores are left out (they can be millions of rows);
        read them from the store or the export.
        """
        evidence: dict[str, list[dict[str, Any]]] = {}
        for row in self.ring_evidence.to_pylist():
            rid = row.pop("ring_id")
            evidence.setdefault(rid, []).append(row)
        rings = []
        for row in self.rings.to_pylist():
            for key in ("first_order_at", "last_order_at"):
                row[key] = _iso(row[key])
            row["target_seller_ids"] = [s for s in (row["target_seller_ids"] or "").split(";") if s]
            row["top_signals"] = [s for s in (row["top_signals"] or "").split(";") if s]
            row["methods"] = [s for s in (row["methods"] or "").split(";") if s]
            row["evidence"] = evidence.get(row["ring_id"], [])
            rings.append(row)
        return {**self.run, "rings": rings}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Detectors: each a small adapter from the projections to the detector's fit.


def _run_dense(orders: pd.DataFrame, seed: int) -> tuple[list[Candidate], pd.Series]:
    from graph.detect.dense import DenseBlockDetector

    edges = orders.groupby(["buyer_id", "seller_id"], sort=True, observed=True).size().reset_index(name="n")
    det = DenseBlockDetector(n_blocks=10, seed=seed).fit(edges, row="buyer_id", col="seller_id", weight="n")
    return det.candidates_, det.scores_


def _run_identity(identifiers: pa.Table, seed: int) -> tuple[list[Candidate], pd.Series]:
    from graph.detect.identity import IdentityLinker

    det = IdentityLinker(seed=seed).fit(identifiers)
    return det.candidates_, det.scores_


def _run_synchrony(orders: pd.DataFrame, seed: int) -> tuple[list[Candidate], pd.Series]:
    from graph.detect.synchrony import SynchronyDetector

    det = SynchronyDetector(seed=seed).fit(orders)
    return det.candidates_, det.scores_


def _run_shop(orders: pd.DataFrame, seed: int) -> tuple[list[Candidate], pd.Series]:
    from graph.detect.shop import ShopDetector

    det = ShopDetector(seed=seed).fit(orders)
    return det.candidates_, det.scores_


@dataclass
class _Detected:
    """One detector's outcome: its entry in the run record, candidates, per-buyer scores, own seconds."""

    info: dict[str, Any]
    candidates: list[Candidate]
    scores: pd.Series | None
    seconds: float


def _detect(method: str, frame: pd.DataFrame | None, identifiers: pa.Table, seed: int) -> _Detected:
    """Run one detector (identity reads ``identifiers``, the others ``frame``)."""
    started = time.perf_counter()
    if method == "identity" and identifiers.num_rows == 0:
        reason = "no identifier columns (device, phone, payment, address, ip) in the input"
        return _Detected({"ran": False, "reason": reason}, [], None, 0.0)
    try:
        if method == "identity":
            with _cycle_collection_paused():
                cands, sc = _run_identity(identifiers, seed)
        elif method == "dense_block":
            cands, sc = _run_dense(frame, seed)
        elif method == "shop":
            cands, sc = _run_shop(frame, seed)
        else:
            cands, sc = _run_synchrony(frame, seed)
    except EmptyGraphError as exc:
        return _Detected({"ran": False, "reason": str(exc)}, [], None, time.perf_counter() - started)
    return _Detected({"ran": True, "candidates": len(cands)}, cands, sc, time.perf_counter() - started)


def _run_detectors(
    wanted: Sequence[str],
    orders: pa.Table,
    identifiers: pa.Table,
    seed: int,
    after_each: Callable[[str, _Detected, bool], None],
    elsewhere: Mapping[str, Callable[[], _Detected]],
) -> tuple[list[Candidate], dict[str, pd.Series], dict[str, dict[str, Any]]]:
    """Run each wanted detector, here or, for those in ``elsewhere`` (method -> wait for its
    outcome), in another process; returns candidates, per-buyer scores and what ran.
    ``after_each(method, outcome, ran_elsewhere)`` follows each."""
    frame = orders.select(list(DETECTOR_COLUMNS)).to_pandas()
    done: dict[str, _Detected] = {}
    for method in wanted:
        if method not in elsewhere:
            done[method] = _detect(method, frame, identifiers, seed)
            after_each(method, done[method], False)
    del frame
    for method, collect in elsewhere.items():
        done[method] = collect()
        after_each(method, done[method], True)
    # In ``wanted`` order whichever finished first: assembly and the buyer scores follow it.
    candidates = [c for method in wanted for c in done[method].candidates]
    scores = {method: done[method].scores for method in wanted if done[method].scores is not None}
    return candidates, scores, {method: done[method].info for method in wanted}


@contextlib.contextmanager
def _forked(work: Callable[[], _Detected]) -> Iterator[Callable[[], _Detected]]:
    """Start ``work`` in a forked process; yield the function that waits for its outcome.

    A fork shares the memory read so far copy-on-write, so the child reads the parent's
    tables without a copy. Its exceptions are raised here with the child's traceback as
    their cause; on leaving the block early (an error here, Ctrl-C) the child is killed.
    Either way it is reaped. When memory runs out the kernel kills the child first (it
    volunteers, see :func:`_child`) and ``work`` runs here instead: slower, not lost.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(work, send, os.getpid()), name="ringwatch-detect", daemon=True)
    child.start()
    send.close()
    received = False

    def collect() -> _Detected:
        nonlocal received
        try:
            with _cycle_collection_paused():
                status, payload = receive.recv()
        except EOFError:
            child.join()
            if child.exitcode == -signal.SIGKILL:
                log.warning("the detection child process was killed (out of memory?); running its work here")
                return work()
            raise RuntimeError(
                f"the detection child process ended (exit code {child.exitcode}) without a result; "
                "a negative code is the signal that ended it"
            ) from None
        received = True
        if status == "error":
            error, text = payload
            raise error from ChildProcessError(f"in the detection child process:\n{text}")
        return payload

    try:
        yield collect
    finally:
        receive.close()
        if not received:
            child.kill()
        child.join()


def _child(work: Callable[[], _Detected], send: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills this process
    # A parent ended by a signal (a scheduler's SIGTERM) cannot kill this process; on Linux the
    # kernel does, so no orphan holds gigabytes for minutes.
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above
        return
    # Out of memory, the kernel kills the process it scores worst: this one, whose work the
    # parent can redo, rather than the parent and the whole run.
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000", encoding="ascii")
    try:
        send.send(("ok", work()))
    except Exception as exc:  # noqa: BLE001 - every failure goes to the parent, which raises it
        error = exc
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot cross processes
            error = RuntimeError(repr(exc))
        send.send(("error", (error, traceback.format_exc())))
    finally:
        send.close()


def _fork_pays(n_identifiers: int) -> bool:
    """Whether identity linkage over ``n_identifiers`` rows should run in a forked process:
    enough rows to be worth a fork, a second core, and memory for both processes."""
    if n_identifiers < FORK_MIN_IDENTIFIERS or (os.cpu_count() or 1) < 2:
        return False
    available = _available_memory()
    needed = FORK_BYTES_PER_IDENTIFIER * n_identifiers
    log.info("identity linkage: %.1f GB available, %.1f GB needed to run it beside the other detectors",
             available / 1e9, needed / 1e9)
    return available >= needed


def _available_memory() -> int:
    """Bytes this process can still allocate without swapping or being killed: the kernel's
    ``MemAvailable``, or less when a container's memory limit (cgroup v2 or v1) is nearer.
    0 where unknown."""
    host = 0
    with contextlib.suppress(OSError, StopIteration, ValueError):
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            host = 1024 * int(next(line for line in meminfo if line.startswith("MemAvailable:")).split()[1])
    headroom = _cgroup_headroom()
    return host if headroom is None else min(host, headroom)


def _cgroup_headroom(proc_cgroup: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> int | None:
    """Limit minus what this process's memory cgroup holds beyond page cache it could drop
    (None when unlimited or unknown).

    /proc/meminfo shows the whole host: in a Kubernetes pod limited to 16 GB on a 64 GB node it
    would promise memory the pod is killed for using. File pages not mapped by a process (the
    store's file as read; gigabytes after an ingest, most of them "active") are reclaimed by
    the kernel before it kills anything, so they count as free here.
    """
    layouts = {  # cgroup v2, v1: (directory under root, limit, usage, (active, inactive, mapped file) stats)
        2: ("", "memory.max", "memory.current", ("active_file", "inactive_file", "file_mapped")),
        1: ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes",
            ("total_active_file", "total_inactive_file", "total_mapped_file")),
    }
    try:
        lines = Path(proc_cgroup).read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        version = 2 if hierarchy == "0" and not controllers else 1 if "memory" in controllers.split(",") else 0
        if not version:
            continue
        sub, limit_file, usage_file, (active, inactive, mapped) = layouts[version]
        folder = Path(root, sub, path.lstrip("/"))
        with contextlib.suppress(OSError, ValueError):  # a hierarchy that is not mounted here
            limit = (folder / limit_file).read_text(encoding="ascii").strip()
            if limit == "max" or int(limit) >= 1 << 60:  # v1 writes "unlimited" as a page-rounded 2**63
                continue
            stat = dict(row.split() for row in (folder / "memory.stat").read_text(encoding="ascii").splitlines())
            droppable = int(stat.get(active, 0)) + int(stat.get(inactive, 0)) - int(stat.get(mapped, 0))
            usage = int((folder / usage_file).read_text(encoding="ascii")) - max(0, droppable)
            return max(0, int(limit) - usage)
    return None


@contextlib.contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while millions of small objects are built.

    Identity linkage's candidates (~350k at 10M orders, each with its lists and dicts), their
    unpickling from a forked child, and the rings stage's proposals make no reference cycles
    (a collection right after each finds none), yet every full collection scans them all:
    ~10 s of identity's fit, ~10 s of the unpickling and ~10 s of the rings stage at 10M.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _keys_encoded(identifiers: pa.Table) -> pa.Table:
    """The identifiers with their keys dictionary-encoded, once for prepare and identity linkage.

    Both number the keys (the number's order does not matter to either), and hashing the
    35M key strings of a 10M-order export took each of them ~18 s; the dictionary is also
    smaller than the strings.
    """
    at = identifiers.schema.get_field_index("key")
    return identifiers.set_column(at, "key", pc.dictionary_encode(identifiers["key"]))


def _release_freed_memory() -> None:
    """Give memory freed but still held by Arrow's pool and by C malloc back to the system.

    Memory a process holds but no longer uses is shared with a forked child too, and is
    copied as soon as either reuses it: at 10M orders malloc alone held gigabytes after prepare.
    """
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(AttributeError, OSError):  # malloc_trim is glibc's
        ctypes.CDLL(None).malloc_trim(0)


def _find_rings(
    pop: Population, candidates: list[Candidate], *, seed: int, min_score: float
) -> tuple[Evidence, np.ndarray]:
    """Candidates to scored rings: assemble, screen, merge fragments, calibrate, give shared
    buyers to the strongest ring, trim, measure again. Also returns, per buyer code, the
    screen's score of the strongest proposal holding it (:attr:`Screened.buyer_evidence`)."""
    # Candidates no denser or more linked than chance (strength 0) propose nothing.
    focused = [c for c in candidates if c.method not in PROPOSAL_METHODS]
    broad = [c for c in candidates if c.method in PROPOSAL_METHODS]
    rings = assemble(focused, min_strength=MIN_CANDIDATE_STRENGTH)
    rings = add_proposals(rings, assemble(broad, min_strength=MIN_CANDIDATE_STRENGTH, contain=False))
    n_proposed = len(rings)
    screened = screen(pop, rings)
    # Null groups are drawn from buyers no detector proposed (a broad proposal only
    # counts when its ring survived the screen).
    exclude = pop.buyer_mask([b for c in focused for b in c.buyers] + [b for r in screened.rings for b in r.buyers])

    def measure(group: list[Ring]) -> Evidence:
        return evaluate(pop, group, exclude=exclude, min_score=min_score, seed=seed, n_tested=n_proposed)

    # Fragments of one campaign: rings of one type that each concentrate on, or abuse,
    # the same shops in overlapping periods. A broad proposal (a shop's returning customers)
    # joins a ring only when that ring's accounts are mostly among its customers.
    rings = merge_shared_targets(
        screened.rings,
        screened.targets,
        screened.concentrated | screened.behaving,
        kinds=screened.types,
        periods=screened.periods,
        broad=[all(m in PROPOSAL_METHODS for m in r.methods) for r in screened.rings],
        weights=_target_orders(pop, screened.rings, screened.targets),
    )
    ev = measure(rings)
    # Flagged rings of one type whose orders go mostly to the same shops are one case.
    merged = merge_shared_targets(ev.rings, ev.targets, ev.scores >= FLAG_SCORE, kinds=ev.types,
                                  weights=_target_orders(pop, ev.rings, ev.targets))
    if len(merged) < len(ev.rings):
        ev = measure(merged)
    # A buyer proposed in two rings belongs to the one whose evidence is strongest.
    claimed = claim_by_score(ev.rings, ev.scores.tolist())
    if [r.buyers for r in claimed] != [r.buyers for r in ev.rings]:
        ev = measure(claimed)
    # Members whose own orders show none of their ring's abuse took no part in it.
    trimmed = trim_to_evidence(pop, ev)
    if [r.buyers for r in trimmed] != [r.buyers for r in ev.rings]:
        after = measure(trimmed)
        kept = keep_underpowered_whole(ev, trimmed, after)
        ev = after if [r.buyers for r in kept] == [r.buyers for r in trimmed] else measure(kept)
    return ev, screened.buyer_evidence


def _target_orders(pop: Population, rings: list[Ring], targets_of: list[list[str]]) -> list[dict[str, float]]:
    """Per ring, its members' orders at each of its targets (one vectorised pass)."""
    ring = np.repeat(np.arange(len(rings)), [r.n_buyers for r in rings])
    codes = pop.buyer_codes(b for r in rings for b in r.buyers)
    ring, codes = ring[codes >= 0], codes[codes >= 0]
    counts = pop.indptr[codes + 1] - pop.indptr[codes]
    order = np.repeat(pop.indptr[codes] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    per = pd.DataFrame({"g": np.repeat(ring, counts), "s": pop.o_seller[order]}).value_counts().rename("n")
    seller_code = pd.Series(np.arange(len(pop.seller_ids)), index=pd.Index(pop.seller_ids.astype(str)))
    wanted = pd.DataFrame([(g, t) for g, targets in enumerate(targets_of) for t in targets], columns=["g", "t"])
    out: list[dict[str, float]] = [dict.fromkeys(targets, 0.0) for targets in targets_of]
    if wanted.empty:
        return out
    wanted["s"] = seller_code.reindex(wanted["t"]).fillna(-1).to_numpy(np.int64)
    wanted = wanted.join(per, on=["g", "s"])
    for g, t, n in zip(wanted["g"].tolist(), wanted["t"].tolist(), wanted["n"].fillna(0.0).tolist(), strict=True):
        out[g][t] = float(n)
    return out


# ---------------------------------------------------------------------------


def run_detection(
    store: GraphStore,
    *,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    now: datetime | None = None,
    methods: Sequence[str] | None = None,
    min_score: float = MIN_RING_SCORE,
    publish: bool = True,
    run_id: str | None = None,
) -> DetectionResult:
    """Find, type, score and publish rings.

    Parameters
    ----------
    store : GraphStore
        Where the orders are and where the run is published.
    seed : int, default 0
        Seed of every random step (detectors, null groups): the same store
        and seed give identical tables.
    on_progress : callable, optional
        ``on_progress(stage, done, total)``.
    now : datetime, optional
        The run's time (default: the current UTC time); names the run.
    methods : sequence of str, optional
        Detectors to use (default all of :data:`METHODS`); for ablations.
    min_score : float, default 0.2
        Rings scoring below this are not published.
    publish : bool, default True
        Publish the run to the store (off for dry runs and benchmarks).
    run_id : str, optional
        The run's id (default ``run-<UTC time>``). Publishing again under the
        same id replaces that run (a batch retrying after a crash); ring ids
        are then matched against the run before it.

    Returns
    -------
    DetectionResult

    Raises
    ------
    EmptyGraphError
        When the store holds no orders.
    ValueError
        When ``methods`` names an unknown detector.
    """
    wanted = tuple(METHODS if methods is None else methods)
    unknown = sorted(set(wanted) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown detection methods {unknown}; choose from {list(METHODS)}")
    started = (now or datetime.now(UTC)).astimezone(UTC)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        timings[name] = round(t - clock, 3)
        clock = t

    steps = 4 + len(wanted)
    report(on_progress, "detect", 0, steps)
    orders = store.read_table("orders", columns=list(ORDER_COLUMNS))
    if orders.num_rows == 0:
        raise EmptyGraphError("the store holds no orders: run 'ringwatch ingest' first")
    buyers = store.read_table("buyers")
    items = store.read_table("items")
    identifiers = _keys_encoded(store.read_table("buyer_identifiers", columns=["buyer_id", "kind", "key"]))
    lap("read")
    pop = prepare(orders, buyers=buyers, items=items, identifiers=identifiers)
    # Keep only what the detectors read: at 10M orders the wide projection is gigabytes,
    # and so is what prepare's Arrow kernels leave cached in the memory pool and the heap.
    orders = orders.select(list(DETECTOR_COLUMNS))
    del items
    _release_freed_memory()
    lap("prepare")
    report(on_progress, "detect", 1, steps)
    n_detected = 0

    def detected(method: str, outcome: _Detected, ran_elsewhere: bool) -> None:
        nonlocal n_detected
        # A detector run elsewhere: its own time, and the time this process waited for it.
        lap(f"wait_{method}" if ran_elsewhere else f"detect_{method}")
        if ran_elsewhere:
            timings[f"detect_{method}"] = round(outcome.seconds, 3)
        n_detected += 1
        report(on_progress, "detect", 1 + n_detected, steps)

    with contextlib.ExitStack() as children:
        # Identity linkage reads only the identifiers: when they are many, it runs in a forked
        # process beside the other detectors. Forked after prepare, not before: identity's
        # memory and prepare's peak together came to ~20 GB at 10M orders.
        elsewhere: dict[str, Callable[[], _Detected]] = {}
        if "identity" in wanted and _fork_pays(identifiers.num_rows):
            elsewhere["identity"] = children.enter_context(_forked(partial(_detect, "identity", None, identifiers, seed)))
        candidates, detector_scores, method_info = _run_detectors(
            wanted, orders, identifiers, seed, detected, elsewhere
        )
    del orders, identifiers  # the rings are measured on pop alone
    with _cycle_collection_paused():
        ev, proposed = _find_rings(pop, candidates, seed=seed, min_score=min_score)
    lap("rings")
    report(on_progress, "detect", len(wanted) + 2, steps)

    run_id = run_id or started.strftime("run-%Y%m%dT%H%M%S%fZ")
    previous_run = next((r["run_id"] for r in store.runs() if r["run_id"] != run_id), None)
    previous = _previous_rings(store, previous_run) if previous_run else {}
    tables = _tables(pop, ev, previous, detector_scores, proposed, buyers)
    n_published = tables["rings"].num_rows
    lap("assign_ids")

    finished = datetime.now(UTC) if now is None else started
    run = {
        "run_id": run_id,
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "previous_run_id": previous_run,
        "seed": seed,
        "parameters": {"methods": list(wanted), "min_score": min_score, "flag_score": FLAG_SCORE},
        "versions": _versions(),
        "n_orders": pop.n_orders,
        "n_buyers": tables["buyer_scores"].num_rows,
        "n_sellers": len(pop.seller_ids),
        "n_candidates": len(candidates),
        "n_rings": n_published,
        "n_flagged": int((tables["rings"]["score"].to_numpy() >= FLAG_SCORE).sum()),
        "methods": method_info,
        "signals_available": list(pop.available),
    }
    if publish:
        store.publish_run({**run, "timings": timings}, tables)
    lap("publish")
    report(on_progress, "detect", steps, steps)
    run["timings"] = timings
    return DetectionResult(run=run, timings=timings, **tables)


def _versions() -> dict[str, str]:
    out = {"ringwatch": __version__}
    for dist in ("numpy", "pandas", "pyarrow", "duckdb", "igraph"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _previous_rings(store: GraphStore, run_id: str) -> dict[str, list[str]]:
    members = store.read_results("ring_members", run_id).to_pandas()
    members = members[members["entity_type"] == "buyer"]
    return {rid: sorted(grp["entity_id"]) for rid, grp in members.groupby("ring_id", sort=True)}


def _tables(
    pop: Population,
    ev: Evidence,
    previous: dict[str, list[str]],
    detector_scores: dict[str, pd.Series],
    proposed: np.ndarray,
    buyers: pa.Table,
) -> dict[str, pa.Table]:
    """The four result tables of the kept rings (``ev`` positions), with stable ids."""
    kept = ev.rings
    ids = match_previous([r.buyers for r in kept], previous)
    rid = np.array([i for i, _ in ids], dtype=object)
    ring_rows = pd.DataFrame({
        "ring_id": rid,
        "ring_type": ev.types,
        "score": np.round(ev.scores, 6),
        "n_buyers": [r.n_buyers for r in kept],
        "n_sellers": ev.n_sellers,
        "n_orders": ev.n_orders,
        "first_order_at": pd.to_datetime(ev.first_order_at, unit="s", utc=True),
        "last_order_at": pd.to_datetime(ev.last_order_at, unit="s", utc=True),
        "target_seller_ids": [";".join(t) for t in ev.targets],
        "top_signals": [";".join(t) for t in ev.top_signals],
        "change": [c for _, c in ids],
        "methods": [";".join(r.methods) for r in kept],
        "summary": ev.summaries,
    }).sort_values(["score", "ring_id"], ascending=[False, True], kind="stable")

    m = ev.members
    buyer_members = pd.DataFrame({
        "ring_id": rid[m["ring"].to_numpy(np.int64)],
        "entity_type": "buyer",
        "entity_id": m["buyer_id"].to_numpy(),
        "role": np.where(m["member_score"].to_numpy() >= 0.5, "core", "peripheral"),
        "member_score": m["member_score"].to_numpy(np.float64),
    })
    seller_members = pd.DataFrame(
        [(rid[i], "seller", s, "target", 1.0) for i, t in enumerate(ev.targets) for s in t],
        columns=list(buyer_members.columns),
    )
    idf = ev.identifiers
    ident_members = pd.DataFrame({
        "ring_id": rid[idf["ring"].to_numpy(np.int64)],
        "entity_type": idf["kind"].to_numpy(),
        "entity_id": idf["key"].to_numpy(),
        "role": "shared_identifier",
        "member_score": idf["member_score"].to_numpy(np.float64),
    })
    members = pd.concat([buyer_members, seller_members, ident_members], ignore_index=True)
    members = members.sort_values(["ring_id", "entity_type", "member_score", "entity_id"],
                                  ascending=[True, True, False, True], kind="stable")

    sig = ev.signals
    evidence = pd.DataFrame({
        "ring_id": rid[sig["ring"].to_numpy(np.int64)],
        "signal": sig["signal"].to_numpy(),
        "value": sig["value"].to_numpy(np.float64),
        "strength": sig["strength"].to_numpy(np.float64),
        "weight": sig["weight"].to_numpy(np.float64),
        "explanation": sig["explanation"].to_numpy(),
    }).sort_values(["ring_id", "weight", "signal"], ascending=[True, False, True], kind="stable")

    return {
        "rings": _to_table(ring_rows, "rings"),
        "ring_members": _to_table(members, "ring_members"),
        "ring_evidence": _to_table(evidence, "ring_evidence"),
        "buyer_scores": _to_table(_buyer_scores(pop, kept, ev, rid, detector_scores, proposed, buyers), "buyer_scores"),
    }


def _buyer_scores(
    pop: Population,
    kept: list[Ring],
    ev: Evidence,
    rid: np.ndarray,
    detector_scores: dict[str, pd.Series],
    proposed: np.ndarray,
    buyers: pa.Table,
) -> pd.DataFrame:
    """Every buyer once: a member's ring score modulated by how much it takes part; others
    damped (so the ranking stays useful, below the flag) the noisy-OR of two readings: the
    evidence of the groups they were proposed in (``proposed``, per buyer code, see
    :func:`_find_rings`) and the detectors' own scores counted as one line of evidence.

    A detector's per-buyer score says how linked, regular or synchronised an account is;
    a household's accounts score high on it. What the groups the account was proposed in
    show (two lines, or one) says how suspicious it is; a detector's score alone is one line,
    which a ring's score counts at most the first of :data:`LINE_WEIGHTS`.

    Works on positions in the sorted buyer ids (Arrow hash lookups), never on
    string-indexed pandas objects: with a million buyers those dominated the stage.
    """
    known = pa.array(pop.buyer_ids, pa.string())
    if buyers.num_rows:
        extra = pc.unique(buyers["buyer_id"].drop_null()).cast(pa.string())
        known = pa.concat_arrays([known, extra.filter(pc.invert(pc.is_in(extra, value_set=known)))])
    ids_arr = known.take(pc.sort_indices(known))
    ids = ids_arr.to_numpy(zero_copy_only=False)

    def positions(values: Any) -> np.ndarray:
        arr = pa.array(np.asarray(values, dtype=object), pa.string(), from_pandas=True)
        return pc.fill_null(pc.index_in(arr, value_set=ids_arr), -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def best_at(pos: np.ndarray, values: np.ndarray) -> pd.Series:
        """Per buyer position, the highest value (NaN when all are NaN); unknown ids dropped."""
        ok = pos >= 0
        return pd.Series(values[ok]).groupby(pos[ok]).max()

    outside = np.ones(len(ids))
    for scores in detector_scores.values():
        best = best_at(positions(scores.index), scores.to_numpy(dtype=np.float64))
        s = np.zeros(len(ids))
        s[best.index.to_numpy(np.int64)] = best.fillna(0.0).to_numpy(np.float64)
        outside *= 1.0 - np.clip(s, 0, 1)
    evidence = np.zeros(len(ids))
    evidence[positions(pop.buyer_ids)] = proposed
    score = OUTSIDE_DAMPING * (1.0 - (1.0 - evidence) * (1.0 - LINE_WEIGHTS[0] * (1.0 - outside)))
    near = binding_users(pop, ev)
    if not near.empty:
        near_score = LINKED_OUTSIDE * ev.scores[near["ring"].to_numpy(np.int64)] * near["share"].to_numpy(np.float64)
        best = best_at(positions(near["buyer_id"].to_numpy()), np.asarray(near_score, np.float64))
        at = best.index.to_numpy(np.int64)
        score[at] = np.maximum(score[at], best.to_numpy())
    ring_id = np.full(len(ids), None, dtype=object)
    ring_type = np.full(len(ids), None, dtype=object)
    m = ev.members
    if not m.empty:
        r = m["ring"].to_numpy(np.int64)
        inside = pd.DataFrame({
            "at": positions(m["buyer_id"].to_numpy()),
            "score": ev.scores[r] * (0.75 + 0.25 * m["member_score"].to_numpy(np.float64)),
            "ring_id": rid[r],
            "ring_type": np.asarray(ev.types, dtype=object)[r],
        })
        # A buyer in several rings belongs to the one that makes it most suspicious.
        inside = inside.sort_values(["at", "score", "ring_id"], ascending=[True, False, True], kind="stable")
        inside = inside.drop_duplicates("at")
        at = inside["at"].to_numpy(np.int64)
        score[at] = np.maximum(score[at], inside["score"].to_numpy())
        ring_id[at] = inside["ring_id"].to_numpy()
        ring_type[at] = inside["ring_type"].to_numpy()
    score = np.clip(np.round(score, 6), 0, 1)
    order = np.lexsort((np.arange(len(ids)), -score))  # score descending, then buyer id (ids are sorted)
    return pd.DataFrame({"buyer_id": ids[order], "score": score[order],
                         "ring_id": ring_id[order], "ring_type": ring_type[order]})


def _to_table(frame: pd.DataFrame, name: str) -> pa.Table:
    schema = RESULT_SCHEMAS[name]
    frame = frame.reset_index(drop=True)
    arrays = []
    for f in schema:
        col = frame[f.name]
        if f.type == TS:
            arrays.append(pa.array(col, type=TS))
        elif pa.types.is_string(f.type):
            arrays.append(pa.array(col.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
        else:
            arrays.append(pa.array(col.to_numpy(), type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
