"""Typed parsing and validation as data.

:func:`parse_chunk` reads a chunk's contract columns by their declared type
(:mod:`ingest.schema`). Each input rule is then a small named check in
:data:`CHECKS` that looks at the raw and parsed columns of a whole chunk at
once (pyarrow compute, numpy) and yields :class:`RowErrors`: one broken rule
over many rows. :func:`validate` runs them all; a file's first error per row
(:class:`RowError`) is collected in a :class:`ValidationReport`. Only
unreadable files raise; bad rows never do.

Value rules (CONTRACT.md section 1)
    Timestamps: ISO 8601 with an offset; without one, read in ``tz``; Unix
    epoch seconds or milliseconds (told apart by magnitude: below 1e11 are
    seconds). Booleans: true/false, 1/0, yes/no in any case. Decimals may
    carry a currency sign or thousands separators. Empty means unknown.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import ORDER_STATUSES
from graph.schema import TS
from ingest.schema import FIELD_MAX_BYTES, Column, FileKind

__all__ = [
    "RowError",
    "RowErrors",
    "Parsed",
    "Check",
    "CHECKS",
    "ValidationReport",
    "parse_chunk",
    "parse_timestamps",
    "parse_numbers",
    "parse_booleans",
    "validate",
]

_NULL_STR = pa.scalar(None, pa.string())
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_INT_MAX = 2**31 - 1
_EPOCH_MS = 1e11  # epoch values from here on are milliseconds (1e11 s is the year 5138)
_EPOCH_MAX = 1e14  # ... and up to here (1e14 ms is the year 5138 too)
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_EPOCH_VALUE = re.compile(_NUMBER)
_HAS_ZONE = re.compile(r"[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$")
_THOUSANDS = r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$"
_ISO = (
    r"^(?P<y>[0-9]{4})[-/](?P<mo>[0-9]{1,2})[-/](?P<d>[0-9]{1,2})"
    r"(?:[T ](?P<h>[0-9]{1,2})(?::(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?)?)?"
    r" ?(?P<z>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)


# -- errors ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One broken rule in one row: ``row`` is the 1-based data row of the input file."""

    row: int
    field: str
    code: str
    note: str


@dataclass(frozen=True)
class RowErrors:
    """One broken rule over several rows of a chunk; ``positions`` index the chunk's rows."""

    field: str
    code: str
    note: str
    positions: np.ndarray

    @classmethod
    def where(cls, mask: pa.Array | np.ndarray, field: str, code: str, note: str) -> RowErrors | None:
        """The rows where ``mask`` holds (nulls count as false), or None when there are none."""
        if isinstance(mask, np.ndarray):
            positions = np.flatnonzero(mask)
        else:
            positions = pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy()
        return cls(field, code, note, positions) if len(positions) else None


@dataclass
class ValidationReport:
    """The row errors of one input file, collected chunk by chunk.

    Attributes
    ----------
    rows : int
        Rows checked.
    rejected : int
        Rows with at least one error (each is left out of the store).
    by_code : collections.Counter
        Rejected rows per error code (a row counts under its first error).
    errors : list of RowError
        The first error of each rejected row, up to ``keep`` of them.
    """

    keep: int = 1000
    rows: int = 0
    rejected: int = 0
    by_code: Counter = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """No row broke a rule."""
        return self.rejected == 0

    def add(self, rows: int, first_errors: list[RowError]) -> None:
        """Count a checked chunk and the first error of each of its rejected rows."""
        self.rows += rows
        self.rejected += len(first_errors)
        self.by_code.update(e.code for e in first_errors)
        room = self.keep - len(self.errors)
        if room > 0:
            self.errors.extend(first_errors[:room])

    def to_table(self) -> pa.Table:
        """The kept errors as a table: ``row, field, code, note``."""
        return pa.table(
            {
                "row": pa.array([e.row for e in self.errors], pa.int64()),
                "field": pa.array([e.field for e in self.errors], pa.string()),
                "code": pa.array([e.code for e in self.errors], pa.string()),
                "note": pa.array([e.note for e in self.errors], pa.string()),
            }
        )


# -- typed parsing ---------------------------------------------------------------------


def _array(column: pa.ChunkedArray) -> pa.Array:
    """One contiguous array (without a copy when the column already is one)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _text(values: pa.Array) -> pa.Array:
    """Values as trimmed strings, empty = null."""
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), _NULL_STR, trimmed)


_EPOCH = datetime(1970, 1, 1)
_DAY_US = 86_400_000_000


def _utc_offset_us(zone: zoneinfo.ZoneInfo, wall_us: int) -> int | None:
    """UTC offset of a wall-clock time in ``zone`` (fold=0: an ambiguous time is its first occurrence)."""
    try:
        wall = _EPOCH + timedelta(microseconds=wall_us)
    except OverflowError:
        return None
    offset = wall.replace(tzinfo=zone).utcoffset()
    return None if offset is None else offset // timedelta(microseconds=1)


def _localise(naive: pa.Array, tz: str) -> pa.Array:
    """Naive wall-clock timestamps read in ``tz`` (with :mod:`zoneinfo`'s rules), as UTC.

    Offsets are looked up once per calendar day; only rows on a day whose
    offset changes (a DST switch) are looked up one by one.
    """
    if tz == "UTC":
        return pc.cast(naive, TS)
    zone = zoneinfo.ZoneInfo(tz)
    valid = pc.is_valid(naive).to_numpy(zero_copy_only=False)
    wall = pc.fill_null(pc.cast(pc.cast(naive, pa.timestamp("us")), pa.int64()), 0).to_numpy()
    days, day_of_row = np.unique(wall // _DAY_US, return_inverse=True)
    starts = [_utc_offset_us(zone, int(d) * _DAY_US) for d in days]
    ends = [_utc_offset_us(zone, int(d + 1) * _DAY_US - 1) for d in days]
    steady = np.array([a is not None and a == b for a, b in zip(starts, ends, strict=True)])
    offsets = np.array([a if a is not None else 0 for a in starts], dtype=np.int64)[day_of_row]
    known = valid & steady[day_of_row]
    for row in np.flatnonzero(valid & ~steady[day_of_row]):  # DST switch days: row by row
        offset = _utc_offset_us(zone, int(wall[row]))
        if offset is not None:
            offsets[row], known[row] = offset, True
    return pa.array(wall - offsets, TS, mask=~known)


def _from_epoch(numbers: pa.Array) -> pa.Array:
    magnitude = pc.abs(numbers)
    micros = pc.if_else(
        pc.less(magnitude, _EPOCH_MS),
        pc.multiply(numbers, 1e6),
        pc.if_else(pc.less(magnitude, _EPOCH_MAX), pc.multiply(numbers, 1e3), pa.scalar(None, pa.float64())),
    )
    return pc.cast(pc.cast(pc.round(micros), pa.int64()), TS)


def _iso_by_row(text: pa.Array, tz: str) -> pa.Array:
    """Slow path: ISO 8601 variants read row by row (vectorised), null where unreadable."""
    parts = pc.extract_regex(text, _ISO)

    def part(name: str, default: str, width: int = 2) -> pa.Array:
        value = pc.struct_field(parts, name)  # optional groups that took no part come back empty
        return pc.utf8_lpad(pc.if_else(pc.equal(value, ""), default, value), width, "0")

    fields = {name: part(name, "0") for name in ("mo", "d", "h", "mi", "s")}
    canonical = pc.binary_join_element_wise(
        part("y", "0", 4), "-", fields["mo"], "-", fields["d"], "T",
        fields["h"], ":", fields["mi"], ":", fields["s"], "",
    )  # fmt: skip
    naive = pc.strptime(canonical, "%Y-%m-%dT%H:%M:%S", "us", error_is_null=True)
    # strptime rolls 30 February over into March: keep only values that read back unchanged.
    for name, unit in (("mo", pc.month), ("d", pc.day), ("h", pc.hour), ("mi", pc.minute), ("s", pc.second)):
        intact = pc.equal(unit(naive), pc.cast(fields[name], pa.int64()))
        naive = pc.if_else(intact, naive, pa.scalar(None, naive.type))
    fraction = pc.utf8_slice_codeunits(pc.utf8_rpad(pc.fill_null(pc.struct_field(parts, "f"), ""), 6, "0"), 0, 6)
    naive = pc.add(naive, pc.cast(pc.cast(fraction, pa.int64()), pa.duration("us")))
    # Offsets: Z, +hh, +hhmm, +hh:mm.
    zone = pc.fill_null(pc.struct_field(parts, "z"), "")
    digits = pc.utf8_rpad(pc.replace_substring_regex(zone, "[^0-9]", ""), 4, "0")
    minutes = pc.add(
        pc.multiply(pc.cast(pc.utf8_slice_codeunits(digits, 0, 2), pa.int64()), 60),
        pc.cast(pc.utf8_slice_codeunits(digits, 2, 4), pa.int64()),
    )
    signed = pc.if_else(pc.starts_with(zone, "-"), pc.negate(minutes), minutes)
    offset = pc.cast(pc.multiply(signed, 60_000_000), pa.duration("us"))
    with_offset = pc.subtract(pc.cast(naive, TS), offset)
    return pc.if_else(pc.not_equal(zone, ""), with_offset, _localise(naive, tz))


def _first_value(values: pa.Array) -> str | None:
    head = values.slice(0, 1024).drop_null()
    if len(head) == 0:
        head = values.drop_null()
    return head[0].as_py() if len(head) else None


def _cast_iso(text: pa.Array, tz: str) -> pa.Array | None:
    """pyarrow's fast ISO 8601 parser, if every value has the form of the first (offset or not); else None."""
    first = _first_value(text)
    if first is None:
        return pa.nulls(len(text), TS)
    try:  # a failing cast is slow, so pick the one the first value says should work
        if _HAS_ZONE.search(first):
            return pc.cast(text, TS)
        return _localise(pc.cast(text, pa.timestamp("us")), tz)
    except pa.ArrowInvalid:
        return None


def _text_timestamps(text: pa.Array, tz: str) -> pa.Array:
    """Trimmed text that may mix ISO 8601 forms and epoch numbers."""
    first = _first_value(text)
    if first is not None and not _EPOCH_VALUE.match(first):
        fast = _cast_iso(text, tz)
        if fast is not None:
            return fast
    epoch = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    iso_text = pc.if_else(epoch, _NULL_STR, text)
    iso = _cast_iso(iso_text, tz)
    if iso is None:
        iso = _iso_by_row(iso_text, tz)
    if not pc.any(epoch).as_py():
        return iso
    return pc.if_else(epoch, _from_epoch(pc.cast(pc.if_else(epoch, text, _NULL_STR), pa.float64())), iso)


def _timestamps(values: pa.Array, tz: str) -> tuple[pa.Array, pa.Array]:
    kind = values.type
    if pa.types.is_timestamp(kind):
        parsed = pc.cast(values, TS) if kind.tz else _localise(pc.cast(values, pa.timestamp("us")), tz)
        return parsed, pc.is_valid(values)
    if pa.types.is_date(kind):
        return _localise(pc.cast(pc.cast(values, pa.timestamp("s")), pa.timestamp("us")), tz), pc.is_valid(values)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _from_epoch(pc.cast(values, pa.float64())), pc.is_valid(values)
    text = _text(values)
    return _text_timestamps(text, tz), pc.is_valid(text)


def parse_timestamps(values: pa.Array, tz: str = "UTC") -> pa.Array:
    """Timestamps as UTC microseconds; null where empty or unreadable.

    Parameters
    ----------
    values : pyarrow.Array
        Strings (ISO 8601 with or without an offset, epoch seconds or
        milliseconds), numbers (epoch), dates or timestamps.
    tz : str
        IANA zone for values without an offset.

    Examples
    --------
    >>> import pyarrow as pa
    >>> parse_timestamps(pa.array(["2026-03-01T20:15:00+08:00"])).to_pylist()[0].isoformat()
    '2026-03-01T12:15:00+00:00'
    """
    return _timestamps(values, tz)[0]


def _numbers(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    if pa.types.is_decimal(values.type):  # via text: pyarrow's direct cast rounds 29.90 to 29.900000000000002
        values = pc.cast(values, pa.string())
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numbers, given = pc.cast(values, pa.float64()), pc.is_valid(values)
    else:
        try:
            numbers, given = pc.cast(values, pa.float64()), pc.is_valid(values)
        except pa.ArrowInvalid:
            text = _text(values)
            given = pc.is_valid(text)
            text = pc.replace_substring_regex(text, r"^[¥￥$]\s*|^(?:rmb|cny)\s*", "")
            text = pc.if_else(pc.match_substring_regex(text, _THOUSANDS), pc.replace_substring(text, ",", ""), text)
            ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
            numbers = pc.cast(pc.if_else(ok, text, _NULL_STR), pa.float64())
    return pc.if_else(pc.is_finite(numbers), numbers, pa.scalar(None, pa.float64())), given


def parse_numbers(values: pa.Array) -> pa.Array:
    """Finite numbers as float64; null where empty or not a number. ``¥1,234.50`` reads as 1234.5."""
    return _numbers(values)[0]


def _booleans(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    if pa.types.is_boolean(values.type):
        return values, pc.is_valid(values)
    text = _text(values)
    lowered = pc.utf8_lower(text)
    truth = pc.is_in(lowered, pa.array(_TRUE))
    known = pc.or_(truth, pc.is_in(lowered, pa.array(_FALSE)))
    return pc.if_else(known, truth, pa.scalar(None, pa.bool_())), pc.is_valid(text)


def parse_booleans(values: pa.Array) -> pa.Array:
    """true/false, 1/0, yes/no in any case; null otherwise."""
    return _booleans(values)[0]


def _status(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    text = _text(values)
    lowered = pc.utf8_lower(text)
    return pc.if_else(pc.is_in(lowered, pa.array(ORDER_STATUSES)), lowered, _NULL_STR), pc.is_valid(text)


def _ids(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    text = _text(values)
    return text, pc.is_valid(text)


def _free_text(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    return text, pc.is_valid(text)


_PARSERS: dict[str, Callable[..., tuple[pa.Array, pa.Array]]] = {
    "id": _ids,
    "text": _free_text,
    "decimal": _numbers,
    "int": _numbers,
    "bool": _booleans,
    "status": _status,
}


@dataclass
class Parsed:
    """A chunk's columns as read (``raw``) and its contract columns parsed by type (``values``).

    ``given`` tells, per parsed column, which rows had a value in the input
    (not empty): a given value that parsed to null is a bad value.
    """

    kind: FileKind
    raw: pa.Table
    values: dict[str, pa.Array]
    given: dict[str, pa.Array]

    @property
    def num_rows(self) -> int:
        return self.raw.num_rows


def parse_chunk(kind: FileKind, raw: pa.Table, tz: str = "UTC") -> Parsed:
    """Parse the contract columns of ``raw`` (names already normalised) by their declared types."""
    values: dict[str, pa.Array] = {}
    given: dict[str, pa.Array] = {}
    for column in kind.columns:
        if column.name not in raw.column_names:
            continue
        data = _array(raw.column(column.name))
        if pa.types.is_null(data.type):
            data = data.cast(pa.string())
        if column.type == "timestamp":
            values[column.name], given[column.name] = _timestamps(data, tz)
        else:
            values[column.name], given[column.name] = _PARSERS[column.type](data)
    return Parsed(kind, raw, values, given)


# -- checks ----------------------------------------------------------------------------

Check = Callable[[Parsed], Iterator[RowErrors]]
CHECKS: dict[str, Check] = {}


def _check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


def _string_columns(parsed: Parsed) -> Iterator[tuple[str, pa.Array]]:
    for name in parsed.raw.column_names:
        data = parsed.raw.column(name)
        if pa.types.is_string(data.type):
            yield name, _array(data)


def _bad(parsed: Parsed, name: str) -> pa.Array:
    """Rows whose value was given but did not parse."""
    return pc.and_(parsed.given[name], pc.is_null(parsed.values[name]))


@_check
def nul_byte(parsed: Parsed) -> Iterator[RowErrors]:
    """A value holds a NUL byte (binary data or a broken export)."""
    for name, data in _string_columns(parsed):
        buffer = data.buffers()[2]
        if buffer is None or b"\x00" not in buffer.to_pybytes():  # memchr over the column first
            continue
        found = RowErrors.where(pc.match_substring(data, "\x00"), name, "nul_byte", f"{name} holds a NUL byte")
        if found:
            yield found


@_check
def field_too_long(parsed: Parsed) -> Iterator[RowErrors]:
    """A value longer than :data:`ingest.schema.FIELD_MAX_BYTES`."""
    for name, data in _string_columns(parsed):
        lengths = pc.binary_length(data)
        if (pc.max(lengths).as_py() or 0) <= FIELD_MAX_BYTES:
            continue
        note = f"{name} is longer than {FIELD_MAX_BYTES} bytes"
        found = RowErrors.where(pc.greater(lengths, FIELD_MAX_BYTES), name, "field_too_long", note)
        if found:
            yield found


@_check
def missing_required(parsed: Parsed) -> Iterator[RowErrors]:
    """A required column is empty."""
    for name in parsed.kind.required:
        if name not in parsed.values:
            mask = np.ones(parsed.num_rows, dtype=bool)  # JSONL lines may lack a key
            found = RowErrors.where(mask, name, "missing_required", f"{name} is required")
        else:
            found = RowErrors.where(pc.invert(parsed.given[name]), name, "missing_required", f"{name} is required")
        if found:
            yield found


def _typed(parsed: Parsed, kind: str) -> Iterator[Column]:
    return (c for c in parsed.kind.columns if c.type == kind and c.name in parsed.values)


@_check
def bad_timestamp(parsed: Parsed) -> Iterator[RowErrors]:
    """A timestamp that is neither ISO 8601 nor epoch seconds or milliseconds."""
    for column in _typed(parsed, "timestamp"):
        note = f"{column.name} is not a timestamp (ISO 8601, or epoch seconds or milliseconds)"
        found = RowErrors.where(_bad(parsed, column.name), column.name, "bad_timestamp", note)
        if found:
            yield found


@_check
def bad_number(parsed: Parsed) -> Iterator[RowErrors]:
    """A number column holds something else."""
    for column in (*_typed(parsed, "decimal"), *_typed(parsed, "int")):
        found = RowErrors.where(_bad(parsed, column.name), column.name, "bad_number", f"{column.name} is not a number")
        if found:
            yield found


@_check
def out_of_range(parsed: Parsed) -> Iterator[RowErrors]:
    """A number outside its column's range, or a fraction where a whole number belongs."""
    for column in (*_typed(parsed, "decimal"), *_typed(parsed, "int")):
        numbers = parsed.values[column.name]
        wrong = pc.less(numbers, column.minimum)
        if column.maximum is not None:
            wrong = pc.or_(wrong, pc.greater(numbers, column.maximum))
        if column.type == "int":  # whole numbers that fit the store's integer columns
            wrong = pc.or_(wrong, pc.or_(pc.not_equal(numbers, pc.floor(numbers)), pc.greater(numbers, _INT_MAX)))
        found = RowErrors.where(wrong, column.name, column.code, column.range_note())
        if found:
            yield found


@_check
def bad_boolean(parsed: Parsed) -> Iterator[RowErrors]:
    """A boolean that is not true/false, 1/0 or yes/no."""
    for column in _typed(parsed, "bool"):
        note = f"{column.name} must be true/false, 1/0 or yes/no"
        found = RowErrors.where(_bad(parsed, column.name), column.name, "bad_boolean", note)
        if found:
            yield found


@_check
def bad_status(parsed: Parsed) -> Iterator[RowErrors]:
    """An order status outside the contract's list."""
    for column in _typed(parsed, "status"):
        note = f"{column.name} must be one of {', '.join(ORDER_STATUSES)}"
        found = RowErrors.where(_bad(parsed, column.name), column.name, "bad_status", note)
        if found:
            yield found


def validate(parsed: Parsed, checks: dict[str, Check] | None = None) -> list[RowErrors]:
    """Run the checks (default: all of :data:`CHECKS`, in order) over a parsed chunk."""
    return [found for check in (checks or CHECKS).values() for found in check(parsed)]
