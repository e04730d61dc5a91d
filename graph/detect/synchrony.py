"""Synchrony in time: accounts that order in lockstep, again and again.

Two signals, both from the orders alone (no identifiers needed, so thin
exports get them too):

**Lockstep groups**, in the spirit of CopyCatch [1]_ and SynchroTrap [2]_.
Orders are bucketed into *events*: one seller in one time window, at a few
documented scales (default one hour and one UTC day). Two buyers co-occur in
an event when both ordered from that seller in that window. An event says
more about its members the fewer they are: it weighs ``1 / log2(1 + k)``
for ``k`` buyers. A pair's similarity is the weighted Jaccard index of their
event sets, so accounts that do little else but act together score near 1
and busy honest customers who meet now and then score low. Pairs count only
when they co-occur in at least ``min_events`` distinct events: a flash-sale
crowd or a company's one-day gift order acts together once, a ring acts
together again and again. Pairs are generated only inside events of at most
``max_bucket`` buyers; bigger events (the Double-11 minute) are crowds that
say little about any pair, and are never expanded into their ``k^2`` pairs.
Leiden (Constant Potts Model, resolution = the least average similarity a
group must have) partitions the graph of repeated pairs.

**Repeat bursts per (buyer, seller)**: one account ordering again and again
from one shop in a short time. Each repeat pair (two or more orders) is
measured by its busiest 24 hours, the median gap between its orders, the share
of the shop's orders it makes and, when items are known, its busiest 24
hours for one item; each measure is ranked against all repeat pairs of the
data set and the ranks are averaged and ranked again. Plain counts are not
ranked: loyal customers order often, even the same item, but spread out.

A buyer's score is the larger of its lockstep score (the mid-rank of its
lockstep evidence among all buyers who met anyone in an event; 0 outside a
group) and how far its strongest repeat pair lies in the upper half of
all repeat pairs (``2 q - 1`` for a mid-rank ``q``, floored at 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd
import pyarrow as pa

from graph.detect.base import Candidate, epoch_seconds, poisson_surprise
from graph.detect.identity import (
    LeidenGraph,
    _frame,
    _index,
    canonical_membership,
    distinct,
    factorize_sorted,
    leiden,
    midrank,
    pairs_within_groups,
)
from graph.errors import ConfigError
from graph.progress import ProgressFn, report

__all__ = ["SynchronyDetector"]

_REQUIRED = ("buyer_id", "seller_id", "created_at")
_MAX_LISTED = 5  # example windows per candidate
_DAY = 86_400


class SynchronyDetector(LeidenGraph):
    """Lockstep buyer groups and repeat bursts towards one shop.

    Higher scores mean more suspicious. Every buyer of the orders gets a
    score in 0..1: the larger of its lockstep score (mid-rank of its
    evidence among all buyers who met anyone in an event) and its strongest
    repeat pair's standing in the upper half of repeat pairs; 0 for buyers
    who show neither.

    Parameters
    ----------
    windows : sequence of str or pd.Timedelta
        Event window lengths (a fixed UTC grid per scale). A pair is judged at
        the scale where it is most similar.
    min_events : int
        Distinct (seller, window) events a pair must share to count.
    max_bucket : int
        Largest event whose pairs are enumerated; bigger events still count
        in their buyers' event totals (the Jaccard denominators).
    max_pairs : int
        Memory guard: when events up to ``max_bucket`` would yield more pairs
        than this at one scale, the largest events are left out until they fit.
    max_chance : float
        A pair counts when co-occurring that often by chance is at most this
        likely (Poisson, the expected count from how often each of the two
        orders from the shops they share; a Chernoff bound, so conservative),
        Bonferroni-corrected for the number of partners either buyer ever met
        in an event, or, without that correction, when a third buyer
        corroborates it (the pair closes a triangle of such pairs).
    resolution : float
        CPM resolution: the least average pair similarity (0..1) that holds a group together.
    min_size : int
        Smallest lockstep group reported as a candidate.
    min_repeat_score : float
        Repeat pairs scoring at least this (a population quantile) become
        candidates, one per seller.
    n_iterations : int
        Leiden iterations; negative runs until the partition is stable.
    seed : int
        Seed of Leiden's random choices.

    Attributes
    ----------
    scores_ : pd.Series
        Float 0..1 indexed by ``buyer_id`` (every buyer of the orders), higher = more suspicious.
    candidates_ : list[Candidate]
        Lockstep groups (``details["signal"] == "lockstep"``) and repeat
        buyers per seller (``"repeat"``), strongest first.
    membership_ : pd.Series
        Lockstep group number per ``buyer_id`` (a partition; 0 is the largest).
    pairs_ : pd.DataFrame
        Buyer pairs sharing ``min_events`` or more events beyond chance: ``buyer_a,
        buyer_b, n_events, expected`` (by chance), ``similarity`` (weighted
        Jaccard of their events, 0..1) and ``window`` (the scale where they are most similar).
    pair_scores_ : pd.DataFrame
        Repeat (buyer, seller) pairs: ``buyer_id, seller_id, n_orders,
        n_active_days, span_days`` (first to last order), ``burstiness`` (most
        orders within any 24 hours), ``median_gap_hours`` (between consecutive
        orders), ``seller_share`` (of the shop's orders), ``n_same_item``
        (most orders of one item), ``item_burstiness`` (most orders of one item
        within 24 hours; both NA without items) and ``score``. Pairs absent
        here (one order) score 0.
    signals_ : pd.DataFrame
        Per ``buyer_id``: ``lockstep`` and ``repeat`` scores; ``scores_`` is their
        maximum. ``repeat`` is ``2 q - 1`` (floored at 0) for the buyer's best
        pair score ``q``: below-median repeat behaviour is not suspicious.
    graph_ : igraph.Graph
        The pair graph (edge attribute ``weight`` = similarity); vertices are ``graph_buyers_``.
    graph_buyers_ : pd.Index
        Buyer id of each vertex of ``graph_``.
    clustering_ : igraph.VertexClustering
        Leiden's result on ``graph_``.
    bucket_caps_ : dict[str, int]
        Largest event expanded into pairs, per window.

    Examples
    --------
    >>> days = pd.to_datetime(["2026-03-01 10:00", "2026-03-03 10:00", "2026-03-05 10:00"], utc=True)
    >>> orders = pd.DataFrame({"buyer_id": ["a"] * 3 + ["b"] * 3, "seller_id": "s",
    ...                        "created_at": days.append(days + pd.Timedelta("5min"))})
    >>> SynchronyDetector(windows=["1h"]).fit(orders).candidates_[0].buyers
    ['a', 'b']

    References
    ----------
    .. [1] Beutel, A., Xu, W., Guruswami, V., Palow, C., Faloutsos, C.
       "CopyCatch: stopping group attacks by spotting lockstep behavior in
       social networks." WWW 2013.
    .. [2] Cao, Q., Yang, X., Yu, J., Palow, C. "Uncovering large groups of
       active malicious accounts in online social networks." CCS 2014.
    .. [3] Traag, V. A., Waltman, L., van Eck, N. J. "From Louvain to Leiden:
       guaranteeing well-connected communities." Scientific Reports 9, 5233 (2019).
    """

    def __init__(
        self,
        *,
        windows: Sequence[str | pd.Timedelta] = ("1h", "1D"),
        min_events: int = 2,
        max_bucket: int = 100,
        max_pairs: int = 50_000_000,
        max_chance: float = 0.01,
        resolution: float = 0.1,
        min_size: int = 2,
        min_repeat_score: float = 0.99,
        n_iterations: int = -1,
        seed: int = 0,
    ):
        self.windows = windows
        self.min_events = min_events
        self.max_bucket = max_bucket
        self.max_pairs = max_pairs
        self.max_chance = max_chance
        self.resolution = resolution
        self.min_size = min_size
        self.min_repeat_score = min_repeat_score
        self.n_iterations = n_iterations
        self.seed = seed

    def fit(
        self, orders: pd.DataFrame | pa.Table | None, *, on_progress: ProgressFn | None = None
    ) -> SynchronyDetector:
        """Find lockstep groups and repeat bursts in the orders.

        Parameters
        ----------
        orders : DataFrame or pyarrow.Table
            The ``orders`` projection: ``buyer_id, seller_id, created_at`` (UTC),
            optionally ``item_id``. Rows missing any of the three are skipped.
        on_progress : callable, optional
            ``on_progress(stage, done, total)``.

        Returns
        -------
        SynchronyDetector
            ``self``, fitted.
        """
        scales = self._scales()
        frame = _frame(orders, "orders", _REQUIRED)
        frame = frame.loc[frame["buyer_id"].notna() & frame["seller_id"].notna() & frame["created_at"].notna()]
        total = len(scales) + 4
        report(on_progress, "synchrony: index", 0, total)

        buyer, buyer_ids = factorize_sorted(frame["buyer_id"])
        seller, seller_ids = factorize_sorted(frame["seller_id"])
        seconds = epoch_seconds(frame["created_at"])
        item = None
        if "item_id" in frame.columns and frame["item_id"].notna().any():
            item_codes = pd.factorize(frame["item_id"])[0]  # -1 for unknown items
            item = np.where(item_codes >= 0, item_codes, -1 - np.arange(len(item_codes)))
        n_buyers = len(buyer_ids)

        found = []
        events = []
        self.bucket_caps_ = {}
        for i, (name, width) in enumerate(scales):
            report(on_progress, f"synchrony: {name} windows", 1 + i, total)
            ev, pairs, cap = self._pairs_at_scale(buyer, seller, seconds // width, n_buyers, len(seller_ids))
            self.bucket_caps_[name] = cap
            events.append(ev)
            found.append(pairs.assign(scale=i))
        report(on_progress, "synchrony: pairs", len(scales) + 1, total)
        pairs = _most_similar(pd.concat(found, ignore_index=True))
        # A pair that beats chance only before correcting for how many partners its
        # buyers met counts when a third buyer corroborates it (a triangle).
        pairs = pairs.loc[pairs["alone"].to_numpy() | _on_triangle(pairs["u"].to_numpy(), pairs["v"].to_numpy())]
        pairs = pairs.reset_index(drop=True)
        report(on_progress, "synchrony: groups", len(scales) + 2, total)

        u, v = pairs["u"].to_numpy(), pairs["v"].to_numpy()
        vertices = distinct(np.concatenate([u, v]))
        self.graph_buyers_ = _index(buyer_ids[vertices])
        edges = (len(vertices), np.searchsorted(vertices, u), np.searchsorted(vertices, v),
                 pairs["similarity"].to_numpy())
        labels = leiden(*edges, objective="CPM", resolution=self.resolution, n_iterations=self.n_iterations,
                        seed=self.seed)
        self._leiden = (*edges, labels)
        community = canonical_membership(n_buyers, vertices, labels)
        self.membership_ = pd.Series(community, index=_index(buyer_ids), name="community")
        self.pairs_ = pd.DataFrame(
            {
                "buyer_a": buyer_ids[u] if len(u) else pd.Index([], dtype="str"),
                "buyer_b": buyer_ids[v] if len(v) else pd.Index([], dtype="str"),
                "n_events": pairs["n_events"].to_numpy(),
                "expected": pairs["expected"].to_numpy(),
                "similarity": pairs["similarity"].to_numpy(),
                "window": [scales[s][0] for s in pairs["scale"].to_numpy()],
            }
        )

        # Lockstep evidence: similarity times repetitions, inside the buyer's group.
        inside = community[u] == community[v]
        evidence = (pairs["similarity"] * pairs["n_events"]).to_numpy()[inside]
        lock_raw = np.bincount(u[inside], weights=evidence, minlength=n_buyers) + np.bincount(
            v[inside], weights=evidence, minlength=n_buyers
        )
        # Ranked among the buyers who met anyone at all: few are in a group that beats chance.
        met = np.logical_or.reduce([ev["met"] for ev in events]) if n_buyers else np.zeros(0, dtype=bool)
        lockstep = np.zeros(n_buyers)
        lockstep[met] = midrank(lock_raw[met])
        lockstep[lock_raw == 0] = 0.0
        candidates = self._lockstep_candidates(buyer_ids, seller_ids, community, lock_raw, events, scales)

        report(on_progress, "synchrony: repeats", len(scales) + 3, total)
        self.pair_scores_, repeat = _repeat_pairs(buyer, seller, seconds, item, buyer_ids, seller_ids)
        candidates += self._repeat_candidates()
        # Only the upper half of repeat behaviour is suspicious: the median repeat pair maps to 0.
        repeat = np.clip(2 * repeat - 1, 0, 1)
        self.signals_ = pd.DataFrame({"lockstep": lockstep, "repeat": repeat}, index=_index(buyer_ids))
        self.scores_ = pd.Series(np.maximum(lockstep, repeat), index=_index(buyer_ids), name="synchrony")
        candidates.sort(key=lambda c: (-c.strength, -len(c.buyers), c.buyers, c.sellers))
        self.candidates_ = candidates
        report(on_progress, "synchrony: done", total, total)
        return self

    def _scales(self) -> list[tuple[str, int]]:
        if self.min_events < 2:
            raise ConfigError(
                f"min_events must be >= 2 (acting together once is what crowds do), got {self.min_events!r}"
            )
        if self.max_bucket < 2:
            raise ConfigError(f"max_bucket must be >= 2, got {self.max_bucket!r}")
        if self.min_size < 2:
            raise ConfigError(f"min_size must be >= 2, got {self.min_size!r}")
        scales = []
        for w in self.windows:
            width = int(pd.Timedelta(w).total_seconds())
            if width < 1:
                raise ConfigError(f"window {w!r} must be at least one second")
            scales.append((str(w), width))
        if not scales:
            raise ConfigError("give at least one window, e.g. windows=('1h', '1D')")
        return scales

    def _pairs_at_scale(
        self, buyer: np.ndarray, seller: np.ndarray, window: np.ndarray, n_buyers: int, n_sellers: int
    ) -> tuple[dict[str, np.ndarray], pd.DataFrame, int]:
        """Events of one scale and the buyer pairs that repeat across them beyond chance."""
        nb = max(n_buyers, 1)
        offset = window.min() if len(window) else 0
        n_windows = int(window.max() - offset + 1) if len(window) else 1
        bucket_keys, bucket = np.unique(seller * n_windows + (window - offset), return_inverse=True)
        bucket_seller = bucket_keys // n_windows
        event = distinct(bucket * nb + buyer)
        ev_bucket, ev_buyer = event // nb, event % nb
        size = np.bincount(ev_bucket, minlength=len(bucket_keys))
        weight = 1.0 / np.log2(1.0 + size)
        total = np.bincount(ev_buyer, weights=weight[ev_bucket], minlength=n_buyers)

        cap = _bucket_cap(size, self.max_bucket, self.max_pairs)
        keep = (size[ev_bucket] >= 2) & (size[ev_bucket] <= cap)
        pair, b, grp = pairs_within_groups(ev_bucket[keep], ev_buyer[keep])
        # ev_buyer is sorted within each bucket, so a < b already. In place: tens of millions of pairs.
        pair *= nb
        pair += b
        del b
        keys, n_events = _counts(pair)
        # Each buyer is tested against every partner it ever met (Bonferroni per buyer),
        # so busy buyers at busy shops need more than a coincidence or two.
        partners = np.bincount(keys // nb, minlength=n_buyers) + np.bincount(keys % nb, minlength=n_buyers)
        # Only pairs that met min_events times are looked at further (a few percent of all).
        repeated = n_events >= self.min_events
        keys, n_events = keys[repeated], n_events[repeated]
        inv = _lookup(keys, pair)
        rows = np.flatnonzero(inv >= 0)
        inv, grp = inv[rows], grp[rows]
        shared = np.bincount(inv, weights=weight[grp], minlength=len(keys))

        # Chance: were u and v independent, each of u's windows at seller s would
        # hold v with probability (v's windows at s) / (windows in the data).
        pair_seller = distinct(inv * max(n_sellers, 1) + bucket_seller[grp])
        p_idx, p_seller = pair_seller // max(n_sellers, 1), pair_seller % max(n_sellers, 1)
        active_keys, active = np.unique(ev_buyer * max(n_sellers, 1) + bucket_seller[ev_bucket], return_counts=True)
        a_u = active[np.searchsorted(active_keys, (keys[p_idx] // nb) * max(n_sellers, 1) + p_seller)]
        a_v = active[np.searchsorted(active_keys, (keys[p_idx] % nb) * max(n_sellers, 1) + p_seller)]
        expected = np.bincount(p_idx, weights=a_u * a_v / n_windows, minlength=len(keys))
        surprise = poisson_surprise(n_events, expected)
        tests = np.maximum(partners[keys // nb], partners[keys % nb])
        alone = surprise >= np.log(tests / self.max_chance)
        beyond_chance = surprise >= -np.log(self.max_chance)

        keys, shared, n_events = keys[beyond_chance], shared[beyond_chance], n_events[beyond_chance]
        u, v = keys // nb, keys % nb
        pairs = pd.DataFrame(
            {
                "u": u,
                "v": v,
                "n_events": n_events,
                "expected": expected[beyond_chance],
                "similarity": shared / (total[u] + total[v] - shared),
                "alone": alone[beyond_chance],
            }
        )
        events = {
            "buyer": ev_buyer,
            "bucket": ev_bucket,
            "seller": bucket_seller,
            "start": bucket_keys % n_windows + offset,
            "met": partners > 0,
        }
        return events, pairs, int(cap)

    def _lockstep_candidates(self, buyer_ids, seller_ids, community, raw, events, scales) -> list[Candidate]:
        n_buyers = len(buyer_ids)
        size = np.bincount(community) if n_buyers else np.zeros(0, dtype=np.int64)
        comm_raw = np.bincount(community, weights=raw, minlength=len(size)) / np.maximum(size, 1)
        groups = np.flatnonzero((size >= self.min_size) & (comm_raw > 0))
        strength = np.zeros(len(size))
        strength[groups] = midrank(comm_raw[groups])
        is_group = np.zeros(len(size), dtype=bool)
        is_group[groups] = True

        # Co-events per group: events where two or more members ordered together,
        # described at the finest scale that shows the group repeating.
        described: dict[int, dict[str, Any]] = {}
        for (name, width), ev in zip(scales, events, strict=True):
            comm = community[ev["buyer"]]
            sel = is_group[comm]
            n_buckets = max(len(ev["seller"]), 1)
            keys, n_members = _counts(comm[sel].astype(np.int64) * n_buckets + ev["bucket"][sel])
            keys = keys[n_members >= 2]
            co_comm, co_bucket = keys // n_buckets, keys % n_buckets  # by community, then bucket
            first = np.flatnonzero(np.r_[True, co_comm[1:] != co_comm[:-1]]) if len(keys) else np.zeros(0, np.int64)
            bounds = np.r_[first, len(keys)].tolist()
            co_seller, co_start = ev["seller"][co_bucket].tolist(), ev["start"][co_bucket].tolist()
            for g, lo, hi in zip(co_comm[first].tolist(), bounds[:-1], bounds[1:], strict=True):
                if g in described or hi - lo < self.min_events:
                    continue
                seller_events = Counter(co_seller[lo:hi])
                window_starts = sorted(co_start[lo:hi])
                described[g] = {
                    "window": name,
                    "n_co_events": hi - lo,
                    "n_windows": len(set(window_starts)),
                    "seller_events": {str(seller_ids[s]): c for s, c in sorted(seller_events.items())},
                    "example_windows": [
                        pd.Timestamp(s * width, unit="s", tz="UTC").isoformat() for s in window_starts[:_MAX_LISTED]
                    ],
                }

        order = np.argsort(community, kind="stable")
        member_starts = np.searchsorted(community[order], groups)
        candidates = []
        for g, start in zip(groups, member_starts, strict=True):
            info = described.get(int(g), {})
            candidates.append(
                Candidate(
                    method="synchrony",
                    buyers=sorted(str(b) for b in buyer_ids[order[start : start + size[g]]]),
                    sellers=sorted(info.get("seller_events", {})),
                    strength=float(strength[g]),
                    details={"signal": "lockstep", "community": int(g), "n_buyers": int(size[g]),
                             "evidence": round(float(comm_raw[g]), 6), **info},
                )
            )
        return candidates

    def _repeat_candidates(self) -> list[Candidate]:
        top = self.pair_scores_.loc[self.pair_scores_["score"] >= self.min_repeat_score]
        candidates = []
        for seller, rows in top.groupby("seller_id", sort=True):
            rows = rows.sort_values("buyer_id")
            candidates.append(
                Candidate(
                    method="synchrony",
                    buyers=[str(b) for b in rows["buyer_id"]],
                    sellers=[str(seller)],
                    strength=float(rows["score"].max()),
                    details={
                        "signal": "repeat",
                        "n_orders": int(rows["n_orders"].sum()),
                        "n_active_days": int(rows["n_active_days"].max()),
                        "burstiness": int(rows["burstiness"].max()),
                        "median_gap_hours": round(float(rows["median_gap_hours"].min()), 6),
                        "seller_share": round(float(rows["seller_share"].sum()), 6),
                    },
                )
            )
        return candidates


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of an integer array and how often each occurs.

    A plain sort: ``np.unique(..., return_counts=True)`` argsorts, several times slower.
    """
    values = np.sort(values)
    first = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=first[1:])
    keys, n = values[first], len(values)
    del values  # most of 50M day-scale pairs are distinct: every array here is gigabytes
    start = np.flatnonzero(first)
    counts = np.empty(len(start), np.int64)
    np.subtract(start[1:], start[:-1], out=counts[:-1])
    counts[-1:] = n - start[-1:]
    return keys, counts


def _lookup(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in the distinct integer ``keys`` (-1 when absent).

    A hash table over the keys: they are few (the repeated pairs) and stay in
    cache, while binary-searching millions of values in them does not.
    """
    size = 1 << max(4, int(2 * len(keys)).bit_length())
    return _probe(np.ascontiguousarray(keys, dtype=np.int64), np.ascontiguousarray(values, dtype=np.int64), size)


@numba.njit(cache=True, nogil=True)
def _probe(keys, values, size):
    mask = size - 1
    slot_key = np.empty(size, np.int64)
    slot_at = np.full(size, -1, np.int64)
    for i in range(keys.shape[0]):
        h = (np.uint64(keys[i]) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
        j = np.int64(h) & mask
        while slot_at[j] >= 0:
            j = (j + 1) & mask
        slot_key[j] = keys[i]
        slot_at[j] = i
    out = np.full(values.shape[0], -1, np.int64)
    for i in range(values.shape[0]):
        h = (np.uint64(values[i]) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
        j = np.int64(h) & mask
        while slot_at[j] >= 0:
            if slot_key[j] == values[i]:
                out[i] = slot_at[j]
                break
            j = (j + 1) & mask
    return out


def _bucket_cap(size: np.ndarray, max_bucket: int, max_pairs: int) -> int:
    """``max_bucket``, lowered until the events it admits yield at most ``max_pairs`` pairs."""
    counts = np.bincount(np.minimum(size, max_bucket + 1), minlength=max_bucket + 2)[: max_bucket + 1]
    k = np.arange(len(counts))
    cumulative = np.cumsum(counts * k * (k - 1) // 2)
    fits = np.flatnonzero(cumulative <= max_pairs)
    return int(min(max_bucket, fits.max())) if len(fits) else 1


def _most_similar(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per buyer pair: the scale where it is most similar (ties: the finer scale).

    ``alone`` is true when the pair stood out on its own at any scale.
    """
    if pairs.empty:
        return pairs.reset_index(drop=True)
    alone = pairs.groupby(["u", "v"], sort=False)["alone"].transform("any")
    pairs = pairs.assign(alone=alone)
    pairs = pairs.sort_values(["u", "v", "similarity", "scale"], ascending=[True, True, False, True])
    return pairs.drop_duplicates(["u", "v"], keep="first").reset_index(drop=True)


def _on_triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which edges ``(u, v)`` (``u < v``, distinct) close at least one triangle."""
    if len(u) < 3:
        return np.zeros(len(u), dtype=bool)
    # Sorted adjacency lists (CSR): the neighbours of x are adjacency[start[x]:start[x + 1]].
    # Each edge walks its ends' lists only until their first common neighbour, while
    # listing every triangle (and matching its sides back) grows with the cube of a dense group.
    n = int(max(u.max(), v.max())) + 1
    directed = np.sort(np.concatenate([u * n + v, v * n + u]))
    start = np.searchsorted(directed, np.arange(n + 1) * n)
    return _share_a_neighbour(start, directed % n, u, v)


@numba.njit(cache=True, nogil=True)
def _share_a_neighbour(start, adjacency, u, v):
    """Per edge ``(u[e], v[e])``: do the sorted adjacency lists of its ends meet?"""
    out = np.zeros(len(u), dtype=np.bool_)
    for e in range(len(u)):
        i, i_end = start[u[e]], start[u[e] + 1]
        j, j_end = start[v[e]], start[v[e] + 1]
        while i < i_end and j < j_end:
            if adjacency[i] == adjacency[j]:
                out[e] = True
                break
            if adjacency[i] < adjacency[j]:
                i += 1
            else:
                j += 1
    return out


def _repeat_pairs(buyer, seller, seconds, item, buyer_ids, seller_ids) -> tuple[pd.DataFrame, np.ndarray]:
    """Per (buyer, seller) repeat measures and scores; and each buyer's best score.

    Loyal customers order again and again too, even the same item, but spread
    out: counts are not ranked, only how tightly orders come (busiest 24 h,
    median gap between orders, busiest 24 h of one item) and how much of the
    shop they make.
    """
    n_sellers = max(len(seller_ids), 1)
    keys, pair, n_orders = np.unique(buyer * n_sellers + seller, return_inverse=True, return_counts=True)
    n_days = _distinct_per_group(pair, seconds // _DAY, len(keys))
    first = np.full(len(keys), np.iinfo(np.int64).max)
    last = np.full(len(keys), np.iinfo(np.int64).min)
    np.minimum.at(first, pair, seconds)
    np.maximum.at(last, pair, seconds)
    seller_orders = np.bincount(seller, minlength=n_sellers)
    repeat = np.flatnonzero(n_orders >= 2)
    pair_buyer, pair_seller = keys[repeat] // n_sellers, keys[repeat] % n_sellers
    span_days = (last[repeat] - first[repeat]) / _DAY
    measures = {
        "n_orders": n_orders[repeat].astype(np.int64),
        "n_active_days": n_days[repeat],
        "span_days": np.round(span_days, 6),
        "burstiness": _peak_per_group(pair, seconds, _DAY, len(keys))[repeat],
        "median_gap_hours": _median_gap(pair, seconds, len(keys))[repeat] / 3600,
        "seller_share": n_orders[repeat] / seller_orders[pair_seller],
        "n_same_item": pd.array([pd.NA] * len(repeat), dtype="Int64"),
    }
    ranked = [measures["burstiness"], -measures["median_gap_hours"], measures["seller_share"]]
    if item is not None:
        measures["n_same_item"] = pd.array(_most_repeated_per_group(pair, item, len(keys))[repeat], dtype="Int64")
        # The same item again within a day, not over months (that is a loyal customer).
        item = item - item.min()
        pair_item, which = np.unique(pair * (int(item.max()) + 1) + item, return_inverse=True)
        item_peak = _peak_per_group(which, seconds, _DAY, len(pair_item))
        peak = np.zeros(len(keys), dtype=np.int64)
        np.maximum.at(peak, pair_item // (int(item.max()) + 1), item_peak)
        measures["item_burstiness"] = pd.array(peak[repeat], dtype="Int64")
        ranked.append(peak[repeat])
    else:
        measures["item_burstiness"] = pd.array([pd.NA] * len(repeat), dtype="Int64")
    score = midrank(np.mean([midrank(m) for m in ranked], axis=0)) if len(repeat) else np.zeros(0)
    table = pd.DataFrame(
        {"buyer_id": buyer_ids[pair_buyer], "seller_id": seller_ids[pair_seller], **measures, "score": score}
    )
    table = table.sort_values(["score", "buyer_id", "seller_id"], ascending=[False, True, True], ignore_index=True)
    best = np.zeros(len(buyer_ids))
    np.maximum.at(best, pair_buyer, score)
    return table, best


def _median_gap(group: np.ndarray, seconds: np.ndarray, n_groups: int) -> np.ndarray:
    """Median time between consecutive events of each group (seconds; 0 for fewer than two)."""
    order = np.lexsort((seconds, group))
    g, t = group[order], seconds[order]
    same = g[1:] == g[:-1]
    gap_group, gap = g[1:][same], np.diff(t)[same].astype(float)
    order = np.lexsort((gap, gap_group))
    gap_group, gap = gap_group[order], gap[order]
    count = np.bincount(gap_group, minlength=n_groups)
    start = np.cumsum(count) - count
    median = np.zeros(n_groups)
    has = count > 0
    lo, hi = start[has] + (count[has] - 1) // 2, start[has] + count[has] // 2
    median[has] = (gap[lo] + gap[hi]) / 2
    return median


def _peak_per_group(group: np.ndarray, seconds: np.ndarray, width: int, n_groups: int) -> np.ndarray:
    """Most events of one group within any ``width`` seconds (a sliding window)."""
    if len(seconds) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    t = seconds - seconds.min()
    stride = int(t.max()) + width + 1
    key = np.sort(group * stride + t)
    within = np.searchsorted(key, key + width, side="left") - np.arange(len(key))
    peak = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(peak, key // stride, within)
    return peak


def _distinct_per_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``value`` per group ``0..n_groups-1``."""
    if len(value) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    value = value - value.min()
    span = int(value.max()) + 1
    return np.bincount(distinct(group * span + value) // span, minlength=n_groups)


def _most_repeated_per_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """Highest count of one ``value`` within each group ``0..n_groups-1``."""
    value = value - value.min()
    span = int(value.max()) + 1
    keys, counts = np.unique(group * span + value, return_counts=True)
    most = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(most, keys // span, counts)
    return most
