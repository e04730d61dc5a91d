"""``ringwatch export``: the output files of CONTRACT.md section 3 for one detection run.

=========================  ==================================================
file                       holds
=========================  ==================================================
``rings.csv``              one row per ring, highest score first
``ring_members.csv``       ``ring_id, entity_type, entity_id, role, member_score``
``buyer_scores.csv``       every buyer seen in the store, highest score first
``rings.json``             the rings with their members and evidence
``reports/RING_ID.html``   one ring's report (and ``.pdf``)
``reports/index.html``     the batch summary linking each report
=========================  ==================================================

The same store gives byte-identical CSV and JSON files: rows in a fixed
order, floats with six decimals, timestamps as ISO 8601 UTC, and no clock
time or run id (run ids carry the run's time; reports show them). Personal
data is masked unless ``mask=False`` is asked for explicitly; reports say
which. Every CSV goes through :func:`graph.report.csvsafe.write_csv`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing as mp
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graph.model import MEMBER_ENTITY_TYPES
from graph.progress import ProgressFn, report
from graph.report.context import RunData, load_run, ring_context
from graph.report.csvsafe import format_timestamp, write_csv
from graph.report.html import index_context, render_index, render_ring
from graph.report.mask import Masker
from graph.report.pdf import html_to_pdf
from graph.report.penalty import RuleSet, configured_rules
from graph.schema import RESULT_SCHEMAS
from graph.store.base import GraphStore

__all__ = [
    "FORMATS",
    "RINGS_COLUMNS",
    "MEMBER_COLUMNS",
    "BUYER_SCORE_COLUMNS",
    "ExportResult",
    "export_run",
    "report_name",
]

FORMATS: tuple[str, ...] = ("csv", "json", "html", "pdf")
RINGS_COLUMNS: tuple[str, ...] = (
    "ring_id", "ring_type", "score", "n_buyers", "n_sellers", "n_orders",
    "first_order_at", "last_order_at", "target_seller_ids", "top_signals", "change",
)  # fmt: skip
MEMBER_COLUMNS: tuple[str, ...] = ("ring_id", "entity_type", "entity_id", "role", "member_score")
BUYER_SCORE_COLUMNS: tuple[str, ...] = ("buyer_id", "score", "ring_id", "ring_type")
_DIGITS = 6
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Reports render in forked workers from this many rings on: below, a fork costs more than it saves
# (a report takes 0.05-0.1 s; 10M orders give ~725 rings, 35 CPU seconds of reports).
_PARALLEL_MIN_RINGS = 64
_RINGS_PER_TASK = 4  # rings a worker takes at a time: few round trips, and the load still evens out


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes
    ----------
    out_dir : str
        The output folder (absolute).
    run_id : str
        The detection run exported.
    masked : bool
        Whether personal data was masked.
    formats : tuple of str
        Formats written.
    n_rings, n_members, n_buyers : int
        Rows of rings.csv, ring_members.csv, buyer_scores.csv (also when CSV was not asked for).
    files : tuple of str
        Files written, relative to ``out_dir``, sorted.
    """

    out_dir: str
    run_id: str
    masked: bool
    formats: tuple[str, ...]
    n_rings: int
    n_members: int
    n_buyers: int
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``ringwatch export --json`` prints)."""
        out = asdict(self)
        out["formats"], out["files"] = list(self.formats), list(self.files)
        return out


def report_name(ring_id: str) -> str:
    """A file name (without extension) for a ring's report: the id itself when it is a safe name.

    Ids that are not (path separators, spaces, ``index`` which the batch
    summary uses ...) are cleaned and suffixed with a short hash of the id,
    so two rings never share a file.
    """
    if _SAFE_NAME.fullmatch(ring_id) and ring_id.lower() != "index":
        return ring_id
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ring_id).strip("._")[:80] or "ring"
    return f"{cleaned}-{hashlib.sha256(ring_id.encode('utf-8')).hexdigest()[:8]}"


def _formats(formats: Iterable[str]) -> tuple[str, ...]:
    asked = [f.strip().lower() for f in formats if f.strip()]
    unknown = sorted(set(asked) - set(FORMATS))
    if unknown or not asked:
        raise ValueError(f"unknown export format(s) {unknown or asked}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in asked)


# -- contract tables ---------------------------------------------------------------


def _rings_table(data: RunData) -> pa.Table:
    schema = pa.schema([RESULT_SCHEMAS["rings"].field(c) for c in RINGS_COLUMNS])
    return pa.Table.from_pylist([{c: r[c] for c in RINGS_COLUMNS} for r in data.rings], schema=schema)


def _ring_maskers(data: RunData) -> dict[str, Masker]:
    """Per ring, a masker that knows the ring's raw identifier values (to scrub free text too)."""
    maskers = {}
    for ring in data.rings:
        masker = Masker(enabled=data.mask)
        for m in data.members.get(ring["ring_id"], []):
            masker.learn(m["entity_type"], m["entity_id"])
        maskers[ring["ring_id"]] = masker
    return maskers


def _member_rows(data: RunData, maskers: dict[str, Masker]) -> list[dict[str, Any]]:
    """Members in rings.csv's ring order, then by entity type, member score, id."""
    kind_rank = {k: i for i, k in enumerate(MEMBER_ENTITY_TYPES)}
    rows = []
    for ring in data.rings:
        rid = ring["ring_id"]
        members = sorted(
            data.members.get(rid, []),
            key=lambda m: (
                kind_rank.get(m["entity_type"], 99),
                m["entity_type"],
                -(m["member_score"] or 0.0),
                m["entity_id"],
            ),
        )
        for m in members:
            rows.append({**m, "entity_id": maskers[rid].identifier(m["entity_type"], m["entity_id"])})
    return rows


def _members_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema([RESULT_SCHEMAS["ring_members"].field(c) for c in MEMBER_COLUMNS])
    return pa.Table.from_pylist([{c: r[c] for c in MEMBER_COLUMNS} for r in rows], schema=schema)


def _buyer_scores_table(store: GraphStore, data: RunData) -> pa.Table:
    """Every buyer seen in the store (orders and buyer rows): its score, and its ring when it has one."""
    scores = store.read_results("buyer_scores", data.run_id).select(list(BUYER_SCORE_COLUMNS))
    seen = [
        store.read_table("orders", ["buyer_id"]).column("buyer_id").cast(pa.string()),
        store.read_table("buyers", ["buyer_id"]).column("buyer_id").cast(pa.string()),
        scores.column("buyer_id").cast(pa.string()),
    ]
    everyone = pc.unique(pa.chunked_array([c for col in seen for c in col.chunks], type=pa.string())).drop_null()
    table = pa.table({"buyer_id": everyone}).join(
        scores.cast(RESULT_SCHEMAS["buyer_scores"]), "buyer_id", join_type="left outer"
    )
    score = table.schema.get_field_index("score")
    table = table.set_column(score, "score", pc.fill_null(table.column("score"), 0.0))
    if data.subset:  # only some rings asked for: their buyers only
        keep = pa.array(sorted(r["ring_id"] for r in data.rings), type=pa.string())
        table = table.filter(pc.is_in(table.column("ring_id"), value_set=keep))
    table = table.select(list(BUYER_SCORE_COLUMNS))
    return table.sort_by([("score", "descending"), ("buyer_id", "ascending")])


def _float(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return round(value, _DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _rings_json(data: RunData, member_rows: list[dict[str, Any]], maskers: dict[str, Masker]) -> str:
    members: dict[str, list[dict[str, Any]]] = {}
    for m in member_rows:
        members.setdefault(m["ring_id"], []).append(
            {
                "entity_type": m["entity_type"],
                "entity_id": m["entity_id"],
                "role": m["role"],
                "member_score": _float(m["member_score"]),
            }
        )
    rings = []
    for r in data.rings:
        rid, masker = r["ring_id"], maskers[r["ring_id"]]
        rings.append(
            {
                "ring_id": rid,
                "ring_type": r["ring_type"],
                "score": _float(r["score"]),
                "n_buyers": r["n_buyers"],
                "n_sellers": r["n_sellers"],
                "n_orders": r["n_orders"],
                "first_order_at": format_timestamp(r["first_order_at"]) or None,
                "last_order_at": format_timestamp(r["last_order_at"]) or None,
                "target_seller_ids": [s for s in (r["target_seller_ids"] or "").split(";") if s],
                "top_signals": [s for s in (r["top_signals"] or "").split(";") if s],
                "change": r["change"],
                "methods": [s for s in (r.get("methods") or "").split(";") if s],
                "summary": masker.text(r.get("summary")),
                "members": members.get(rid, []),
                "evidence": [
                    {
                        "signal": e["signal"],
                        "value": _float(e["value"]),
                        "strength": _float(e["strength"]),
                        "weight": _float(e["weight"]),
                        "explanation": masker.text(e["explanation"]),
                    }
                    for e in data.evidence.get(rid, [])
                ],
            }
        )
    doc = {"format": "ringwatch.rings/1", "masked": data.mask, "rings": rings}
    return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# -- files --------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    """Write a file whole or not at all."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_Rendered = tuple[str | None, tuple[Path, Path] | None]  # (HTML report written, (page, PDF target) to print)


@dataclass(frozen=True)
class _ReportJob:
    """What rendering one ring's report needs besides the run's data."""

    data: RunData
    folder: Path
    scratch: Path
    formats: Sequence[str]
    links: dict[str, dict[str, str]]
    max_orders: int

    def __call__(self, ring_id: str) -> _Rendered:
        """Write the ring's HTML report and/or the page to print as PDF."""
        name = report_name(ring_id)
        context = ring_context(self.data, ring_id, max_orders=self.max_orders)
        html = pdf = None
        if "html" in self.formats:
            other = {"pdf": self.links[ring_id]["pdf"]} if "pdf" in self.formats else {}
            _write_text(self.folder / f"{name}.html", render_ring({**context, "files": other}))
            html = f"reports/{name}.html"
        if "pdf" in self.formats:
            # The page printed carries no links to sibling files (they would point into this machine).
            page = self.scratch / f"{name}.html"
            _write_text(page, render_ring(context))
            pdf = (page, self.folder / f"{name}.pdf")
        return html, pdf


_forked_job: _ReportJob | None = None  # what forked workers render with (inherited, never pickled)


def _render_forked(ring_id: str) -> _Rendered:
    assert _forked_job is not None, "only called in workers forked by _rendered"
    return _forked_job(ring_id)


def _rendered(job: _ReportJob, ring_ids: list[str], workers: int) -> Iterator[_Rendered]:
    """``job(ring_id)`` for each ring, in order; in ``workers`` forked processes when there are enough rings.

    Forked workers share the run's data read so far (copy-on-write, nothing pickled) and never touch
    the store: every read a report needs is done before the fork. A worker's exception is raised here;
    a worker that dies (out of memory ...) raises ``BrokenProcessPool``.
    """
    if workers < 2 or len(ring_ids) < _PARALLEL_MIN_RINGS or "fork" not in mp.get_all_start_methods():
        yield from map(job, ring_ids)
        return
    global _forked_job
    job.data.read_all()
    _forked_job = job
    gc.freeze()  # the workers' garbage collector then leaves the shared objects' pages unwritten (uncopied)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
            yield from pool.map(_render_forked, ring_ids, chunksize=_RINGS_PER_TASK)
    finally:
        _forked_job = None
        gc.unfreeze()


def _reports(
    data: RunData, out: Path, formats: Sequence[str], on_progress: ProgressFn | None, max_orders: int, workers: int
) -> list[str]:
    """Write each ring's HTML and/or PDF report and, with HTML, the index; returns relative paths."""
    folder = out / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    names = {r["ring_id"]: report_name(r["ring_id"]) for r in data.rings}
    with_html, with_pdf = "html" in formats, "pdf" in formats
    links = {
        rid: {**({"html": f"{n}.html"} if with_html else {}), **({"pdf": f"{n}.pdf"} if with_pdf else {})}
        for rid, n in names.items()
    }
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ringwatch-reports-") as scratch:
        job = _ReportJob(data, folder, Path(scratch), formats, links, max_orders)
        pdf_jobs = []
        for i, (html, pdf) in enumerate(_rendered(job, list(names), workers), start=1):
            written += [html] if html else []
            pdf_jobs += [pdf] if pdf else []
            report(on_progress, "reports", i, len(names))
        if with_html:
            _write_text(folder / "index.html", render_index(index_context(data, links)))
            written.append("reports/index.html")
        if pdf_jobs:
            html_to_pdf(pdf_jobs, on_progress=on_progress)
            written.extend(f"reports/{pdf.name}" for _html, pdf in pdf_jobs)
    return written


def export_run(
    store: GraphStore,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = ("csv", "json", "html"),
    ring_ids: Iterable[str] | None = None,
    mask: bool = True,
    rules: RuleSet | str | os.PathLike[str] | None = None,
    on_progress: ProgressFn | None = None,
    max_orders: int = 200,
    workers: int | None = None,
) -> ExportResult:
    """Write the latest detection run's output files (CONTRACT.md section 3).

    Parameters
    ----------
    store : GraphStore
        Where the run was published.
    out_dir : path-like
        Output folder (created if needed). Files are replaced whole; files of
        rings no longer in the run are left alone.
    formats : iterable of str, default ("csv", "json", "html")
        Any of ``csv`` (rings.csv, ring_members.csv, buyer_scores.csv),
        ``json`` (rings.json), ``html`` (reports/RING_ID.html and
        reports/index.html), ``pdf`` (reports/RING_ID.pdf; needs Chromium).
    ring_ids : iterable of str, optional
        Export only these rings (buyer_scores.csv then lists only their buyers).
    mask : bool, default True
        Mask personal data (phones, addresses, receiver names, IPs, waybills).
        False only on an analyst's explicit request; reports and rings.json record it.
    rules : RuleSet or path, optional
        Penalty rules for the reports; default ``settings.rules_file``, else the shipped example.
    on_progress : callable, optional
        ``on_progress(stage, done, total)`` for stages ``tables``, ``reports``, ``pdf``.
    max_orders : int, default 200
        Orders listed in a report (the rest are counted).
    workers : int, optional
        Processes rendering reports when there are many rings (forked; same files as one process).
        Default: the machine's cores, at most 4 (each worker copies some of the run's data).

    Returns
    -------
    ExportResult

    Raises
    ------
    graph.errors.ExportError
        The store holds no run, or a ring of ``ring_ids`` is not in the latest run.
    graph.errors.PdfError
        PDF was asked for and Chromium is missing or failed.
    ValueError
        An unknown format.

    Example
    -------
    >>> from graph.store import open_store
    >>> result = export_run(open_store("duckdb:///./ringwatch.duckdb"), "out")  # doctest: +SKIP
    >>> result.files[:3]  # doctest: +SKIP
    ('buyer_scores.csv', 'reports/R-1a2b3c.html', 'reports/index.html')
    """
    wanted = _formats(formats)
    ruleset = configured_rules(rules)
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    session = getattr(store, "session", None)  # one connection for the many reads, where the store offers it
    with session() if session is not None else contextlib.nullcontext():
        data = load_run(store, rules=ruleset, ring_ids=None if ring_ids is None else list(ring_ids), mask=mask)
        report(on_progress, "tables", 0, 3)
        maskers = _ring_maskers(data)
        member_rows = _member_rows(data, maskers)
        scores = _buyer_scores_table(store, data)
        written: list[str] = []
        if "csv" in wanted:
            write_csv(_rings_table(data), out / "rings.csv", float_digits=_DIGITS)
            write_csv(_members_table(member_rows), out / "ring_members.csv", float_digits=_DIGITS)
            write_csv(scores, out / "buyer_scores.csv", float_digits=_DIGITS)
            written += ["rings.csv", "ring_members.csv", "buyer_scores.csv"]
        report(on_progress, "tables", 2, 3)
        if "json" in wanted:
            _write_text(out / "rings.json", _rings_json(data, member_rows, maskers))
            written.append("rings.json")
        report(on_progress, "tables", 3, 3)
        if "html" in wanted or "pdf" in wanted:
            workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
            written += _reports(data, out, wanted, on_progress, max_orders, workers)
    return ExportResult(
        out_dir=str(out),
        run_id=data.run_id,
        masked=mask,
        formats=wanted,
        n_rings=len(data.rings),
        n_members=len(member_rows),
        n_buyers=scores.num_rows,
        files=tuple(sorted(written)),
    )
