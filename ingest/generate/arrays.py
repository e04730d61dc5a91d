"""Small vectorised helpers over numpy and pyarrow arrays: ids, texts, draws, groups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["as_text", "by_kind", "bytes_text", "decoded", "distinct_ints", "distinct_rows", "groups_of", "hex_bytes",
           "hex_text", "join", "lognormal", "mix", "pick_column", "random_u64", "ranks", "scatter", "take"]


_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def hex_bytes(values: np.ndarray, nbytes: int = 8) -> np.ndarray:
    """Lower-case hex of the low ``nbytes`` bytes of uint64 values, zero-padded, as fixed-width bytes."""
    b = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nbytes :]
    return np.ascontiguousarray(_HEX[b]).view(f"S{2 * nbytes}").ravel()


def hex_text(values: np.ndarray, nbytes: int = 8) -> pa.Array:
    return bytes_text(hex_bytes(values, nbytes))


def bytes_text(values: np.ndarray) -> pa.Array:
    """Arrow strings from fixed-width ASCII bytes (ids are kept so: indexing them is cheap)."""
    return pa.array(values, pa.binary()).cast(pa.string())


def by_kind(kind: np.ndarray, texts: dict[int, pa.Array]) -> pa.Array:
    """Rows of each kind from that kind's texts (given in row order for the rows of the kind)."""
    pos = np.empty(len(kind), np.int64)
    offset = 0
    for k, text in texts.items():
        rows = np.flatnonzero(kind == k)
        pos[rows] = offset + np.arange(len(rows))
        offset += len(rows)
    return pa.concat_arrays([t.cast(pa.string()) for t in texts.values()]).take(pa.array(pos))


def groups_of(keys: np.ndarray, members: np.ndarray, min_size: int) -> list[tuple[int, np.ndarray]]:
    """(key, members) for each key with at least ``min_size`` members."""
    order = np.argsort(keys, kind="stable")
    keys, members = keys[order], members[order]
    uniq, start, count = np.unique(keys, return_index=True, return_counts=True)
    return [(int(k), members[a : a + c]) for k, a, c in zip(uniq, start, count) if c >= min_size]


def distinct_rows(*cols: np.ndarray) -> int:
    """Number of distinct rows of equally long integer columns."""
    if not len(cols[0]):
        return 0
    order = np.lexsort(cols)
    change = np.zeros(len(order) - 1, bool)
    for c in cols:
        change |= np.diff(c[order]) != 0
    return int(change.sum()) + 1


def decoded(values: np.ndarray) -> list[str]:
    return [v.decode() for v in values]


def as_text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def take(vocab: pa.Array, idx: np.ndarray) -> pa.Array:
    return vocab.take(pa.array(idx))


def scatter(valid: np.ndarray, values: pa.Array) -> pa.Array:
    """Spread ``values`` (one per valid row) over all rows, null elsewhere."""
    pos = np.cumsum(valid) - 1
    return values.take(pa.array(pos, mask=~valid))


def distinct_ints(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """n distinct random integers in [lo, hi), in random order."""
    return lo + rng.choice(hi - lo, n, replace=False).astype(np.int64)


def random_u64(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, n, dtype=np.uint64)


def mix(a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """A stable pseudo-random uint64 per (a, b) pair (splitmix64)."""
    z = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64) + np.uint64(salt)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def pick_column(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn with the row's (unnormalised) weights."""
    c = np.cumsum(weights, axis=1, dtype=np.float32)
    u = rng.random(len(weights), dtype=np.float32) * c[:, -1]
    return (u[:, None] >= c[:, :-1]).sum(axis=1)


def ranks(counts: np.ndarray) -> np.ndarray:
    """0..k-1 for each count k, concatenated: the position of each row within its group."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))
