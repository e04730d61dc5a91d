"""Identity linkage: buyers bound by shared identifiers, grouped by Leiden.

Two accounts that share a payment instrument, a device or a waybill are
likely run by one hand; two that share a parcel-station address or a carrier
NAT IP are not. Every shared identifier links the buyers who use it with a
weight that says how *specific* it is: a per-kind prior (data, see
:data:`KIND_PRIORS`) divided by the number of other buyers sharing it, the
resource-allocation weight of link prediction. An identifier so widely shared
that this weight falls below ``min_weight`` links no one: its clique is never
built, so a parcel station with 300 buyers or a NAT IP with 2,000 adds no
edge at all (it is still reported as context of the groups it touches).

Leiden then partitions the weighted buyer graph. The default objective is
the Constant Potts Model with ``resolution = min_weight``: a community is a
set of buyers whose average pairwise link weight exceeds the resolution, so
the result does not depend on how large the rest of the data set is.
Modularity (also available) has a resolution limit: on a graph of millions
of buyers it glues every small connected group, rings together with the
household they happen to share an address with.

Strength and scores are calibrated against this data set's own population
(mid-ranks), so the same value means the same standing on any data set.
Identity alone cannot tell a family sharing one laptop from two sock
puppets; it reports how specific the shared identifiers are and leaves the
verdict to the ring scorer, which adds behaviour.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import igraph
import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.detect.base import Candidate
from graph.errors import ConfigError, StoreError
from graph.model import IDENTIFIER_KINDS
from graph.progress import ProgressFn, report

__all__ = ["IdentityLinker", "KIND_PRIORS", "UNKNOWN_KIND_PRIOR"]

# How much a shared identifier of each kind says that two accounts are one
# controller, before accounting for how many buyers share it. One payment
# instrument or one parcel's waybill belongs to one person; devices and
# phones are shared in families (and masked phones collide); addresses are
# shared by households and offices; IPs and /24 networks by whole buildings
# and carriers.
KIND_PRIORS: Mapping[str, float] = MappingProxyType(
    {
        "payment": 1.0,
        "waybill": 1.0,
        "device": 0.9,
        "phone": 0.7,
        "address": 0.5,
        "ip": 0.3,
        "ipnet": 0.03,
    }
)
UNKNOWN_KIND_PRIOR = 0.1
"""Prior of identifier kinds not in :data:`KIND_PRIORS` (extra columns of other exports)."""

_REQUIRED = ("buyer_id", "kind", "key")
_MAX_LISTED = 20  # identifiers listed per candidate in details


class LeidenGraph:
    """``graph_`` and ``clustering_`` of a detector that ran :func:`leiden`, built when read.

    The fit needs only the labels; building the igraph objects (for notebooks and tests) in
    every fit cost identity linkage ~16 s at 10M orders.
    """

    _leiden: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # n, u, v, w, labels

    @property
    def graph_(self) -> igraph.Graph:
        n, u, v, w, _ = self._leiden
        return weighted_graph(n, u, v, w)

    @property
    def clustering_(self) -> igraph.VertexClustering:
        return igraph.VertexClustering(self.graph_, self._leiden[4].tolist())


class IdentityLinker(LeidenGraph):
    """Communities of buyers bound by specific shared identifiers.

    Higher scores mean more suspicious: a buyer's score is the mid-rank, among
    buyers bound to anyone, of the specificity of the identifiers it shares
    with its community. Buyers bound to no one score 0.

    Parameters
    ----------
    min_weight : float
        Smallest per-pair link weight worth building. An identifier of kind
        ``K`` shared by ``k`` buyers links them with weight
        ``prior[K] / (k - 1)``; it links no one when that is not above
        ``min_weight`` (a device is dropped above 45 buyers, an address above
        25, an IP above 15, a /24 network above 2 with the defaults). Also the CPM
        resolution unless ``resolution`` is given.
    priors : mapping, optional
        Per-kind priors overriding :data:`KIND_PRIORS`.
    objective : {"CPM", "modularity"}
        Leiden objective.
    resolution : float, optional
        Leiden resolution; default ``min_weight`` for CPM, 1.0 for modularity.
    min_size : int
        Smallest community reported as a candidate.
    n_iterations : int
        Leiden iterations; negative runs until the partition is stable. The
        default 2 is a fixed count (deterministic for a seed): at 1M orders it
        cuts the fit about 3.5-fold and measured no worse on the quality and
        holdout benchmarks than running until stable (see
        docs/detection-identity-synchrony.md).
    seed : int
        Seed of Leiden's random choices; the same seed gives the same membership.

    Attributes
    ----------
    scores_ : pd.Series
        Float 0..1 indexed by ``buyer_id`` (every input buyer), higher = more suspicious.
    candidates_ : list[Candidate]
        Communities of at least ``min_size`` buyers, strongest first.
    membership_ : pd.Series
        Community number per ``buyer_id`` (a partition of all input buyers;
        0 is the largest community, unbound buyers are singletons).
    graph_ : igraph.Graph
        The weighted buyer graph (edge attribute ``weight``) over ``graph_buyers_``.
    graph_buyers_ : pd.Index
        Buyer id of each vertex of ``graph_``.
    clustering_ : igraph.VertexClustering
        Leiden's result on ``graph_`` (``membership``, ``sizes()``, ``subgraph(i)``).
    identifiers_ : pd.DataFrame
        Every identifier shared by two or more buyers: ``kind, key, n_buyers,
        weight`` (per pair) and ``linked`` (False when too common to link).
    cutoffs_ : dict[str, int]
        Largest number of buyers an identifier of each kind seen may have and still link them.

    Examples
    --------
    >>> rows = pd.DataFrame({"buyer_id": ["a", "b", "c"], "kind": "device",
    ...                      "key": ["d1", "d1", "d2"]})
    >>> linker = IdentityLinker(seed=1).fit(rows)
    >>> [c.buyers for c in linker.candidates_]
    [['a', 'b']]

    References
    ----------
    .. [1] Traag, V. A., Waltman, L., van Eck, N. J. "From Louvain to Leiden:
       guaranteeing well-connected communities." Scientific Reports 9, 5233 (2019).
    .. [2] Zhou, T., Lü, L., Zhang, Y.-C. "Predicting missing links via local
       information." European Physical Journal B 71, 623-630 (2009).
    .. [3] Fortunato, S., Barthélemy, M. "Resolution limit in community
       detection." PNAS 104(1), 36-41 (2007).
    """

    def __init__(
        self,
        *,
        min_weight: float = 0.02,
        priors: Mapping[str, float] | None = None,
        objective: str = "CPM",
        resolution: float | None = None,
        min_size: int = 2,
        n_iterations: int = 2,
        seed: int = 0,
    ):
        self.min_weight = min_weight
        self.priors = priors
        self.objective = objective
        self.resolution = resolution
        self.min_size = min_size
        self.n_iterations = n_iterations
        self.seed = seed

    def fit(
        self,
        buyer_identifiers: pd.DataFrame | pa.Table | None,
        *,
        buyers: Iterable[str] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> IdentityLinker:
        """Link buyers through shared identifiers and find their communities.

        Parameters
        ----------
        buyer_identifiers : DataFrame or pyarrow.Table
            The ``buyer_identifiers`` projection: ``buyer_id, kind, key`` (other
            columns ignored). Any kind may be missing; rows with a null id or key are skipped.
        buyers : iterable of str, optional
            Further buyer ids to score (e.g. all buyers of the orders); they score 0
            unless they share an identifier.
        on_progress : callable, optional
            ``on_progress(stage, done, total)``.

        Returns
        -------
        IdentityLinker
            ``self``, fitted.
        """
        self._check_params()
        priors = {**KIND_PRIORS, **(self.priors or {})}
        table = _identifier_table(buyer_identifiers)
        report(on_progress, "identity: index", 0, 4)

        # Arrow kernels, not pandas: at 10M orders the projection has 35M rows.
        ids = table["buyer_id"]
        extra = pa.array([b for b in buyers or () if b is not None], ids.type)
        codes, uniques = encode(pa.chunked_array([*ids.chunks, extra], ids.type), sort=True)
        buyer_ids = pd.Index(uniques)
        buyer = codes[: table.num_rows]
        n_buyers = len(buyer_ids)

        kind_codes, kind_uniques = encode(table["kind"], sort=True)
        kinds = pd.Index(kind_uniques)
        key_codes, keys = encode(table["key"])
        # One row per (identifier, buyer), sorted by identifier; only identifiers of two or more buyers.
        inc_ident, inc_buyer, ident_kind, ident_keys = _shared_identifiers(kind_codes, key_codes, keys, buyer, n_buyers)
        del table, ids, codes, buyer, kind_codes, key_codes, keys  # gigabytes at 10M orders, before Leiden's own
        n_shared = np.bincount(inc_ident, minlength=len(ident_kind))

        kind_prior = np.array([priors.get(k, UNKNOWN_KIND_PRIOR) for k in kinds], dtype=float)
        prior = kind_prior[ident_kind]
        weight = np.divide(prior, n_shared - 1, out=np.zeros(len(prior)), where=n_shared > 1)
        linked = weight > self.min_weight
        self.cutoffs_ = {str(k): _cutoff(p, self.min_weight) for k, p in zip(kinds, kind_prior, strict=True)}
        report(on_progress, "identity: links", 1, 4)

        # Cliques of the linkable identifiers only: O(k * cutoff) edges each, never O(k^2) of a big one.
        keep = linked[inc_ident]
        src, dst, grp = pairs_within_groups(inc_ident[keep], inc_buyer[keep])
        edge_u, edge_v, edge_w = merge_edges(src, dst, weight[grp], n_buyers)
        del keep, src, dst, grp
        vertices = distinct(np.concatenate([edge_u, edge_v]))
        vertex_of = np.empty(n_buyers, dtype=np.int64)
        vertex_of[vertices] = np.arange(len(vertices))
        edge_u, edge_v = vertex_of[edge_u], vertex_of[edge_v]
        del vertex_of
        self.graph_buyers_ = buyer_ids[vertices]
        resolution = self.resolution
        if resolution is None:
            resolution = self.min_weight if self.objective == "CPM" else 1.0
        report(on_progress, "identity: leiden", 2, 4)
        labels = leiden(
            len(vertices),
            edge_u,
            edge_v,
            edge_w,
            objective=self.objective,
            resolution=resolution,
            n_iterations=self.n_iterations,
            seed=self.seed,
        )
        self._leiden = (len(vertices), edge_u, edge_v, edge_w, labels)
        community = canonical_membership(n_buyers, vertices, labels)
        self.membership_ = pd.Series(community, index=_index(buyer_ids), name="community")
        report(on_progress, "identity: evidence", 3, 4)

        self.identifiers_ = _shared_table(kinds, ident_kind, ident_keys, n_shared, weight, linked)
        self._evidence(
            buyer_ids, community, inc_ident, inc_buyer, n_shared, weight, linked, kinds, ident_kind, ident_keys
        )
        report(on_progress, "identity: evidence", 4, 4)
        return self

    def _check_params(self) -> None:
        if not self.min_weight > 0:
            raise ConfigError(f"min_weight must be > 0, got {self.min_weight!r}")
        if self.objective not in ("CPM", "modularity"):
            raise ConfigError(f"objective must be 'CPM' or 'modularity', got {self.objective!r}")
        if self.min_size < 2:
            raise ConfigError(f"min_size must be >= 2, got {self.min_size!r}")

    def _evidence(
        self, buyer_ids, community, inc_ident, inc_buyer, n_shared, weight, linked, kinds, ident_kind, ident_keys
    ) -> None:
        """Set ``scores_`` and ``candidates_`` from the identifiers members share within their community."""
        n_buyers = len(buyer_ids)
        size = np.bincount(community, minlength=1) if n_buyers else np.zeros(0, dtype=np.int64)
        n_comm = len(size)
        inc_comm = community[inc_buyer]

        # Members of a community that share one identifier: each such buyer earns
        # the identifier's weight towards each other member sharing it.
        in_group = size[inc_comm] >= 2 if n_buyers else np.zeros(0, dtype=bool)
        pair_key = inc_comm.astype(np.int64) * len(n_shared) + inc_ident
        _, inv, members = np.unique(pair_key[in_group], return_inverse=True, return_counts=True)
        m = np.zeros(len(inc_ident), dtype=np.int64)
        m[in_group] = members[inv]
        binding = linked[inc_ident] & (m >= 2)
        buyer_raw = np.bincount(
            inc_buyer[binding], weights=(weight[inc_ident] * (m - 1))[binding], minlength=n_buyers
        )
        score = np.zeros(n_buyers)
        bound = buyer_raw > 0
        score[bound] = midrank(buyer_raw[bound])
        self.scores_ = pd.Series(score, index=_index(buyer_ids), name="identity")

        comm_raw = np.bincount(community, weights=buyer_raw, minlength=n_comm) / np.maximum(size, 1)
        groups = np.flatnonzero((size >= self.min_size) & (comm_raw > 0))
        strength = np.zeros(n_comm)
        strength[groups] = midrank(comm_raw[groups])

        # One row per (community, identifier) shared by >= 2 members: per community
        # the binding (linked) ones first, then context, each strongest first.
        is_group = np.zeros(n_comm, dtype=bool)
        is_group[groups] = True
        shared = in_group & (m >= 2)
        shared[shared] = is_group[inc_comm[shared]]
        pair, first = np.unique(pair_key[shared], return_index=True)
        comm_of, ident_of = pair // len(n_shared), pair % len(n_shared)
        members_of = m[shared][first]
        order = np.lexsort((ident_of, -weight[ident_of], ~linked[ident_of], comm_of))
        comm_of, ident_of, members_of = comm_of[order], ident_of[order], members_of[order]
        starts = np.searchsorted(comm_of, groups)
        n_bind = np.bincount(comm_of, weights=linked[ident_of], minlength=n_comm)[groups].astype(np.int64)
        ends = np.searchsorted(comm_of, groups, side="right")
        # Binding identifiers per community and kind (kinds are sorted, as per_kind's keys).
        row_group = np.repeat(np.arange(len(groups)), ends - starts)
        bind_rows = linked[ident_of]
        per_kind = np.bincount(
            row_group[bind_rows] * len(kinds) + ident_kind[ident_of[bind_rows]], minlength=len(groups) * len(kinds)
        ).reshape(len(groups), len(kinds)).tolist()
        # Dicts only for the rows that details list (each community's first binding and first
        # context rows), not for every identifier the community shares.
        at = np.arange(len(ident_of))
        bind_end_row = (starts + n_bind)[row_group]
        listed = np.where(at < bind_end_row, at - starts[row_group], at - bind_end_row) < _MAX_LISTED
        listed_before = np.r_[0, np.cumsum(listed)].tolist()
        ident_listed = ident_of[listed]
        rows = [
            {"kind": k, "key": y, "n_buyers": n, "n_members": c, "weight": w}
            for k, y, n, c, w in zip(
                kinds.take(ident_kind[ident_listed]).tolist(), ident_keys.take(ident_listed).tolist(),
                n_shared[ident_listed].tolist(), members_of[listed].tolist(),
                np.round(weight[ident_listed], 6).tolist(), strict=True,
            )
        ]
        # The binding identifiers of each community again, in (kind, key) order: identifiers
        # are numbered in that order, so sorting by number within the community is enough.
        bound = ident_of[bind_rows][np.lexsort((ident_of[bind_rows], comm_of[bind_rows]))]
        bound_starts = np.r_[0, np.cumsum(n_bind)].tolist()
        ident_pairs = list(zip(kinds.take(ident_kind[bound]).tolist(),
                               ident_keys.take(bound).tolist(), strict=True))
        kind_names = [str(k) for k in kinds]

        # Buyer codes follow sorted ids, so a stable sort by community keeps each member list sorted.
        by_comm = np.argsort(community, kind="stable")
        by_comm = by_comm[is_group[community[by_comm]]]
        member_ids = buyer_ids.take(by_comm).tolist()
        member_starts = np.r_[0, np.cumsum(size[groups])].tolist()
        group_list, size_list = groups.tolist(), size[groups].tolist()
        strength_list, raw_list = strength[groups].tolist(), comm_raw[groups].tolist()
        start_list, bind_end, end_list = starts.tolist(), (starts + n_bind).tolist(), ends.tolist()
        candidates = []
        # Strongest first; community numbers (size, then smallest member) break ties.
        for j in np.lexsort((groups, -size[groups], -strength[groups])).tolist():
            s, b, e = start_list[j], bind_end[j], end_list[j]
            candidates.append(
                Candidate(
                    method="identity",
                    buyers=member_ids[member_starts[j] : member_starts[j + 1]],
                    identifiers=ident_pairs[bound_starts[j] : bound_starts[j + 1]],
                    strength=strength_list[j],
                    details={
                        "community": group_list[j],
                        "n_buyers": size_list[j],
                        "evidence": round(raw_list[j], 6),
                        "per_kind": {k: c for k, c in zip(kind_names, per_kind[j], strict=True) if c},
                        "shared": rows[listed_before[s] : listed_before[min(b, s + _MAX_LISTED)]],
                        "context": rows[listed_before[b] : listed_before[min(e, b + _MAX_LISTED)]],
                    },
                )
            )
        self.candidates_ = candidates


def _cutoff(prior: float, min_weight: float) -> int:
    """Largest ``k`` with ``prior / (k - 1) > min_weight`` (1 when none links)."""
    k = int(prior / min_weight) + 1
    while k > 1 and not prior / (k - 1) > min_weight:
        k -= 1
    return k


def _shared_identifiers(
    kind: np.ndarray, key: np.ndarray, keys: pa.Array, buyer: np.ndarray, n_buyers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Identifiers used by two or more buyers, numbered in ``(kind, key)`` order, and their buyers.

    ``kind`` codes follow sorted kinds; ``key`` codes index ``keys`` in any order. Returns
    ``(inc_ident, inc_buyer)``, one row per distinct (identifier, buyer) sorted by both, and
    ``(ident_kind, ident_keys)``: each identifier's kind code and key. Only the shared keys are
    sorted as strings: most identifiers (a buyer's own card, phone, home) belong to one buyer
    and bind no one, and sorting millions of key strings used to be the slowest step of a fit.
    """
    nb, n_keys = max(n_buyers, 1), max(len(keys), 1)
    inc = distinct((kind * n_keys + key) * nb + buyer)
    raw, inc_buyer = inc // nb, inc % nb
    first = np.ones(len(raw), dtype=bool)
    np.not_equal(raw[1:], raw[:-1], out=first[1:])
    n_users = np.diff(np.r_[np.flatnonzero(first), len(raw)])
    rows = np.repeat(n_users >= 2, n_users)
    raw, inc_buyer, first = raw[rows], inc_buyer[rows], first[rows]
    ident_kind = raw[first] // n_keys
    ident_keys = pd.Index(keys.take(raw[first] % n_keys))
    order = np.lexsort((ident_keys.argsort().argsort(), ident_kind))
    number = np.empty(len(order), dtype=np.int64)
    number[order] = np.arange(len(order))
    inc = distinct(number[np.cumsum(first) - 1] * nb + inc_buyer)
    return inc // nb, inc % nb, ident_kind[order], ident_keys[order]


def _shared_table(kinds, ident_kind, ident_keys, n_shared, weight, linked) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": np.asarray(kinds.take(ident_kind), dtype=object),
            "key": np.asarray(ident_keys, dtype=object),
            "n_buyers": n_shared.astype(np.int64),
            "weight": weight,
            "linked": linked,
        }
    )


def _identifier_table(data: pd.DataFrame | pa.Table | None) -> pa.Table:
    """The projection's ``buyer_id, kind, key`` as Arrow strings; rows missing any of them dropped."""
    if isinstance(data, pa.Table) and set(_REQUIRED) <= set(data.column_names):
        table = pa.table({c: _text(data[c]) for c in _REQUIRED})
    else:
        frame = _frame(data, "buyer_identifiers", _REQUIRED)[list(_REQUIRED)].astype("str")
        table = pa.Table.from_pandas(frame, preserve_index=False)
    present = pc.fill_null(
        pc.and_(pc.and_(pc.is_valid(table["buyer_id"]), pc.is_valid(table["kind"])), pc.not_equal(table["key"], "")),
        False,
    )
    return table if pc.all(present).as_py() else table.filter(present)  # no copy when every row is whole


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strings as they are, dictionary-encoded strings too (:func:`encode` takes their codes); others cast."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    return column if pa.types.is_string(kind) or pa.types.is_large_string(kind) else pc.cast(column, pa.string())


# -- helpers shared with graph.detect.synchrony and graph.score -----------------


def _frame(data: pd.DataFrame | pa.Table | None, name: str, required: Iterable[str]) -> pd.DataFrame:
    """The projection as a DataFrame; an absent or empty one becomes empty with the required columns."""
    if data is None:
        data = pd.DataFrame()
    if isinstance(data, pa.Table):
        data = data.to_pandas()
    missing = [c for c in required if c not in data.columns]
    if missing and len(data):
        raise StoreError(
            f"projection {name!r} lacks column(s) {missing}; read it with GraphStore.read_table({name!r})"
        )
    for c in missing:
        data = data.assign(**{c: pd.Series([], dtype="str")})
    return data


def _index(ids: pd.Index) -> pd.Index:
    return pd.Index(ids, name="buyer_id")


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array.

    ``np.unique`` without ``return_*`` takes a hash path in numpy 2.4 that is
    tens of times slower than sorting integer keys.
    """
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def encode(values: pa.Array | pa.ChunkedArray, *, sort: bool = False) -> tuple[np.ndarray, pa.Array]:
    """``pd.factorize`` in Arrow: int64 codes (-1 for null) and the distinct values, in order of
    first appearance or sorted (one hash pass; a pandas factorize of Arrow strings costs ~2-4x more).

    A dictionary-encoded array is taken as it is, without a hash pass: its codes index its
    dictionary, whose values may be in any order and include some the array does not hold.
    """
    encoded = pc.dictionary_encode(_combined(values) if isinstance(values, pa.ChunkedArray) else values)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    uniq = encoded.dictionary
    if sort and len(uniq):
        order = pc.sort_indices(uniq).to_numpy()
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        uniq = uniq.take(order)
    return codes, uniq


def _combined(values: pa.ChunkedArray) -> pa.Array:
    """The chunks as one array. Dictionary chunks that share one dictionary (a filtered
    dictionary-encoded column) keep it: Arrow's concatenation compares the dictionaries value by
    value, 7.5 s for 285 chunks of a 20M-key dictionary."""
    chunks = values.chunks
    if pa.types.is_dictionary(values.type) and chunks:
        first = chunks[0].dictionary
        if all(_same_buffers(c.dictionary, first) for c in chunks[1:]):
            return pa.DictionaryArray.from_arrays(pa.concat_arrays([c.indices for c in chunks]), first)
    return values.combine_chunks()


def _same_buffers(a: pa.Array, b: pa.Array) -> bool:
    return (a.offset, len(a)) == (b.offset, len(b)) and [x and x.address for x in a.buffers()] == [
        x and x.address for x in b.buffers()
    ]


def factorize_sorted(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` in the order of their sorted distinct values.

    Sorting the distinct values (not the rows) makes the codes, and everything
    built on them, independent of the input's row order.
    """
    if isinstance(values.array, pd.arrays.ArrowStringArray):  # what a projection read from Arrow holds
        codes, uniques = encode(pa.array(values.array), sort=True)
        return codes, pd.Index(uniques)
    codes, uniques = pd.factorize(values)
    uniques = pd.Index(uniques)
    order = uniques.argsort()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes].astype(np.int64), uniques[order]


def pairs_within_groups(group: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair of members within each group, vectorised.

    ``group`` must be sorted. Returns ``(a, b, group_of_pair)``; a group of
    ``k`` members yields ``k (k - 1) / 2`` pairs, so callers bound ``k``.
    """
    n = len(group)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    pos_in_group = np.arange(n) - np.repeat(starts, sizes)
    later = np.repeat(sizes, sizes) - 1 - pos_in_group
    src = np.repeat(np.arange(n), later)
    # dst = src + step within the row's run, built in place: pairs can number tens of
    # millions (synchrony at 10M orders), and each temporary array of them is gigabytes.
    dst = np.arange(1, len(src) + 1)
    dst -= np.repeat(np.cumsum(later) - later, later)
    dst += src
    partner = member[dst]
    del dst
    return member[src], partner, group[src]


def merge_edges(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges ``u < v`` with the weights of parallel edges summed, sorted."""
    u, v = np.minimum(a, b), np.maximum(a, b)
    keys, inv = np.unique(u * max(n, 1) + v, return_inverse=True)
    return keys // max(n, 1), keys % max(n, 1), np.bincount(inv, weights=w, minlength=len(keys))


def leiden(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    *,
    objective: str,
    resolution: float,
    n_iterations: int,
    seed: int,
) -> np.ndarray:
    """Seeded weighted Leiden on ``n`` vertices and distinct edges ``u-v``; returns each vertex's
    community label (labels are arbitrary numbers: only which vertices share one matters).

    igraph draws from a process-wide generator: it is set to ``random.Random(seed)``
    for the call and put back to igraph's default (the ``random`` module) after.
    Under CPM a connected component whose every pair is linked above the
    resolution is optimally one community, so only the other components go
    through Leiden (most of a sparse identity graph is such small cliques).
    """
    w = np.asarray(w, dtype=float)
    labels = np.zeros(n, dtype=np.int64)
    rest = np.arange(n)
    if objective == "CPM" and n:
        labels = connected_components(n, u, v)
        size = np.bincount(labels, minlength=n)
        n_edges = np.bincount(labels[u], minlength=n)
        weak = np.bincount(labels[u], weights=w <= resolution, minlength=n)
        settled = (n_edges == size * (size - 1) // 2) & (weak == 0)
        rest = np.flatnonzero(~settled[labels])
        if len(rest) < n:
            # The other components' edges in order, ids renumbered in order: the graph igraph's
            # induced subgraph would give, without building the whole graph first (~16 s at 10M).
            inside = ~settled[labels[u]]
            u, v, w = np.searchsorted(rest, u[inside]), np.searchsorted(rest, v[inside]), w[inside]
    if len(rest):
        igraph.set_random_number_generator(random.Random(seed))
        try:
            found = weighted_graph(len(rest), u, v, w).community_leiden(
                objective_function=objective,
                weights="weight",
                resolution=resolution,
                n_iterations=n_iterations,
            )
        finally:
            igraph.set_random_number_generator(random)
        labels[rest] = labels.max() + 1 + np.asarray(found.membership, dtype=np.int64)
    return labels


def weighted_graph(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> igraph.Graph:
    """The igraph graph of ``n`` vertices and edges ``u-v`` with edge attribute ``weight``."""
    graph = igraph.Graph(n=n, edges=edge_list(u, v))
    graph.es["weight"] = np.asarray(w, dtype=float).tolist()
    return graph


@numba.njit(cache=True, nogil=True)
def connected_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` vertices joined by edges ``u-v``: its smallest vertex
    (union-find; building an igraph graph only to ask this took longer than the asking)."""
    root = np.arange(n)
    for i in range(len(u)):
        a, b = u[i], v[i]
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        while root[b] != b:
            root[b] = root[root[b]]
            b = root[b]
        if a < b:
            root[b] = a
        elif b < a:
            root[a] = b
    for i in range(n):  # roots are the smallest vertex of each set, so one pass in order resolves all
        root[i] = root[root[i]]
    return root


def edge_list(u: np.ndarray, v: np.ndarray) -> list[tuple[int, int]]:
    """Edges as igraph takes them fastest: a list of ``(u, v)`` tuples of Python ints."""
    return list(zip(np.asarray(u).tolist(), np.asarray(v).tolist(), strict=True))


def canonical_membership(n: int, vertices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Community per entity ``0..n-1``: graph labels for ``vertices``, singletons for the rest.

    Communities are numbered by size (largest first), ties by smallest member,
    so the numbering does not depend on the labels Leiden happened to draw.
    """
    raw = np.arange(n, dtype=np.int64) + (labels.max() + 1 if len(labels) else 0)
    raw[vertices] = labels
    _, raw = np.unique(raw, return_inverse=True)
    size = np.bincount(raw)
    first = np.full(len(size), n, dtype=np.int64)
    np.minimum.at(first, raw, np.arange(n))
    order = np.lexsort((first, -size))
    number = np.empty(len(order), dtype=np.int64)
    number[order] = np.arange(len(order))
    return number[raw]


def midrank(values: np.ndarray) -> np.ndarray:
    """Mid-rank of each value within ``values``, scaled to (0, 1): ``(less + equal / 2) / n``.

    Ties (equal to 9 decimals, so rounding noise does not rank) share one
    value; a lone value gets 0.5.
    """
    values = np.round(np.asarray(values, dtype=float), 9)
    if len(values) == 0:
        return np.zeros(0)
    uniq, inv, counts = np.unique(values, return_inverse=True, return_counts=True)
    less = np.cumsum(counts) - counts
    return ((less + counts / 2) / len(values))[inv]
