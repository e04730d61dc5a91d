"""CSV files that are safe to open in a spreadsheet and identical run after run.

Every CSV RingWatch writes goes through :func:`write_csv`. It

- neutralises text cells a spreadsheet would run as a formula (OWASP "CSV
  injection"): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading apostrophe, so ``=HYPERLINK("http://x")``
  shows as text instead of a live link;
- formats values one fixed way (floats with a fixed number of decimals,
  timestamps as ISO 8601 UTC ``2026-03-01T12:00:00Z``, empty cell for
  unknown), so the same table always gives the same bytes;
- writes UTF-8 without a byte-order mark, RFC 4180 quoting and CRLF line
  ends, through a temporary file that replaces the target only when
  complete.

Only text cells are neutralised: numbers RingWatch formats itself cannot
carry a formula, and ``-0.5`` must stay a number.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FORMULA_PREFIXES", "neutralise", "format_float", "format_timestamp", "write_csv"]

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 65_536


def neutralise(value: str) -> str:
    """Return ``value`` so that no spreadsheet evaluates it as a formula.

    Parameters
    ----------
    value : str
        A text cell.

    Returns
    -------
    str
        ``value`` with a leading apostrophe when it starts with one of
        :data:`FORMULA_PREFIXES`, otherwise unchanged.

    Example
    -------
    >>> neutralise('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def format_float(value: float | None, digits: int = 6) -> str:
    """A float with ``digits`` decimals; empty for null or NaN; never ``-0.000000``."""
    if value is None or math.isnan(value):
        return ""
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def format_timestamp(value: datetime | None) -> str:
    """ISO 8601 UTC to the second, e.g. ``2026-03-01T12:00:00Z`` (naive values are taken as UTC)."""
    if value is None or value is pd.NaT:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _other(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


_FORMULA_START = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"


def _cells(column: pa.Array, digits: int) -> list[str]:
    """One column of a batch as cell texts, vectorised where Arrow or NumPy can do the work."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        text = column.cast(pa.string())
        risky = pc.fill_null(pc.match_substring_regex(text, _FORMULA_START), False)
        return pc.fill_null(pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text), "").to_pylist()
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        cells = [f"{v:.{digits}f}" for v in values.tolist()]
        # Rare cases fixed after the fast pass: unknown (null, NaN) and "-0.000000".
        for i in np.flatnonzero(np.isnan(values) | ((values < 0) & (np.round(values, digits) == 0))):
            cells[i] = format_float(float(values[i]), digits)
        return cells
    if pa.types.is_integer(kind):
        return pc.fill_null(column.cast(pa.string()), "").to_pylist()
    if pa.types.is_boolean(kind):
        return ["" if v is None else ("true" if v else "false") for v in column.to_pylist()]
    if pa.types.is_timestamp(kind):
        return [format_timestamp(v) for v in column.to_pylist()]
    return [_other(v) for v in column.to_pylist()]


def write_csv(data: pa.Table | pd.DataFrame, path: str | os.PathLike[str], *, float_digits: int = 6) -> Path:
    """Write a table as a spreadsheet-safe, byte-stable CSV file.

    Parameters
    ----------
    data : pyarrow.Table or pandas.DataFrame
        The rows, in the order to write; column names become the header.
    path : path-like
        Target file. Its folder must exist. It is replaced atomically.
    float_digits : int, default 6
        Decimals of every float column.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> import pyarrow as pa
    >>> write_csv(pa.table({"name": ["=1+1"], "score": [0.5]}), "out.csv")  # doctest: +SKIP
    # out.csv: name,score / '=1+1,0.500000
    """
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            # CRLF as RFC 4180 says; it also makes the writer quote a cell holding a lone CR.
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow([neutralise(name) for name in table.column_names])
            for batch in table.to_batches(max_chunksize=_CHUNK_ROWS):
                columns = [_cells(col, float_digits) for col in batch.columns]
                writer.writerows(zip(*columns, strict=True))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target
