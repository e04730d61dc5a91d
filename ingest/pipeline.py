"""The ingest pipeline: input files in, graph store updated, every row accounted for.

For each file: read it in chunks (:mod:`ingest.readers`), parse and check
each chunk (:mod:`ingest.checks`), normalise identifier keys
(:mod:`ingest.normalise`), and stage the chunk's good rows as Arrow IPC files
in a temporary folder. Only when the whole file was read does anything reach
the store, so a file that turns out unreadable half-way loads nothing. Bad
rows go to the rejects CSV; read = stored + stale + rejected, per file and in
total.

Duplicate ``order_id``s follow sequential semantics, as if rows were applied
one at a time in file order: a later row replaces an earlier one unless both
carry ``updated_at`` and the later is older (stale). Within a chunk, the k-th
occurrence of each id goes to the k-th upsert round, so the store applies
each id's rows in order; across chunks and runs the store compares with what
it holds.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import shutil
import tempfile
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from graph.errors import ConfigError, InputFileError
from graph.progress import ProgressFn, report
from graph.store.base import GraphStore
from graph.store.lock import holder_is_alive, new_holder
from ingest.checks import Parsed, RowError, RowErrors, ValidationReport, parse_chunk, validate
from ingest.normalise import KeyMemo, identifier_keys
from ingest.readers import LARGE_BLOCK_SIZE, InputFile, InputReader, RawChunk, RowTooLong, discover, open_input
from ingest.schema import KINDS, FileKind, kind_from_columns

__all__ = ["ingest_paths", "IngestResult", "FileCounts", "REJECT_COLUMNS"]

REJECT_COLUMNS = ("source_file", "row", "field", "code", "reason", "raw")
_RAW_VALUE_CHARS = 1000  # longer raw values are cut in the rejects file (the row stays identifiable)
# Staged parts are upserted together up to this many chunks' rows (while no id repeats), so that
# a file's short last chunk joins the one before it; memory still follows the chunk size.
_UPSERT_CHUNKS = 2
STAGING_PREFIX = "ringwatch-ingest-"  # staging folders in the temp dir, one per running ingest
_STAGING_OWNER = "owner.json"  # in each staging folder: host and pid of the ingest that made it


# -- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileCounts:
    """What happened to the rows of one input file: ``read = stored + stale + rejected``."""

    path: str
    kind: str
    read: int = 0
    stored: int = 0
    stale: int = 0
    rejected: int = 0
    rejects_by_code: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "path": self.path,
            "kind": self.kind,
            "read": self.read,
            "stored": self.stored,
            "stale": self.stale,
            "rejected": self.rejected,
            "rejects_by_code": dict(sorted(self.rejects_by_code.items())),
        }


@dataclass(frozen=True)
class IngestResult:
    """The outcome of :func:`ingest_paths`.

    Attributes
    ----------
    files : tuple of FileCounts
        Per input file, in the order they were loaded.
    rejects_path : str
        Where the rejected rows were written.
    max_reject_rate : float
        The share of rejected rows the run tolerates.
    seconds : float
        Wall time of the run.
    """

    files: tuple[FileCounts, ...]
    rejects_path: str
    max_reject_rate: float
    seconds: float

    def _total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def read(self) -> int:
        """Rows read from all files."""
        return self._total("read")

    @property
    def stored(self) -> int:
        """Rows stored (inserted or replacing an older version)."""
        return self._total("stored")

    @property
    def stale(self) -> int:
        """Rows left out because the store holds a newer version (by ``updated_at``)."""
        return self._total("stale")

    @property
    def rejected(self) -> int:
        """Rows that broke a rule and went to the rejects file."""
        return self._total("rejected")

    @property
    def reject_rate(self) -> float:
        """Rejected share of the rows read (0 when nothing was read)."""
        return self.rejected / self.read if self.read else 0.0

    @property
    def ok(self) -> bool:
        """The rejected share is within ``max_reject_rate``."""
        return self.reject_rate <= self.max_reject_rate

    def to_dict(self) -> dict[str, Any]:
        """What ``ringwatch ingest --json`` prints."""
        return {
            "files": [f.to_dict() for f in self.files],
            "read": self.read,
            "stored": self.stored,
            "stale": self.stale,
            "rejected": self.rejected,
            "reject_rate": self.reject_rate,
            "max_reject_rate": self.max_reject_rate,
            "ok": self.ok,
            "rejects_path": self.rejects_path,
            "seconds": round(self.seconds, 3),
        }


# -- rejects ---------------------------------------------------------------------------


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (the rule every RingWatch CSV follows)."""
    # Imported here, when a row is rejected: graph.report brings the report code (jinja2 and more), a second
    # of start-up that a clean ingest does not need.
    from graph.report.csvsafe import neutralise

    return neutralise(value) if isinstance(value, str) else value


def _raw_json(record: dict[str, Any]) -> str:
    shown = {}
    for name, value in record.items():
        if isinstance(value, str) and len(value) > _RAW_VALUE_CHARS:
            value = f"{value[:_RAW_VALUE_CHARS]}… ({len(value.encode())} bytes)"
        shown[name] = value
    return json.dumps(shown, ensure_ascii=False, default=str)


class _RejectsWriter:
    """Rejected rows of one file, as rows of the rejects CSV (staged until the file is stored)."""

    def __init__(self, handle: IO[str], source: str):
        self._writer = csv.writer(handle)
        self._source = source

    def write(self, error: RowError, reason: str, raw: str) -> None:
        cells = (self._source, error.row, error.field, error.code, reason, raw)
        self._writer.writerow([_cell(v) for v in cells])


def _reject_rows(
    chunk: RawChunk, found: list[RowErrors], headers: dict[str, str], report: ValidationReport, out: _RejectsWriter
) -> np.ndarray:
    """Record the chunk's bad rows in ``report`` and ``out``; return a mask of its good rows."""
    first_errors: list[RowError] = []
    for bad in chunk.rejects:  # rows the reader could not split into fields
        error = RowError(bad.row, "", bad.code, bad.note)
        out.write(error, bad.note, json.dumps(bad.raw, ensure_ascii=False))
        first_errors.append(error)
    per_row: dict[int, list[RowErrors]] = {}
    for errors in found:
        for position in errors.positions.tolist():
            per_row.setdefault(position, []).append(errors)
    good = np.ones(chunk.table.num_rows, dtype=bool)
    if per_row:
        positions = sorted(per_row)
        good[positions] = False
        records = chunk.table.take(pa.array(positions, pa.int64())).to_pylist()
        for position, record in zip(positions, records, strict=True):
            errors = per_row[position]  # in check order: the first names the row's code
            error = RowError(int(chunk.rows[position]), errors[0].field, errors[0].code, errors[0].note)
            reason = "; ".join(dict.fromkeys(e.note for e in errors))
            out.write(error, reason, _raw_json({headers.get(k, k): v for k, v in record.items()}))
            first_errors.append(error)
    report.add(chunk.read, first_errors)
    return good


# -- building the store's table -----------------------------------------------------------


def _contiguous(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _json_string(values: pa.Array) -> pa.Array:
    """Values as JSON string literals (vectorised; Python only for rare control characters)."""
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    for char, code in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        escaped = pc.replace_substring(escaped, char, code)
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    odd = pc.fill_null(pc.match_substring_regex(values, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"), False)
    if pc.any(odd).as_py():
        exact = pa.array([json.dumps(v, ensure_ascii=False) for v in values.filter(odd).to_pylist()], pa.string())
        quoted = pc.replace_with_mask(quoted, odd, exact)
    return quoted


def _extra_json(table: pa.Table, names: list[str], headers: dict[str, str]) -> pa.Array:
    """Unknown columns as a JSON object per row (empty values left out); null when none."""
    if not names:
        return pa.nulls(table.num_rows, pa.string())
    members = []
    for name in names:
        values = _contiguous(table.column(name))
        if not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        key = json.dumps(headers.get(name, name), ensure_ascii=False)
        members.append(pc.binary_join_element_wise(key + ":", _json_string(values), ""))
    # (pyarrow drops rows when joining a single array with null_handling="skip", so one member is taken as is.)
    joined = members[0] if len(members) == 1 else pc.binary_join_element_wise(*members, ",", null_handling="skip")
    objects = pc.binary_join_element_wise("{", joined, "}", "")
    return pc.if_else(pc.equal(pc.fill_null(joined, ""), ""), pa.scalar(None, pa.string()), objects)


def _store_table(
    parsed: Parsed, good: np.ndarray, rows: np.ndarray, source: str, headers: dict[str, str], memo: KeyMemo
) -> pa.Table:
    """The good rows of a parsed chunk in the store's schema (``kind.target``); ``memo``: the run's keys."""
    kind = parsed.kind
    keep = None if good.all() else pa.array(good)

    def pick(values: pa.Array) -> pa.Array:
        return values if keep is None else values.filter(keep)

    count = int(good.sum())
    raw_needed = {raw for _, raw in kind.keys.values() if raw in parsed.values}
    key_columns = identifier_keys(kind.keys, {raw: pick(parsed.values[raw]) for raw in raw_needed}, memo)
    columns: dict[str, pa.Array] = {}
    for target in kind.target:
        column = kind.column(target.name)
        if target.name in parsed.values:
            values = pick(parsed.values[target.name])
            if column is not None and column.default is not None:
                values = pc.fill_null(values, column.default)
            columns[target.name] = pc.cast(values, target.type)
        elif column is not None and column.default is not None:
            columns[target.name] = pa.array(np.full(count, column.default), target.type)
        elif target.name in key_columns:
            columns[target.name] = key_columns[target.name]
        elif target.name == "extra":
            known = {c.name for c in kind.columns}
            extra = [n for n in parsed.raw.column_names if n not in known]
            columns["extra"] = pick(_extra_json(parsed.raw, extra, headers))
        elif target.name == "source_file":
            columns["source_file"] = pa.repeat(pa.scalar(source, pa.string()), count)
        elif target.name == "source_row":
            columns["source_row"] = pa.array(rows[good], pa.int64())
        else:
            columns[target.name] = pa.nulls(count, target.type)
    return pa.table(columns, schema=kind.target)


def _occurrences(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For each row, how many earlier rows carry the same id, and how many rows carry it in all."""
    codes = np.asarray(ids.dictionary_encode().indices)
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ranked)) + 1]
    sizes = np.diff(np.r_[starts, len(codes)])
    occurrence = np.empty(len(codes), dtype=np.int64)
    occurrence[order] = np.arange(len(codes)) - np.repeat(starts, sizes)
    return occurrence, np.bincount(codes)[codes]


def _rounds(table: pa.Table, kind: FileKind) -> list[pa.Table]:
    """Split a chunk into upserts with unique ids, preserving each id's row order.

    Orders: the k-th occurrence of an id goes to round k, so the store judges
    every version in turn. Entities carry no version: the last row wins.
    """
    ids = _contiguous(table.column(kind.key))
    if table.num_rows == 0 or pc.count_distinct(ids).as_py() == table.num_rows:
        return [table]
    occurrence, total = _occurrences(ids)
    if kind.name != "orders":
        return [table.filter(pa.array(occurrence == total - 1))]
    return [table.filter(pa.array(occurrence == k)) for k in range(int(occurrence.max()) + 1)]


def _by_rows(parts: list[tuple[Path, int]], limit: int) -> list[list[tuple[Path, int]]]:
    """Consecutive staged parts in runs of at most ``limit`` rows (a larger part alone)."""
    runs: list[list[tuple[Path, int]]] = []
    rows = 0
    for part in parts:
        if not runs or rows + part[1] > limit:
            runs.append([])
            rows = 0
        runs[-1].append(part)
        rows += part[1]
    return runs


def _without_repeats(ids: list[pa.ChunkedArray]) -> list[tuple[int, int]]:
    """Cut consecutive parts into runs ``[start, stop)`` in which no id occurs twice, in order.

    Parts come from ``_rounds``, so each holds an id once; usually no id is
    repeated at all and the parts make one run.
    """
    if len(ids) < 2:
        return [(0, len(ids))]
    codes = np.asarray(pa.chunked_array([c for a in ids for c in a.chunks], ids[0].type).dictionary_encode().combine_chunks().indices)
    if not len(codes) or np.bincount(codes).max() == 1:
        return [(0, len(ids))]
    bounds = np.cumsum([0] + [len(a) for a in ids])
    runs: list[tuple[int, int]] = []
    start = 0
    seen = np.zeros(int(codes.max()) + 1, dtype=bool)
    for j in range(len(ids)):
        part = codes[bounds[j] : bounds[j + 1]]
        if seen[part].any():  # this part repeats an id of the run: it starts the next one
            runs.append((start, j))
            start = j
            seen[:] = False
        seen[part] = True
    runs.append((start, len(ids)))
    return runs


# -- the run ------------------------------------------------------------------------------


@dataclass
class _Staged:
    """A file read to the end: its good rows in IPC files waiting for the store, its rejects in a CSV."""

    file: InputFile
    rejects: Path
    kind: FileKind | None = None  # known once the file is open (by name or by columns)
    parts: list[tuple[Path, int]] = field(default_factory=list)  # (IPC file, rows), in upsert order
    report: ValidationReport = field(default_factory=ValidationReport)
    superseded: int = 0  # entity rows replaced by a later row of the same chunk

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.parts)


def _resolve_kind(file: InputFile, reader: InputReader) -> FileKind:
    if file.kind is not None:
        kind = KINDS[file.kind]
    else:
        found = kind_from_columns(reader.columns)
        if found is None:
            raise InputFileError(
                file.path,
                "cannot tell what this file holds: name it orders*, buyers*, sellers* or items*, "
                "or give it the orders columns order_id, buyer_id, seller_id, created_at",
            )
        kind = found
    # A JSONL file without any line has no columns and simply no rows.
    if reader.columns or file.format != "jsonl":
        missing = [c for c in kind.required if c not in reader.columns]
        if missing:
            raise InputFileError(
                file.path,
                f"{kind.name} file lacks required column(s) {', '.join(missing)} "
                f"(found: {', '.join(reader.columns) or 'none'}); required: {', '.join(kind.required)}",
            )
    return kind


class _Run:
    """One ingest run: files are staged one after the other, and stored in the same order.

    Staging the next file overlaps with storing the current one (pyarrow and
    the store release the GIL), so reading and writing share the cores.
    """

    def __init__(
        self,
        store: GraphStore,
        tmp: Path,
        *,
        tz: str,
        encoding: str | None,
        chunk_rows: int,
        on_progress: ProgressFn | None,
    ):
        self.store = store
        self.tmp = tmp
        self.tz = tz
        self.encoding = encoding
        self.chunk_rows = chunk_rows
        self.on_progress = on_progress
        self.stopping = threading.Event()  # set when the run ends early: staging ahead stops too
        self.keys = KeyMemo()  # identifier keys made so far: each distinct raw value is normalised once
        # Progress per file kind ("reading orders", "storing orders"): rows read, staged, stored.
        self.read: Counter[str] = Counter()
        self.staged: Counter[str] = Counter()
        self.loaded: Counter[str] = Counter()

    def _read(self, staged: _Staged, index: int, block_size: int | None) -> None:
        file = staged.file
        options = {"block_size": block_size} if block_size else {}
        reader = open_input(file.path, file.format, encoding=self.encoding, chunk_rows=self.chunk_rows, **options)
        staged.kind = kind = _resolve_kind(file, reader)
        source = str(file.path)
        with staged.rejects.open("w", encoding="utf-8", newline="") as handle:
            rejects = _RejectsWriter(handle, source)
            for number, chunk in enumerate(reader):
                if self.stopping.is_set():
                    return
                parsed = parse_chunk(kind, chunk.table, self.tz)
                good = _reject_rows(chunk, validate(parsed), reader.headers, staged.report, rejects)
                self.read[kind.name] += chunk.read
                report(self.on_progress, f"reading {kind.name}", self.read[kind.name])
                table = _store_table(parsed, good, chunk.rows, source, reader.headers, self.keys)
                rounds = _rounds(table, kind)
                staged.superseded += table.num_rows - sum(r.num_rows for r in rounds)
                for k, part in enumerate(rounds):
                    path = self.tmp / f"{index}-{number}-{k}.arrow"
                    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, part.schema) as writer:
                        writer.write_table(part)
                    staged.parts.append((path, part.num_rows))

    def stage(self, file: InputFile, index: int) -> _Staged:
        """Read, check and normalise a whole file into the staging folder."""
        for block_size in (None, LARGE_BLOCK_SIZE):
            staged = _Staged(file, self.tmp / f"{index}.rejects.csv")
            try:
                self._read(staged, index, block_size)
            except RowTooLong:  # read it again with blocks large enough for its longest row
                for path, _ in staged.parts:
                    path.unlink()
                if staged.kind is not None:
                    self.read[staged.kind.name] -= staged.report.rows
                continue
            return staged
        raise InputFileError(file.path, f"has a row longer than {LARGE_BLOCK_SIZE >> 20} MB: is it really CSV?")

    def load(self, staged: _Staged, out: IO[str]) -> FileCounts:
        """Upsert a staged file, then append its rejects to the run's rejects file."""
        stored = stale = 0
        kind = staged.kind
        self.staged[kind.name] += staged.rows
        # Few, large upserts: DuckDB appends a big one straight to its file, while a small one goes
        # through its write-ahead log and is compressed again at the next checkpoint (~1.5x the cost).
        for run in _by_rows(staged.parts, _UPSERT_CHUNKS * self.chunk_rows):
            with contextlib.ExitStack() as maps:
                tables = [ipc.open_file(maps.enter_context(pa.memory_map(str(path)))).read_all() for path, _ in run]
                for start, stop in _without_repeats([t.column(kind.key) for t in tables]):
                    table = pa.concat_tables(tables[start:stop])
                    if kind.name == "orders":
                        counts = self.store.upsert_orders(table)
                    else:
                        counts = self.store.upsert_entities(kind.entity, table)
                    stored += counts.stored
                    stale += counts.stale
                    self.loaded[kind.name] += table.num_rows
                    report(self.on_progress, f"storing {kind.name}", self.loaded[kind.name], self.staged[kind.name])
            for path, _ in run:
                path.unlink()
        with staged.rejects.open(encoding="utf-8", newline="") as handle:
            shutil.copyfileobj(handle, out)
        out.flush()
        staged.rejects.unlink()
        return FileCounts(
            str(staged.file.path),
            kind.name,
            read=staged.report.rows,
            stored=stored + staged.superseded,
            stale=stale,
            rejected=staged.report.rejected,
            rejects_by_code=dict(staged.report.by_code),
        )

    def run(self, files: list[InputFile], out: IO[str]) -> list[FileCounts]:
        done: list[FileCounts] = []
        # A store that can keep one connection for a run (DuckDB's session) saves a reconnect per upsert.
        session = getattr(self.store, "session", None)
        with (
            session() if callable(session) else contextlib.nullcontext(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ringwatch-ingest") as pool,
        ):
            ahead = pool.submit(self.stage, files[0], 0) if files else None
            try:
                for index in range(len(files)):
                    staged = ahead.result()
                    ahead = pool.submit(self.stage, files[index + 1], index + 1) if index + 1 < len(files) else None
                    done.append(self.load(staged, out))
            finally:
                self.stopping.set()
                if ahead is not None:
                    ahead.cancel()
        return done


def _remove_stale_staging(parent: Path) -> None:
    """Delete the staging folders of ingests that died without cleaning up (kill -9, power loss).

    Only folders whose owner record names a process that is gone (on this host, as
    for the batch lock); a folder without a readable record is left alone.
    """
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            owner = json.loads((folder / _STAGING_OWNER).read_text(encoding="utf-8"))
            dead = not holder_is_alive(owner)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):  # no record yet (just made), or not ours
            continue
        if dead:
            shutil.rmtree(folder, ignore_errors=True)


def _load_order(files: list[InputFile]) -> list[InputFile]:
    """Entities before orders (stable), files of unknown kind last."""
    rank = {name: i for i, name in enumerate(KINDS)}
    return sorted(files, key=lambda f: rank.get(f.kind, len(rank)) if f.kind else len(rank))


def _check_options(tz: str, encoding: str | None, max_reject_rate: float, chunk_rows: int) -> None:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r}: give an IANA name such as Asia/Shanghai or UTC") from None
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"unknown encoding {encoding!r}: use for example utf-8 or gb18030") from None
    if not 0 <= max_reject_rate <= 1:
        raise ConfigError(f"max_reject_rate must be between 0 and 1, got {max_reject_rate}")
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1, got {chunk_rows}")


def ingest_paths(
    paths: Iterable[str | Path],
    store: GraphStore,
    *,
    tz: str = "UTC",
    encoding: str | None = None,
    max_reject_rate: float = 0.01,
    rejects_path: str | Path,
    chunk_rows: int = 200_000,
    on_progress: ProgressFn | None = None,
) -> IngestResult:
    """Load input files and folders into ``store`` (CONTRACT.md section 1).

    Parameters
    ----------
    paths : iterable of str or Path
        Files (kind from the name ``orders*``, ``buyers*``, ``sellers*``,
        ``items*``, else from the columns) and folders (scanned for such names).
    store : GraphStore
        Where the rows go (:func:`graph.store.open_store`).
    tz : str
        IANA zone for timestamps without an offset.
    encoding : str, optional
        Text encoding of CSV/JSONL files; detected (UTF-8 or GB18030) when not given.
    max_reject_rate : float
        Share of rejected rows above which :attr:`IngestResult.ok` is false.
        Good rows are stored either way.
    rejects_path : str or Path
        CSV file for rejected rows (``source_file, row, field, code, reason,
        raw``), replaced on every run.
    chunk_rows : int
        Rows parsed and upserted at a time; memory follows this, not file size.
    on_progress : callable, optional
        ``on_progress(stage, done, total)``.

    Returns
    -------
    IngestResult
        Per-file and total counts; ``read = stored + stale + rejected``.

    Raises
    ------
    InputFileError
        A file cannot be read at all (nothing from it was stored; files before it were).
    ConfigError
        An option is invalid (unknown time zone or encoding).

    Examples
    --------
    >>> from graph.store import open_store
    >>> store = open_store("duckdb:///rw.duckdb")  # doctest: +SKIP
    >>> result = ingest_paths(["data/"], store, rejects_path="rejects.csv")  # doctest: +SKIP
    >>> result.ok, result.read, result.stored, result.rejected  # doctest: +SKIP
    (True, 1000, 998, 2)
    """
    started = time.monotonic()
    _check_options(tz, encoding, max_reject_rate, chunk_rows)
    files = _load_order(discover(paths))
    rejects_path = Path(rejects_path)
    rejects_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(Path(tempfile.gettempdir()))
    with (
        tempfile.TemporaryDirectory(prefix=STAGING_PREFIX) as tmp,
        rejects_path.open("w", encoding="utf-8", newline="") as out,
    ):
        (Path(tmp) / _STAGING_OWNER).write_text(json.dumps(new_holder("ingest")), encoding="utf-8")
        csv.writer(out).writerow(REJECT_COLUMNS)
        run = _Run(store, Path(tmp), tz=tz, encoding=encoding, chunk_rows=chunk_rows, on_progress=on_progress)
        done = run.run(files, out)
    return IngestResult(tuple(done), str(rejects_path), max_reject_rate, time.monotonic() - started)
