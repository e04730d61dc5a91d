"""Camouflage-resistant dense blocks: FRAUDAR greedy peeling of a bipartite graph.

Rows are buyers, columns are sellers (or items). A brushing ring is a block
of rows that all order from the same few columns, more densely than honest
buyers do. Fraudsters hide such a block by adding honest-looking orders with
popular shops ("camouflage"). FRAUDAR scores a block by its weighted edges
per node, with weights that depend on the column only: camouflage adds edges
outside the block and leaves its columns' degrees alone, so it cannot lower
the block's score. The weight ``1 / log(deg_j + c)`` makes edges into popular
columns cheap, so the loyal customers of big shops do not outrank rings.

:func:`peel` is the compiled greedy algorithm on integer arrays;
:class:`DenseBlockDetector` maps ids, iterates the peeling to return several
blocks and calibrates each block's strength against degree-preserving random
rewirings of the same graph.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Self

import numba
import numpy as np
import pandas as pd

from graph.detect.base import Candidate
from graph.errors import EmptyGraphError
from graph.model import node_type
from graph.progress import ProgressFn, report

__all__ = ["Block", "DenseBlockDetector", "column_weights", "multiplicity_weights", "peel"]

_EULER_GAMMA = 0.5772156649015329
# Surprise reaches 1 at p = 10**-3; a chance-level block (p ~ 0.5) gets 0.1.
_SURPRISE_DECADES = 3.0
# Random partners tried per repeated pair when rewiring; failures are dropped.
_SWAP_TRIES = 50


@dataclass(frozen=True, eq=False)
class Block:
    """A dense block: a set of rows and columns and how dense it is.

    Attributes
    ----------
    rows, cols : np.ndarray
        Row and column labels of the block, sorted.
    density : float
        Weighted edges inside the block per node, ``f(S) / (|rows| + |cols|)``.
    n_edges : int
        Distinct (row, column) pairs inside the block, among those still in
        the graph when it was peeled (earlier blocks' edges are gone).
    strength : float
        0..1, how unusual the block is next to random graphs with the same
        degrees (see :class:`DenseBlockDetector`).
    """

    rows: np.ndarray
    cols: np.ndarray
    density: float
    n_edges: int
    strength: float = 0.0


# ---------------------------------------------------------------------------
# Compiled core: an indexed 4-ary min-heap with decrease-key over CSR arrays.
# Nodes 0..n_rows-1 are rows, n_rows.. are columns. The heap keeps each key
# next to its node (hk, hv) so comparisons do not chase pointers; a 4-ary
# heap is half as deep as a binary one, which pays off with ~E decrease-keys.
# Ties break on the lower node index, so the peeling order is deterministic.


@numba.njit(cache=True, inline="always")
def _before(k1, v1, k2, v2):
    return k1 < k2 or (k1 == k2 and v1 < v2)


@numba.njit(cache=True, nogil=True)
def _sift_up(hk, hv, pos, i):
    k, v = hk[i], hv[i]
    while i > 0:
        parent = (i - 1) >> 2
        if not _before(k, v, hk[parent], hv[parent]):
            break
        hk[i], hv[i] = hk[parent], hv[parent]
        pos[hv[i]] = i
        i = parent
    hk[i], hv[i] = k, v
    pos[v] = i


@numba.njit(cache=True, nogil=True)
def _sift_down(hk, hv, pos, i, size):
    k, v = hk[i], hv[i]
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        for child in range(first + 1, min(first + 4, size)):
            if _before(hk[child], hv[child], hk[best], hv[best]):
                best = child
        if not _before(hk[best], hv[best], k, v):
            break
        hk[i], hv[i] = hk[best], hv[best]
        pos[hv[i]] = i
        i = best
    hk[i], hv[i] = k, v
    pos[v] = i


@numba.njit(cache=True, nogil=True)
def _peel(src, dst, w, n_rows, n_cols, min_rows):
    n = n_rows + n_cols
    n_edges = src.shape[0]
    # One CSR over all nodes; every edge is stored once from each side.
    indptr = np.zeros(n + 1, np.int64)
    for e in range(n_edges):
        indptr[src[e] + 1] += 1
        indptr[n_rows + dst[e] + 1] += 1
    for v in range(n):
        indptr[v + 1] += indptr[v]
    fill = indptr[:-1].copy()
    nbr = np.empty(2 * n_edges, np.int32)
    nbr_w = np.empty(2 * n_edges, np.float64)
    key = np.zeros(n, np.float64)
    total = 0.0
    for e in range(n_edges):
        r, c, we = src[e], n_rows + dst[e], w[e]
        nbr[fill[r]], nbr_w[fill[r]] = c, we
        nbr[fill[c]], nbr_w[fill[c]] = r, we
        fill[r] += 1
        fill[c] += 1
        key[r] += we
        key[c] += we
        total += we

    # Only nodes with edges take part: an isolated node would dilute |S|.
    hk = np.empty(n, np.float64)
    hv = np.empty(n, np.int32)
    pos = np.full(n, -1, np.int32)  # -1 once a node is peeled (or never had an edge)
    size = 0
    rows_left = 0
    for v in range(n):
        if indptr[v + 1] > indptr[v]:
            hk[size], hv[size], pos[v] = key[v], v, size
            size += 1
            rows_left += v < n_rows
    for i in range((size - 2) // 4, -1, -1):
        _sift_down(hk, hv, pos, i, size)

    n_nodes = size
    cols_left = n_nodes - rows_left
    order = np.empty(n_nodes, np.int32)
    best_g, best_step = -1.0, 0
    if n_nodes > 0 and rows_left >= min_rows:
        best_g = total / n_nodes
    for step in range(n_nodes):
        v = hv[0]
        total -= hk[0]
        size -= 1
        if size > 0:
            hk[0], hv[0] = hk[size], hv[size]
            _sift_down(hk, hv, pos, 0, size)
        pos[v] = -1
        order[step] = v
        if v < n_rows:
            rows_left -= 1
        else:
            cols_left -= 1
        if rows_left == 0 or cols_left == 0:
            break  # no edge is left: every later set has density 0
        for k in range(indptr[v], indptr[v + 1]):
            p = pos[nbr[k]]
            if p >= 0:
                hk[p] -= nbr_w[k]
                _sift_up(hk, hv, pos, p)
        if rows_left >= min_rows:
            g = total / (n_nodes - step - 1)
            if g > best_g:
                best_g, best_step = g, step + 1

    # The block is every node still there after ``best_step`` removals.
    in_block = np.zeros(n, np.bool_)
    for v in range(n):
        in_block[v] = indptr[v + 1] > indptr[v]
    for s in range(best_step):
        in_block[order[s]] = False
    # Recompute the density exactly, free of the rounding the running sum collects.
    f = 0.0
    n_in = 0
    for e in range(n_edges):
        if in_block[src[e]] and in_block[n_rows + dst[e]]:
            f += w[e]
            n_in += 1
    block_size = in_block.sum()
    density = f / block_size if block_size > 0 else 0.0
    return in_block[:n_rows].copy(), in_block[n_rows:].copy(), density, n_in


@numba.njit(cache=True, nogil=True)
def _repeated_pairs(src, dst, n_cols):
    """Edges repeating an earlier (src, dst) pair; ``src`` must be sorted."""
    last_row = np.full(n_cols, -1, np.int64)
    repeat = np.zeros(src.shape[0], np.bool_)
    for e in range(src.shape[0]):
        repeat[e] = last_row[dst[e]] == src[e]
        last_row[dst[e]] = src[e]
    return repeat


@numba.njit(cache=True, inline="always")
def _row_has(dst, row_ptr, r, col, skip):
    for k in range(row_ptr[r], row_ptr[r + 1]):
        if dst[k] == col and k != skip:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _repair_repeats(src, dst, row_ptr, repeats, partners):
    """Swap the column of each repeated edge with a random partner edge's so no pair repeats.

    Both rows keep their degree and both columns theirs. ``partners[i]``
    lists candidate edges for ``repeats[i]``; a repeat that no candidate can
    take is dropped (returned mask False). ``dst`` is modified in place.
    """
    keep = np.ones(src.shape[0], np.bool_)
    for i in range(repeats.shape[0]):
        e = repeats[i]
        r, c = src[e], dst[e]
        if not _row_has(dst, row_ptr, r, c, e):
            continue  # an earlier swap already moved its twin away
        keep[e] = False
        for f in partners[i]:
            r2, c2 = src[f], dst[f]
            if r2 == r or c2 == c or not keep[f]:
                continue
            if _row_has(dst, row_ptr, r, c2, e) or _row_has(dst, row_ptr, r2, c, f):
                continue
            dst[e], dst[f] = c2, c
            keep[e] = True
            break
    return keep


def peel(
    src: np.ndarray,
    dst: np.ndarray,
    n_rows: int,
    n_cols: int,
    weights: np.ndarray | None = None,
    *,
    min_rows: int = 1,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Greedy peeling: the densest block of a weighted bipartite graph.

    Starting from the whole graph, repeatedly remove the row or column whose
    removal loses the least edge weight (its weighted degree among the nodes
    left) and return the set, seen along the way, with the highest average
    weight per node ``g(S) = f(S) / |S|``. Runs in ``O(E log V)`` with an
    indexed min-heap; ties are broken towards rows, then lower indices.

    Parameters
    ----------
    src, dst : np.ndarray
        Integer row index ``0..n_rows-1`` and column index ``0..n_cols-1`` of
        each edge. Duplicated pairs count as separate edges.
    n_rows, n_cols : int
        Number of rows and columns; indices without edges never join a block.
    weights : np.ndarray, optional
        Non-negative weight of each edge (``1`` when omitted). For FRAUDAR's
        column weighting pass ``column_weights(dst, n_cols)[dst]``.
    min_rows : int, default 1
        Only sets with at least this many rows may be returned.

    Returns
    -------
    row_mask : np.ndarray of bool, shape (n_rows,)
    col_mask : np.ndarray of bool, shape (n_cols,)
    best_density : float
        ``g`` of the returned block; ``0.0`` when the graph has no edges.

    Notes
    -----
    With ``min_rows=1`` the set returned has at least half the density of
    the densest block (the approximation guarantee of [1]_ and [2]_).

    References
    ----------
    .. [1] B. Hooi, H. A. Song, A. Beutel, N. Shah, K. Shin, C. Faloutsos,
       "FRAUDAR: Bounding Graph Fraud in the Face of Camouflage", KDD 2016.
    .. [2] M. Charikar, "Greedy approximation algorithms for finding dense
       components in a graph", APPROX 2000.

    Examples
    --------
    >>> rows, cols, g = peel(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 2]), 3, 3)
    >>> rows.nonzero()[0], cols.nonzero()[0], g
    (array([0, 1]), array([0, 1]), 1.0)
    """
    src = np.ascontiguousarray(src, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    if src.shape != dst.shape or src.ndim != 1:
        raise ValueError("src and dst must be 1-d arrays of the same length")
    if weights is None:
        weights = np.ones(src.shape[0], np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.shape != src.shape:
        raise ValueError("weights must have one value per edge")
    if src.size and (src.min() < 0 or src.max() >= n_rows or dst.min() < 0 or dst.max() >= n_cols):
        raise ValueError("edge indices must lie in 0..n_rows-1 and 0..n_cols-1")
    if weights.size and not (weights.min() >= 0):  # also catches NaN
        raise ValueError("edge weights must be non-negative numbers")
    row_mask, col_mask, density, _ = _peel(src, dst, weights, int(n_rows), int(n_cols), int(min_rows))
    return row_mask, col_mask, float(density)


def column_weights(dst: np.ndarray, n_cols: int, c: float = 5.0) -> np.ndarray:
    """FRAUDAR's column weight ``1 / log(deg_j + c)`` for every column.

    ``deg_j`` counts the edges into column ``j``. Popular columns get cheap
    edges, so camouflage orders with popular shops barely raise a block's
    density.

    References
    ----------
    .. [1] B. Hooi et al., "FRAUDAR: Bounding Graph Fraud in the Face of
       Camouflage", KDD 2016, section 4.2.
    """
    deg = np.bincount(dst, minlength=n_cols)
    return 1.0 / np.log(deg + c)


def multiplicity_weights(counts: np.ndarray) -> np.ndarray:
    """Log-damped weight of an edge repeated ``counts`` times: ``log2(1 + counts)``.

    One order weighs 1, ten orders about 3.5: repeat purchases make a pair
    heavier without letting one prolific pair dominate a block.
    """
    return np.log2(1.0 + np.asarray(counts, dtype=np.float64))


def _strength(density: float, null: np.ndarray, lift: float) -> float:
    """How unusual a block is, 0..1: the smaller of its surprise and its effect.

    Surprise, ``-log10(p) / 3``: ``p`` is the upper tail, at ``density``, of
    a Gumbel law (the law of a maximum) fitted by moments to ``null``, the
    densest-block densities of random graphs with the same degrees. Effect,
    ``1 - 1 / lift``: at scale the random graphs agree so closely that a
    block 2 % denser is already "significant" (real data always departs that
    much from a random graph), so the block must also share many times more
    pairs than the degrees of its rows and columns explain.
    """
    mean, sd = float(null.mean()), float(null.std(ddof=1))
    if density <= mean or lift <= 1:
        return 0.0
    if not sd > 0:
        p = 0.0
    else:
        beta = sd * math.sqrt(6.0) / math.pi
        z = (density - (mean - _EULER_GAMMA * beta)) / beta
        p = -math.expm1(-math.exp(-z))
    surprise = 1.0 if p <= 0 else min(1.0, -math.log10(p) / _SURPRISE_DECADES)
    return min(surprise, 1.0 - 1.0 / lift)


class DenseBlockDetector:
    """Find dense, camouflage-resistant row x column blocks by FRAUDAR peeling.

    Rows are buyers; columns are sellers (or items). The detector peels the
    bipartite graph greedily (:func:`peel`) with FRAUDAR's column weights,
    keeps the densest block, takes it out of the graph and peels again,
    ``n_blocks`` times at most.

    Parameters
    ----------
    n_blocks : int, default 10
        Most blocks to return; fewer when the graph runs out of edges.
    column_weight : {"log", None}, default "log"
        ``"log"`` weighs an edge into column ``j`` by ``1 / log(deg_j + c)``;
        ``None`` counts every edge alike (plain densest subgraph: crowds of
        honest buyers around popular shops then outrank rings).
    c : float, default 5.0
        The constant of the column weight (5 in the paper).
    min_rows : int, default 2
        A block needs at least this many rows: one buyer alone is no ring.
    remove : {"edges", "rows"}, default "edges"
        What leaves the graph after a block is found: its edges (as in the
        paper; a buyer may then belong to several blocks, such as a brushing
        team serving several shops) or its rows (blocks disjoint in rows).
    n_null : int, default 8
        Degree-preserving random rewirings used to calibrate ``strength``.
    n_jobs : int, optional
        Threads to use (default: all cores). With two or more, the random
        rewirings are peeled while the blocks are; results do not change.
    seed : int, default 0
        Seed of the rewirings; the only randomness.

    Attributes
    ----------
    blocks_ : list[Block]
        Blocks in the order found, labels as in the input.
    scores_ : pd.Series
        For every row with an edge: the highest ``strength`` of a block it
        belongs to, 0 when in none. 0..1, higher = more suspicious.
    candidates_ : list[Candidate]
        One candidate per block, ``method="dense_block"``; ``sellers`` holds
        the block's columns when ``col`` is the seller key.
    null_densities_ : np.ndarray
        Density of the densest block found in each random rewiring.

    Notes
    -----
    ``strength`` is the smaller of a surprise and an effect. Surprise: the
    block's density against the densest blocks of ``n_null`` random graphs
    with exactly the same row and column degrees (the column ends of the
    edges shuffled, repeated pairs swapped away), fitted with a Gumbel law
    (the law of a maximum); ``min(1, -log10(p) / 3)`` is 1 at
    ``p <= 0.001`` and 0.1 for a block as dense as chance makes half the
    time. Effect: ``1 - 1 / lift``, where the lift is how many times more
    pairs the block's typical column shares with its rows than their degrees
    explain (details["lift"]); at scale even a block 2 % denser than chance
    is "significant", so the block must also be far from chance. Comparing
    later blocks with the null's *densest* block is conservative.

    With ``weight``, repeated pairs add up their counts and an edge weighs
    ``log2(1 + count)`` (:func:`multiplicity_weights`) before the column
    weight; column degree always counts distinct rows, so a ring ordering
    many times from its target shop does not make that shop look popular.

    References
    ----------
    .. [1] B. Hooi, H. A. Song, A. Beutel, N. Shah, K. Shin, C. Faloutsos,
       "FRAUDAR: Bounding Graph Fraud in the Face of Camouflage", KDD 2016.

    Examples
    --------
    >>> edges = pd.DataFrame({"buyer_id": ["a", "a", "b", "b", "c"],
    ...                       "seller_id": ["x", "y", "x", "y", "z"]})
    >>> det = DenseBlockDetector(n_blocks=1, n_null=4).fit(edges)
    >>> det.blocks_[0].rows.tolist(), det.blocks_[0].cols.tolist()
    (['a', 'b'], ['x', 'y'])
    """

    def __init__(
        self,
        n_blocks: int = 10,
        *,
        column_weight: str | None = "log",
        c: float = 5.0,
        min_rows: int = 2,
        remove: str = "edges",
        n_null: int = 8,
        n_jobs: int | None = None,
        seed: int = 0,
    ):
        self.n_blocks = n_blocks
        self.column_weight = column_weight
        self.c = c
        self.min_rows = min_rows
        self.remove = remove
        self.n_null = n_null
        self.n_jobs = n_jobs
        self.seed = seed

    def _check_params(self) -> None:
        if not (isinstance(self.n_blocks, int) and self.n_blocks >= 1):
            raise ValueError(f"n_blocks must be a positive integer, got {self.n_blocks!r}")
        if self.column_weight not in ("log", None):
            raise ValueError(f"column_weight must be 'log' or None, got {self.column_weight!r}")
        if not self.c > 0:
            raise ValueError(f"c must be positive so that log(deg + c) > 0, got {self.c!r}")
        if not (isinstance(self.min_rows, int) and self.min_rows >= 1):
            raise ValueError(f"min_rows must be a positive integer, got {self.min_rows!r}")
        if self.remove not in ("edges", "rows"):
            raise ValueError(f"remove must be 'edges' or 'rows', got {self.remove!r}")
        if not (isinstance(self.n_null, int) and self.n_null >= 2):
            raise ValueError(f"n_null must be an integer >= 2 (a spread needs two samples), got {self.n_null!r}")
        if not (self.n_jobs is None or (isinstance(self.n_jobs, int) and self.n_jobs >= 1)):
            raise ValueError(f"n_jobs must be None or a positive integer, got {self.n_jobs!r}")

    def fit(
        self,
        edges: pd.DataFrame,
        *,
        row: str = "buyer_id",
        col: str = "seller_id",
        weight: str | None = None,
        on_progress: ProgressFn | None = None,
    ) -> Self:
        """Peel ``edges`` into dense blocks and calibrate their strength.

        Parameters
        ----------
        edges : pd.DataFrame
            One line per edge or per order; repeated (row, col) pairs merge.
            Lines with a missing row or column id are ignored.
        row, col : str
            Columns holding row (buyer) and column (seller or item) ids.
        weight : str, optional
            Column of non-negative repeat counts (e.g. orders per pair),
            summed over repeated pairs and log-damped. Without it every
            distinct pair weighs 1.
        on_progress : callable, optional
            ``on_progress(stage, done, total)`` after each peeling.

        Returns
        -------
        self

        Raises
        ------
        EmptyGraphError
            No edge is left once missing ids and zero counts are dropped.
        ValueError
            A parameter or column is invalid.
        """
        self._check_params()
        src, dst, mult, row_labels, col_labels = _edge_arrays(edges, row, col, weight)
        n_rows, n_cols = len(row_labels), len(col_labels)
        null_density = partial(self._null_density, src, dst, mult, n_rows, n_cols)
        seeds = np.random.SeedSequence(self.seed).spawn(self.n_null)
        # The rewirings do not depend on the blocks: spare cores peel them while
        # this thread peels the blocks (the compiled peel releases the GIL).
        spare = min((self.n_jobs or os.cpu_count() or 1) - 1, self.n_null)
        pool = ThreadPoolExecutor(max_workers=spare) if spare > 0 else None
        try:
            pending = [pool.submit(null_density, s) for s in seeds] if pool else []
            found = self._peel_blocks(src, dst, mult, n_rows, n_cols, on_progress)
            self.null_densities_ = self._collect_null(null_density, seeds, pending, on_progress)
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
        self._publish(found, src, dst, row_labels, col_labels, col)
        return self

    def _peel_blocks(self, src, dst, mult, n_rows, n_cols, on_progress) -> list[tuple]:
        """Peel, take the block out of the graph, repeat: ``(rows, cols, density, n_edges)`` per block."""
        found = []
        for k in range(self.n_blocks):
            row_mask, col_mask, density, n_in = _peel(
                src, dst, self._weights(dst, mult, n_cols), n_rows, n_cols, self.min_rows
            )
            if density <= 0 or row_mask.sum() < self.min_rows:
                break
            found.append((row_mask.nonzero()[0], col_mask.nonzero()[0], float(density), int(n_in)))
            inside = row_mask[src] if self.remove == "rows" else row_mask[src] & col_mask[dst]
            src, dst, mult = src[~inside], dst[~inside], mult[~inside]
            report(on_progress, "dense_block: peel", k + 1, self.n_blocks)
            if src.size == 0:
                break
        report(on_progress, "dense_block: peel", self.n_blocks, self.n_blocks)
        return found

    def _collect_null(self, null_density, seeds, pending, on_progress) -> np.ndarray:
        """Null densities: this thread takes unstarted rewirings from the back, the pool works from the front."""
        null = np.full(len(seeds), np.nan)
        done = 0
        for k in reversed(range(len(seeds))):
            if pending and not pending[k].cancel():
                break  # the pool has reached this one, hence all before it
            null[k] = null_density(seeds[k])
            done += 1
            report(on_progress, "dense_block: null", done, len(seeds))
        for k in np.flatnonzero(np.isnan(null)):
            null[k] = pending[k].result()
            done += 1
            report(on_progress, "dense_block: null", done, len(seeds))
        return null

    def _weights(self, dst: np.ndarray, mult: np.ndarray, n_cols: int) -> np.ndarray:
        if self.column_weight is None:
            return mult
        return mult * column_weights(dst, n_cols, self.c)[dst]

    def _null_density(self, src, dst, mult, n_rows, n_cols, seed) -> float:
        """Densest-block density of one random graph with the same row and column degrees.

        The column ends of the edges are shuffled; a pair that comes out
        twice is swapped with random other edges, as a repeated pair would
        be merged and the null would lose edges on popular columns.
        """
        rng = np.random.default_rng(seed)
        dst = rng.permutation(dst)
        repeats = np.flatnonzero(_repeated_pairs(src, dst, n_cols))
        partners = rng.integers(0, src.size, (repeats.size, _SWAP_TRIES))
        row_ptr = np.searchsorted(src, np.arange(n_rows + 1))
        keep = _repair_repeats(src, dst, row_ptr, repeats, partners)
        if not keep.all():
            src, dst, mult = src[keep], dst[keep], mult[keep]
        return float(_peel(src, dst, self._weights(dst, mult, n_cols), n_rows, n_cols, self.min_rows)[2])

    def _publish(self, found, src, dst, row_labels, col_labels, col) -> None:
        """Turn peeled index sets into labelled blocks, candidates and row scores."""
        null = self.null_densities_
        rows_np, cols_np = np.asarray(row_labels), np.asarray(col_labels)
        row_deg = np.bincount(src, minlength=len(rows_np))
        col_deg = np.bincount(dst, minlength=len(cols_np))
        score = np.zeros(len(rows_np))
        self.blocks_, self.candidates_ = [], []
        sellers_are_cols = col == node_type("seller").key
        for k, (ri, ci, density, n_in) in enumerate(found):
            lift, shared = _lift(src, dst, ri, ci, row_deg, col_deg)
            strength = _strength(density, null, lift)
            score[ri] = np.maximum(score[ri], strength)
            block = Block(rows_np[ri], cols_np[ci], density, n_in, strength)
            self.blocks_.append(block)
            cols_str = sorted(str(x) for x in block.cols)
            self.candidates_.append(
                Candidate(
                    method="dense_block",
                    buyers=sorted(str(x) for x in block.rows),
                    sellers=cols_str if sellers_are_cols else [],
                    strength=strength,
                    details={
                        "block": k,
                        "density": density,
                        "null_density": float(null.mean()),
                        "n_edges": n_in,
                        "fill": shared / (len(ri) * len(ci)),
                        "lift": lift,
                        "col": col,
                        "cols": cols_str,
                    },
                )
            )
        has_edge = row_deg > 0
        index = pd.Index(row_labels[has_edge], name=row_labels.name)
        self.scores_ = pd.Series(score[has_edge], index=index, name="dense_block")


def _lift(src, dst, ri, ci, row_deg, col_deg) -> tuple[float, int]:
    """How many times more pairs a block's rows share with its typical column than their degrees explain.

    Per column ``j``: pairs with the block's rows over ``deg_j * D / E``
    (``D`` the rows' total degree), the configuration-model expectation.
    The typical column is the median weighted by pairs, so a popular column
    the block absorbed through camouflage does not drag the lift down.
    Returns the lift and the number of pairs inside the block.
    """
    row_in = np.zeros(row_deg.size, bool)
    row_in[ri] = True
    shared = np.bincount(dst[row_in[src]], minlength=col_deg.size)[ci]
    lift = shared / (col_deg[ci] * (row_deg[ri].sum() / src.size))
    order = np.argsort(lift, kind="stable")
    half = np.searchsorted(np.cumsum(shared[order]), shared.sum() / 2)
    return float(lift[order][half]), int(shared.sum())


def _edge_arrays(edges: pd.DataFrame, row: str, col: str, weight: str | None):
    """Map ids to indices once (sorted, so line order does not matter) and merge repeated pairs.

    Returns ``src`` (sorted), ``dst``, per-pair edge weight before column
    weighting, and the row and column labels.
    """
    missing = [name for name in (row, col, weight) if name is not None and name not in edges.columns]
    if missing:
        raise ValueError(f"edges has no column {missing}; its columns are {list(edges.columns)}")
    src, row_labels = pd.factorize(edges[row], sort=True)
    dst, col_labels = pd.factorize(edges[col], sort=True)
    counts = np.ones(len(edges)) if weight is None else edges[weight].to_numpy(dtype=np.float64, na_value=0.0)
    if not (counts.min(initial=0.0) >= 0):
        raise ValueError(f"column {weight!r} must hold non-negative counts")
    keep = (src >= 0) & (dst >= 0) & (counts > 0)
    pair = src[keep].astype(np.int64) * len(col_labels) + dst[keep]
    uniq, inv = np.unique(pair, return_inverse=True)
    if uniq.size == 0:
        raise EmptyGraphError(
            f"no ({row}, {col}) edge to peel: load orders first, or check that both columns are filled"
        )
    mult = np.ones(uniq.size) if weight is None else multiplicity_weights(np.bincount(inv, weights=counts[keep]))
    row_labels = pd.Index(row_labels, name=row)
    return uniq // len(col_labels), uniq % len(col_labels), mult, row_labels, col_labels
