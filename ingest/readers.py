"""Readers: input files in, Arrow chunks out, never the whole file in memory.

Formats follow the file name (CONTRACT.md section 1): ``.csv`` / ``.csv.gz``,
``.jsonl`` / ``.jsonl.gz``, ``.parquet``. Text formats come out as all-string
columns (empty = null); Parquet keeps its own types. Column names are matched
trimmed and case-insensitively (:func:`ingest.schema.normalise_header`).

Every chunk carries the 1-based *data row* number of each row (CSV: record
after the header; JSONL: non-blank line; Parquet: row), and the rows the
reader itself could not split into fields (ragged CSV rows, broken JSON
lines) as :class:`ReaderReject` items, so that every row is accounted for.

A file that cannot be read at all raises :class:`graph.errors.InputFileError`.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from graph.errors import InputFileError
from ingest.schema import FORMATS, format_from_name, kind_from_name, normalise_header

__all__ = [
    "InputFile",
    "RawChunk",
    "ReaderReject",
    "InputReader",
    "RowTooLong",
    "discover",
    "open_input",
    "detect_encoding",
    "BLOCK_SIZE",
    "LARGE_BLOCK_SIZE",
]

# pyarrow parses CSV in blocks and a row must fit in one. Small blocks are the
# fastest; a file with a longer row is read again with LARGE_BLOCK_SIZE.
BLOCK_SIZE = 1 << 20
LARGE_BLOCK_SIZE = 256 << 20
_SAMPLE_BYTES = 1 << 20
_CHUNK_BYTES = 256 << 20  # a chunk also ends here, so string offsets never overflow
_ENCODING_HINT = "if the file uses another encoding, pass --encoding (for example --encoding gb18030)"


@dataclass(frozen=True)
class InputFile:
    """A file to read, with its format and the kind its name announces (None: decided by its columns)."""

    path: Path
    format: str
    kind: str | None


@dataclass(frozen=True)
class ReaderReject:
    """A row the reader could not split into fields."""

    row: int
    code: str
    note: str
    raw: str


@dataclass
class RawChunk:
    """A chunk of rows as read, with their data row numbers and the rows the reader rejected."""

    table: pa.Table
    rows: np.ndarray
    rejects: list[ReaderReject] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Rows this chunk accounts for: parsed plus rejected by the reader."""
        return self.table.num_rows + len(self.rejects)


class RowTooLong(Exception):
    """A CSV row does not fit in the reader's block; read the file again with a larger block size."""


# -- finding files --------------------------------------------------------------


def discover(paths: Iterable[str | Path]) -> list[InputFile]:
    """The input files named by ``paths``: files as given, folders scanned for ``orders*``, ``buyers*``, ...

    Raises
    ------
    InputFileError
        A path does not exist, a named file has an unsupported format, or a
        folder holds no input files.
    """
    found: list[InputFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = [
                InputFile(p, fmt, kind.name)
                for p in sorted(path.iterdir())
                if p.is_file()
                and not p.name.startswith(".")
                and (fmt := format_from_name(p))
                and (kind := kind_from_name(p))
            ]
            if not inside:
                raise InputFileError(
                    path,
                    "folder holds no input files: expected files named orders*, buyers*, sellers* or items* "
                    f"ending in {', '.join(FORMATS)}",
                )
            found.extend(inside)
        elif path.is_file():
            fmt = format_from_name(path)
            if fmt is None:
                raise InputFileError(path, f"unsupported file type: name it with one of {', '.join(FORMATS)}")
            kind = kind_from_name(path)
            found.append(InputFile(path, fmt, kind.name if kind else None))
        else:
            raise InputFileError(path, "no such file or folder")
    return found


# -- encodings --------------------------------------------------------------------


def _open_bytes(path: Path) -> pa.NativeFile:
    return pa.input_stream(str(path), compression="gzip" if path.name.lower().endswith(".gz") else None)


def detect_encoding(path: Path) -> str:
    """``utf-8`` (with or without BOM) or ``gb18030``, judged on the first megabyte.

    Raises
    ------
    InputFileError
        The sample is neither UTF-8 nor GB18030 (names the ``--encoding`` option).
    """
    try:
        with _open_bytes(path) as stream:
            sample = stream.read(_SAMPLE_BYTES)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise InputFileError(path, f"is not UTF-8 text (nor GB18030); {_ENCODING_HINT}")


def _unreadable(path: Path, exc: BaseException) -> InputFileError:
    """An I/O failure as a message: a broken or fake gzip file says so."""
    text = str(exc)
    if path.name.lower().endswith(".gz") and any(w in text.lower() for w in ("zlib", "gzip", "compressed")):
        return InputFileError(path, f"is not a readable gzip file ({text})")
    return InputFileError(path, f"cannot be read: {text}")


def _check_encoding(path: Path, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        problem = f"unknown encoding {encoding!r} given with --encoding (try utf-8 or gb18030)"
        raise InputFileError(path, problem) from None


# -- readers -----------------------------------------------------------------------


class InputReader:
    """One input file, opened: its columns and an iterator of :class:`RawChunk`.

    Attributes
    ----------
    path : pathlib.Path
    columns : list of str
        Normalised column names (for JSONL: those of the first block).
    headers : dict
        Normalised name -> the name as written in the file.
    encoding : str or None
        The text encoding used (None for Parquet).
    """

    def __init__(self, path: Path, headers: list[str], encoding: str | None):
        self.path = path
        self.columns = [normalise_header(h) for h in headers]
        self.headers = {normalise_header(h): h.replace("\ufeff", "").strip() for h in headers}
        self.encoding = encoding
        seen: set[str] = set()
        for name in self.columns:
            if name in seen:
                raise InputFileError(path, f"column {name!r} appears twice in the header; keep one")
            seen.add(name)

    def __iter__(self) -> Iterator[RawChunk]:
        raise NotImplementedError

    def _rename(self, table: pa.Table) -> pa.Table:
        return table.rename_columns([normalise_header(n) for n in table.column_names])


def _rechunk(batches: Iterable[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Gather the reader's small batches into chunks of at most ``chunk_rows`` rows (and about 256 MB)."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        while rows >= chunk_rows or (rows and size >= _CHUNK_BYTES):
            table = pa.Table.from_batches(pending)
            cut = min(rows, chunk_rows)
            yield table.slice(0, cut).combine_chunks()
            pending = table.slice(cut).to_batches()
            rows -= cut
            size = sum(b.nbytes for b in pending)
    if rows:
        yield pa.Table.from_batches(pending).combine_chunks()


class CsvReader(InputReader):
    """RFC 4180 CSV (optionally gzip-compressed), all columns as strings."""

    def __init__(self, path: Path, *, encoding: str | None, chunk_rows: int, block_size: int = BLOCK_SIZE):
        encoding = _check_encoding(path, encoding) if encoding else detect_encoding(path)
        self.chunk_rows = chunk_rows
        self.block_size = block_size
        self._encoding = encoding
        try:
            with _open_bytes(path) as stream:
                # pyarrow keys column types by the header as written (a BOM already stripped).
                self._names: list[str] = self._open(stream, None, lambda row: "skip").schema.names
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
            raise self._error(path, exc) from exc
        super().__init__(path, self._names, encoding)

    def _open(self, stream: pa.NativeFile, columns: list[str] | None, handler=None) -> pcsv.CSVStreamingReader:
        return pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(
                use_threads=False,  # single-threaded parsing is what gives ragged rows their row numbers
                block_size=self.block_size,
                encoding=self._encoding,
            ),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in columns or []},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )

    def _error(self, path: Path, exc: BaseException) -> Exception:
        text = str(exc)
        if "straddling" in text:
            return RowTooLong(text)
        if text.startswith("Empty CSV file"):
            return InputFileError(path, "is empty: a CSV file needs at least a header row naming its columns")
        if "invalid UTF8" in text or isinstance(exc, UnicodeDecodeError):
            where = re.search(r"Row #(\d+)", text)
            at = f" (at CSV row {where.group(1)})" if where else ""
            return InputFileError(path, f"is not valid {self._encoding} text{at}; {_ENCODING_HINT}")
        if isinstance(exc, OSError) or "compressed" in text.lower():
            return _unreadable(path, exc)
        return InputFileError(path, f"cannot be read as CSV: {text}")

    def __iter__(self) -> Iterator[RawChunk]:
        ragged: list[ReaderReject] = []

        def on_ragged(row: pcsv.InvalidRow) -> str:
            # pyarrow counts the header as row 1.
            note = f"row has {row.actual_columns} fields, the header has {row.expected_columns}"
            ragged.append(ReaderReject(row.number - 1, "ragged_row", note, row.text))
            return "skip"

        accepted = 0
        handed_out = 0  # ragged rows already given to a chunk: all before the rows still to come
        try:
            with _open_bytes(self.path) as stream:
                reader = self._open(stream, self._names, on_ragged)
                for table in _rechunk(reader, self.chunk_rows):
                    table = self._rename(table)
                    skipped = np.array([r.row for r in ragged], dtype=np.int64)
                    rows = _row_numbers(accepted, table.num_rows, skipped, handed_out)
                    accepted += table.num_rows
                    last = rows[-1] if len(rows) else 0
                    now = [r for r in ragged if r.row < last]
                    del ragged[: len(now)]  # memory stays with the chunk, not the file
                    handed_out += len(now)
                    yield RawChunk(table, rows, now)
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
            raise self._error(self.path, exc) from exc
        if ragged:
            yield RawChunk(self._empty(), np.empty(0, dtype=np.int64), list(ragged))

    def _empty(self) -> pa.Table:
        return pa.table({name: pa.array([], pa.string()) for name in self.columns})


def _row_numbers(before: int, count: int, skipped: np.ndarray, skipped_before: int = 0) -> np.ndarray:
    """Data row numbers of accepted rows ``before+1 .. before+count``.

    ``skipped`` holds the row numbers (ascending) of rows the reader skipped
    that are not yet accounted for; ``skipped_before`` counts those that come
    before all of these rows. The a-th accepted row is row ``a + k`` where k
    counts skipped rows r_j (j = 0, 1, ... overall) with ``r_j - j <= a``.
    """
    accepted = np.arange(before + 1, before + count + 1, dtype=np.int64)
    if len(skipped) == 0:
        return accepted + skipped_before
    thresholds = skipped - np.arange(skipped_before, skipped_before + len(skipped))
    return accepted + skipped_before + np.searchsorted(thresholds, accepted, side="right")


class JsonlReader(InputReader):
    """One JSON object per line (optionally gzip-compressed); values come out as strings.

    Blocks are parsed by pyarrow; a block it refuses (a broken line, a column
    that mixes numbers and strings) is parsed line by line so that only the
    broken lines are rejected (``bad_json``).
    """

    def __init__(self, path: Path, *, encoding: str | None, chunk_rows: int, block_size: int = BLOCK_SIZE):
        self.path = path
        self._encoding = _check_encoding(path, encoding) if encoding else detect_encoding(path)
        self.chunk_rows = chunk_rows
        self.block_size = block_size
        self._explicit: dict[str, pa.DataType] = {}  # columns pyarrow must not retype (timestamps)
        self._inferred: set[str] = set()  # columns holding JSON numbers or booleans
        first = next(self._blocks(), b"")
        table, _ = self._parse(first, 0) if first else (pa.table({}), [])
        super().__init__(path, table.column_names, self._encoding)

    def _blocks(self) -> Iterator[bytes]:
        decoder = None if self._encoding == "utf-8" else codecs.getincrementaldecoder(self._encoding)()
        rest = b""
        try:
            with _open_bytes(self.path) as stream:
                first = True
                while True:
                    data = stream.read(self.block_size)
                    if decoder is not None:
                        data = decoder.decode(data, final=not data).encode("utf-8")
                    if first:
                        data = data.removeprefix(codecs.BOM_UTF8)
                        first = False
                    if not data:
                        break
                    data = rest + data
                    cut = data.rfind(b"\n")
                    if cut < 0:
                        rest = data
                        continue
                    rest = data[cut + 1 :]
                    yield data[: cut + 1]
        except UnicodeDecodeError as exc:
            raise InputFileError(self.path, f"is not valid {self._encoding} text; {_ENCODING_HINT}") from exc
        except OSError as exc:
            raise _unreadable(self.path, exc) from exc
        if rest.strip():
            yield rest

    def _parse(self, block: bytes, before: int) -> tuple[pa.Table, list[ReaderReject]]:
        """Parse one block of whole lines; ``before`` is the number of data rows before it."""
        for _ in range(64):  # each retry settles one column's type
            explicit = pa.schema([(n, t) for n, t in self._explicit.items()])
            try:
                table = pjson.read_json(
                    io.BytesIO(block),
                    read_options=pjson.ReadOptions(use_threads=False, block_size=max(len(block), 1 << 20) + 1),
                    parse_options=pjson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"),
                )
            except pa.ArrowInvalid as exc:
                moved = re.search(r"Column\(/([^)/]*)\) changed from string to (number|boolean)", str(exc))
                if moved and moved.group(1) in self._explicit and moved.group(1) not in self._inferred:
                    del self._explicit[moved.group(1)]
                    self._inferred.add(moved.group(1))
                    continue
                return _parse_lines(block, before)
            retyped = [f.name for f in table.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)]
            if retyped:  # pyarrow read ISO text as timestamps, dropping offsets: keep them as text
                self._explicit.update({name: pa.string() for name in retyped})
                continue
            self._explicit.update({f.name: pa.string() for f in table.schema if pa.types.is_string(f.type)})
            return _as_strings(table), []
        return _parse_lines(block, before)

    def __iter__(self) -> Iterator[RawChunk]:
        before = 0
        pending: list[RawChunk] = []
        pending_rows = 0
        for block in self._blocks():
            table, rejects = self._parse(block, before)
            count = table.num_rows + len(rejects)
            rows = np.setdiff1d(
                np.arange(before + 1, before + count + 1, dtype=np.int64),
                np.array([r.row for r in rejects], dtype=np.int64),
                assume_unique=True,
            )
            before += count
            pending.append(RawChunk(self._rename(table), rows, rejects))
            pending_rows += count
            if pending_rows >= self.chunk_rows:
                yield _concat(pending)
                pending, pending_rows = [], 0
        if pending:
            yield _concat(pending)


def _concat(chunks: list[RawChunk]) -> RawChunk:
    tables = [c.table for c in chunks if c.table.num_rows or c.table.num_columns]
    table = pa.concat_tables(tables, promote_options="permissive").combine_chunks() if tables else pa.table({})
    return RawChunk(
        table,
        np.concatenate([c.rows for c in chunks]) if chunks else np.empty(0, np.int64),
        [r for c in chunks for r in c.rejects],
    )


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _as_strings(table: pa.Table) -> pa.Table:
    """Every column as strings; empty strings become null."""
    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type):
            column = pa.array([_json_text(v) for v in column.to_pylist()], pa.string())
        elif not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        columns.append(pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column))
    return pa.table(columns, names=table.column_names)


def _parse_lines(block: bytes, before: int) -> tuple[pa.Table, list[ReaderReject]]:
    """Slow path: parse line by line, rejecting lines that are not JSON objects."""
    records: list[dict[str, str | None]] = []
    rejects: list[ReaderReject] = []
    row = before
    for line in block.split(b"\n"):
        if not line.strip():
            continue
        row += 1
        text = line.decode("utf-8", errors="replace")
        try:
            value = json.loads(line)
        except ValueError as exc:
            rejects.append(ReaderReject(row, "bad_json", f"not valid JSON: {exc}", text))
            continue
        if not isinstance(value, dict):
            rejects.append(ReaderReject(row, "bad_json", "a line must hold one JSON object", text))
            continue
        records.append({k: _json_text(v) for k, v in value.items()})
    names = list(dict.fromkeys(k for r in records for k in r))
    table = pa.table({n: pa.array([r.get(n) for r in records], pa.string()) for n in names})
    return _as_strings(table), rejects


class ParquetReader(InputReader):
    """Parquet, read row group by row group; columns keep their Parquet types."""

    def __init__(self, path: Path, *, encoding: str | None, chunk_rows: int, block_size: int = BLOCK_SIZE):
        self.chunk_rows = chunk_rows
        try:
            self._file = pq.ParquetFile(str(path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputFileError(path, f"is not a readable Parquet file: {exc}") from exc
        super().__init__(path, self._file.schema_arrow.names, None)

    def __iter__(self) -> Iterator[RawChunk]:
        before = 0
        try:
            for batch in self._file.iter_batches(batch_size=self.chunk_rows):
                table = self._rename(_plain_types(pa.Table.from_batches([batch])))
                rows = np.arange(before + 1, before + table.num_rows + 1, dtype=np.int64)
                before += table.num_rows
                yield RawChunk(table, rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputFileError(self.path, f"is not a readable Parquet file: {exc}") from exc


def _plain_types(table: pa.Table) -> pa.Table:
    """Dictionary and large strings as plain strings, nested values as JSON text, empty strings as null."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_nested(column.type):
            column = pa.array([_json_text(v) for v in column.to_pylist()], pa.string())
        if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        if pa.types.is_string(column.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


_READERS: dict[str, type[InputReader]] = {"csv": CsvReader, "jsonl": JsonlReader, "parquet": ParquetReader}


def open_input(
    path: Path,
    fmt: str,
    *,
    encoding: str | None = None,
    chunk_rows: int = 200_000,
    block_size: int = BLOCK_SIZE,
) -> InputReader:
    """Open an input file for chunked reading.

    Parameters
    ----------
    path : pathlib.Path
    fmt : str
        ``csv``, ``jsonl`` or ``parquet`` (see :func:`ingest.schema.format_from_name`).
    encoding : str, optional
        Text encoding; detected (UTF-8 or GB18030) when not given.
    chunk_rows : int
        Rows per chunk (chunks also stop at 256 MB of data).
    block_size : int
        CSV parser block; a row must fit in it (:class:`RowTooLong` otherwise).

    Raises
    ------
    InputFileError
        The file cannot be read at all.
    """
    return _READERS[fmt](path, encoding=encoding, chunk_rows=chunk_rows, block_size=block_size)
