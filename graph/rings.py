"""Rings: candidates from every detector assembled into groups with stable ids.

A detector proposes candidate groups of buyers (:class:`~graph.detect.base.Candidate`).
Several methods often find the same ring, each seeing part of it: the identity
linker sees the accounts that share devices, the dense-block detector the
accounts that order from the same shops, the synchrony detector the accounts
that order together. :func:`assemble` merges candidates whose buyer sets
overlap into one :class:`Ring` per group of accounts.

Ring ids stay the same across runs while a ring keeps most of its members:
:func:`match_previous` pairs each ring with the previous run's ring of the
highest buyer-set Jaccard similarity (at least ``0.5``); an unmatched ring gets
a new id derived from its sorted members (:func:`ring_id`), so the same input
always yields the same ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graph.detect.base import Candidate

__all__ = [
    "Ring",
    "assemble",
    "merge_shared_targets",
    "add_proposals",
    "claim_by_score",
    "ring_id",
    "match_previous",
    "change_of",
    "MIN_JACCARD",
]

# A ring keeps its id while the new buyer set shares at least half of the union with the old one.
MIN_JACCARD = 0.5


@dataclass
class Ring:
    """A group of buyers suspected of acting together, before scoring.

    Attributes
    ----------
    buyers : list[str]
        Member buyer ids, sorted.
    methods : list[str]
        Detectors that proposed (part of) the ring, sorted.
    strengths : dict[str, float]
        Per method, the highest strength of its candidates in the ring.
    support : dict[str, int]
        Per buyer, how many of the ring's candidates hold it (how many angles see it).
    sellers : list[str]
        Sellers the detectors named (a hint for the target sellers), sorted.
    identifiers : list[tuple[str, str]]
        ``(kind, key)`` identifiers the detectors named, sorted.
    candidates : list[Candidate]
        The merged candidates, in input order.
    """

    buyers: list[str]
    methods: list[str] = field(default_factory=list)
    strengths: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    sellers: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def n_buyers(self) -> int:
        """Number of member buyers."""
        return len(self.buyers)


def _overlaps(sets: Sequence[Collection[str]], others: Sequence[Collection[str]] | None = None) -> pd.DataFrame:
    """Pairs ``(i, j, shared)`` of sets (each of distinct buyers) with at least one common buyer.

    Counted through the buyer -> set incidence (a join on buyer), never by
    comparing every pair of sets; only buyers held on both sides join (most
    buyers are in one set). Without ``others`` the pairs are within ``sets``
    with ``i < j``.
    """
    sizes = [[len(g) for g in side] for side in (sets, others or [])]
    group = np.concatenate([np.repeat(np.arange(len(n)), np.array(n, np.int64)) for n in sizes])
    buyer = pd.factorize(np.array([b for side in (sets, others or []) for g in side for b in g], dtype=object))[0]
    n_left = sum(sizes[0])
    if others is None:
        joins = np.bincount(buyer, minlength=1)[buyer] >= 2
    else:
        held = [np.bincount(side, minlength=len(buyer)) > 0 for side in (buyer[:n_left], buyer[n_left:])]
        joins = (held[0] & held[1])[buyer]
    incidence, on_left = pd.DataFrame({"g": group, "buyer": buyer}), np.arange(len(buyer)) < n_left
    left = incidence[joins & on_left]
    right = left if others is None else incidence[joins & ~on_left]
    if left.empty or right.empty:
        return pd.DataFrame({"i": [], "j": [], "shared": []}, dtype=np.int64)
    pairs = left.merge(right, on="buyer", suffixes=("_i", "_j"))
    if others is None:
        pairs = pairs[pairs["g_i"] < pairs["g_j"]]
    counted = pairs.groupby(["g_i", "g_j"], sort=True).size().reset_index(name="shared")
    return counted.rename(columns={"g_i": "i", "g_j": "j"}).astype(np.int64)


def _should_merge(
    shared: np.ndarray, size_i: np.ndarray, size_j: np.ndarray, min_overlap: float, contain: bool = True
) -> np.ndarray:
    """Merge two candidates when they are mostly the same accounts.

    Jaccard similarity at least ``min_overlap``, or the smaller set lies at
    least ``min_overlap`` inside the larger one while being at least a
    quarter of its size (one angle seeing part of the ring). A small group
    that happens to sit inside a much larger one (a household inside a
    parcel-station crowd) is not swallowed by it.
    """
    small = np.minimum(size_i, size_j)
    large = np.maximum(size_i, size_j)
    jaccard = shared / (size_i + size_j - shared)
    contained = (shared / small >= min_overlap) & (small * 4 >= large) & contain
    return (jaccard >= min_overlap) | contained


def assemble(
    candidates: Iterable[Candidate],
    *,
    min_strength: float = 0.0,
    min_buyers: int = 2,
    min_overlap: float = 0.5,
    contain: bool = True,
) -> list[Ring]:
    """Merge candidates from all methods into rings.

    Parameters
    ----------
    candidates : iterable of Candidate
        Candidates of any methods, in any order.
    min_strength : float, default 0.0
        Candidates weaker than this are dropped before merging.
    min_buyers : int, default 2
        Candidates with fewer distinct buyers are dropped: one account is no ring.
    min_overlap : float, default 0.5
        Two candidates merge when their buyer sets' Jaccard similarity reaches
        this, or when the smaller lies this much inside a larger one at most
        four times its size; merging is transitive (connected components).
    contain : bool, default True
        Off: only the Jaccard rule merges (for broad proposals, such as a
        shop's regular customers, that would otherwise chain rings together).

    Returns
    -------
    list[Ring]
        A partition of the kept candidates' buyers (a buyer held by rings
        that did not merge goes to the one that sees it from most angles),
        sorted by size (largest first), then by buyer ids: the same input in
        any order gives the same list.

    Examples
    --------
    >>> a = Candidate("identity", ["b1", "b2", "b3"], strength=0.9)
    >>> b = Candidate("dense_block", ["b2", "b3", "b4"], sellers=["s1"], strength=0.8)
    >>> [r.buyers for r in assemble([a, b])]
    [['b1', 'b2', 'b3', 'b4']]
    """
    kept, members = [], []
    for c in candidates:
        buyers = tuple(sorted(set(c.buyers)))
        if c.strength >= min_strength and len(buyers) >= min_buyers:
            kept.append(c)
            members.append(buyers)
    # A canonical order makes the components (and so every output) independent of input order.
    order = sorted(range(len(kept)), key=lambda k: (kept[k].method, members[k], -kept[k].strength, tuple(kept[k].sellers)))
    kept, members = [kept[k] for k in order], [members[k] for k in order]
    parent = np.arange(len(kept))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    pairs = _overlaps(members)
    if not pairs.empty:
        sizes = np.array([len(m) for m in members])
        i, j, shared = pairs["i"].to_numpy(), pairs["j"].to_numpy(), pairs["shared"].to_numpy()
        merge = _should_merge(shared, sizes[i], sizes[j], min_overlap, contain)
        for a, b in zip(i[merge].tolist(), j[merge].tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

    groups: dict[int, list[int]] = {}
    for k in range(len(kept)):
        groups.setdefault(find(k), []).append(k)
    rings = [
        _ring_of([kept[k] for k in ks]) if len(ks) > 1 else _ring_of_one(kept[ks[0]], members[ks[0]])
        for ks in groups.values()
    ]
    rings = _partition(rings, min_buyers)
    rings.sort(key=lambda r: (-r.n_buyers, r.buyers))
    return rings


def _partition(rings: list[Ring], min_buyers: int) -> list[Ring]:
    """Give a buyer held by several rings to the one that sees it from most angles.

    Ties go to the ring with the stronger candidates, then the larger ring,
    then the smaller first buyer id. Rings left with fewer than
    ``min_buyers`` members are dropped.
    """
    ring_of = np.repeat(np.arange(len(rings)), [r.n_buyers for r in rings])
    buyers = pd.Series([b for r in rings for b in r.buyers], dtype=object)
    code = pd.factorize(buyers)[0]
    shared = np.bincount(code)[code] > 1
    if not shared.any():  # the common case: candidates that did not merge hold different buyers
        return rings
    rows = pd.DataFrame({
        "ring": ring_of[shared],
        "buyer": buyers[shared].to_numpy(),
        "support": [rings[i].support.get(b, 1) for i, b in zip(ring_of[shared], buyers[shared], strict=True)],
        "strength": [-sum(rings[i].strengths.values()) for i in ring_of[shared]],
        "size": [-rings[i].n_buyers for i in ring_of[shared]],
        "first": [rings[i].buyers[0] for i in ring_of[shared]],
    }).sort_values(["buyer", "support", "strength", "size", "first"],
                   ascending=[True, False, True, True, True], kind="stable")
    losers = rows[rows["buyer"].duplicated()]
    lost: dict[int, set[str]] = {}
    for i, b in zip(losers["ring"].tolist(), losers["buyer"].tolist(), strict=True):
        lost.setdefault(i, set()).add(b)
    out = []
    for i, r in enumerate(rings):
        gone = lost.get(i)
        if gone:
            r.buyers = [b for b in r.buyers if b not in gone]
            r.support = {b: n for b, n in r.support.items() if b not in gone}
        if r.n_buyers >= min_buyers:
            out.append(r)
    return out


def _ring_of_one(c: Candidate, buyers: tuple[str, ...]) -> Ring:
    """A ring of a single candidate (most of them: households identity linkage proposes)."""
    return Ring(
        buyers=list(buyers),
        methods=[c.method],
        strengths={c.method: float(c.strength)},
        support=dict.fromkeys(buyers, 1),
        sellers=sorted(set(c.sellers)),
        identifiers=sorted({(str(k), str(v)) for k, v in c.identifiers}),
        candidates=[c],
    )


def _ring_of(cands: list[Candidate]) -> Ring:
    support: dict[str, int] = {}
    strengths: dict[str, float] = {}
    sellers: set[str] = set()
    identifiers: set[tuple[str, str]] = set()
    for c in cands:
        for b in set(c.buyers):
            support[b] = support.get(b, 0) + 1
        strengths[c.method] = max(strengths.get(c.method, 0.0), float(c.strength))
        sellers.update(c.sellers)
        identifiers.update((str(k), str(v)) for k, v in c.identifiers)
    return Ring(
        buyers=sorted(support),
        methods=sorted(strengths),
        strengths=dict(sorted(strengths.items())),
        support=dict(sorted(support.items())),
        sellers=sorted(sellers),
        identifiers=sorted(identifiers),
        candidates=cands,
    )


def merge_shared_targets(
    rings: Sequence[Ring],
    targets: Sequence[Sequence[str]],
    eligible: Sequence[bool],
    *,
    kinds: Sequence[str] | None = None,
    periods: Sequence[tuple[float, float]] | None = None,
    broad: Sequence[bool] | None = None,
    weights: Sequence[dict[str, float]] | None = None,
    min_overlap: float = 0.5,
) -> list[Ring]:
    """Merge rings that concentrate on the same target shop: one campaign, found in pieces.

    Identity linkage often splits a ring into fragments (each sharing its own
    devices), all working for the same shop. Rings are merged (transitively)
    when both are ``eligible`` (e.g. their orders go to their targets beyond
    chance, or each is suspicious on its own), of the same kind when
    ``kinds`` is given, and mostly work for the same shops (target-set
    Jaccard similarity at least ``min_overlap``). Other rings
    are left alone, so a household that happens to shop at a brushed store
    stays apart.

    Parameters
    ----------
    rings : sequence of Ring
    targets : sequence of sequences of str
        Target seller ids per ring.
    eligible : sequence of bool
        Which rings may merge.
    kinds : sequence of str, optional
        Only rings of the same kind merge (a negative-review attack and a
        brushing ring on one shop are two cases).
    periods : sequence of (start, end), optional
        When given, only rings whose periods (e.g. of their orders at the
        targets) overlap merge: the same shop attacked in the same days.
    broad : sequence of bool, optional
        Which rings are broad proposals (a shop's returning customers, honest
        regulars included). A broad ring and a focused one merge only when
        at least ``min_overlap`` of the focused ring's buyers are in the broad
        one: the same accounts seen from the shop's side. Otherwise the
        shop's regulars would widen a ring of other accounts that merely
        attack or boost the same shop.
    weights : sequence of dict, optional
        Per ring, its orders at each target. When given, the similarity is
        the weighted Jaccard ``sum(min) / sum(max)`` of the two rings' shares
        of orders per target: rings whose orders go mostly to the same shops,
        not rings that merely touch one common shop.
    min_overlap : float, default 0.5
        Least Jaccard similarity of two rings' target sets.

    Returns
    -------
    list[Ring]
        Sorted as :func:`assemble` sorts.

    Examples
    --------
    >>> a, b = Ring(["b1", "b2"]), Ring(["b3", "b4"])
    >>> [r.buyers for r in merge_shared_targets([a, b], [["s1"], ["s1", "s2"]], [True, True])]
    [['b1', 'b2', 'b3', 'b4']]
    """
    parent = list(range(len(rings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sets = [frozenset(t) if ok else frozenset() for t, ok in zip(targets, eligible, strict=True)]
    pairs = _overlaps(sets)
    if not pairs.empty:
        i, j, shared = (pairs[c].to_numpy() for c in ("i", "j", "shared"))
        size = np.array([len(t) for t in sets])
        if weights is None:
            same = shared / (size[i] + size[j] - shared) >= min_overlap
        else:
            share = [{t: w / max(sum(ws.values()), 1e-12) for t, w in ws.items()} for ws in weights]

            def similar(a: int, b: int) -> bool:
                union = sorted(sets[a] | sets[b])  # a fixed order: float sums must not follow string hashing
                low = sum(min(share[a].get(t, 0.0), share[b].get(t, 0.0)) for t in union)
                return low >= min_overlap * sum(max(share[a].get(t, 0.0), share[b].get(t, 0.0)) for t in union)

            same = np.array([similar(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=True)], dtype=bool)
        if kinds is not None:
            same &= np.array([kinds[a] == kinds[b] for a, b in zip(i, j, strict=True)], dtype=bool)
        if periods is not None:
            p = np.asarray(periods, dtype=np.float64).reshape(-1, 2)
            same &= (p[i, 0] <= p[j, 1]) & (p[j, 0] <= p[i, 1])
        if broad is not None:
            wide = np.asarray(broad, dtype=bool)
            mixed = same & (wide[i] != wide[j])
            for k in np.flatnonzero(mixed).tolist():
                a, b = int(i[k]), int(j[k])
                focused, proposal = (b, a) if wide[a] else (a, b)
                inside = len(set(rings[focused].buyers) & set(rings[proposal].buyers))
                same[k] = inside >= min_overlap * rings[focused].n_buyers
        for a, b in zip(i[same].tolist(), j[same].tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(len(rings)):
        groups.setdefault(find(i), []).append(i)
    out = [rings[g[0]] if len(g) == 1 else _union([rings[i] for i in g]) for g in groups.values()]
    out.sort(key=lambda r: (-r.n_buyers, r.buyers))
    return out


def _union(rings: list[Ring]) -> Ring:
    support: dict[str, int] = {}
    strengths: dict[str, float] = {}
    for r in rings:
        for b in r.buyers:
            support[b] = support.get(b, 0) + r.support.get(b, 1)
        for m, st in r.strengths.items():
            strengths[m] = max(strengths.get(m, 0.0), st)
    return Ring(
        buyers=sorted(support),
        methods=sorted(strengths),
        strengths=dict(sorted(strengths.items())),
        support=dict(sorted(support.items())),
        sellers=sorted({s for r in rings for s in r.sellers}),
        identifiers=sorted({i for r in rings for i in r.identifiers}),
        candidates=[c for r in rings for c in r.candidates],
    )


def add_proposals(rings: Sequence[Ring], proposals: Sequence[Ring], *, min_overlap: float = 0.5) -> list[Ring]:
    """Add broad proposals (rings of a shop's customers) to assembled rings.

    A proposal that is mostly the same accounts as a ring (buyer-set Jaccard
    at least ``min_overlap``) is another angle on it: the ring (the most
    similar one when several qualify) takes its method and support but keeps
    its own members. The others are added as they are: they may share
    buyers with other rings until :func:`claim_by_score` gives each buyer to
    the ring whose evidence is strongest.

    Examples
    --------
    >>> rings = [Ring(["a", "b", "c"], methods=["identity"], strengths={"identity": 0.9})]
    >>> shop = Ring(["a", "b", "c", "d"], methods=["shop"], strengths={"shop": 0.7})
    >>> out = add_proposals(rings, [shop, Ring(["c", "x", "y"])])
    >>> [(r.buyers, r.methods) for r in out]
    [(['a', 'b', 'c'], ['identity', 'shop']), (['c', 'x', 'y'], [])]
    """
    out = list(rings)
    pairs = _overlaps([p.buyers for p in proposals], [r.buyers for r in rings])  # sorted, distinct
    best: dict[int, int] = {}
    if not pairs.empty:
        i, j, shared = (pairs[c].to_numpy() for c in ("i", "j", "shared"))
        size_p = np.array([p.n_buyers for p in proposals])[i]
        size_r = np.array([r.n_buyers for r in rings])[j]
        jac = shared / (size_p + size_r - shared)
        ok = jac >= min_overlap
        order = np.lexsort((j[ok], -jac[ok]))  # most similar ring first
        for a, b in zip(i[ok][order].tolist(), j[ok][order].tolist(), strict=True):
            best.setdefault(a, b)
    into: dict[int, list[Ring]] = {}
    for k, p in enumerate(proposals):
        if k in best:
            into.setdefault(best[k], []).append(p)
        else:
            out.append(p)
    for j, extra in into.items():
        # It confirms the ring (another angle) but never widens it: a shop's customers
        # include honest regulars the ring's own evidence did not bring in.
        widened = _union([out[j], *extra])
        keep = set(out[j].buyers)
        out[j] = Ring(buyers=out[j].buyers, methods=widened.methods, strengths=widened.strengths,
                      support={b: n for b, n in widened.support.items() if b in keep},
                      sellers=widened.sellers, identifiers=widened.identifiers, candidates=widened.candidates)
    out.sort(key=lambda r: (-r.n_buyers, r.buyers))
    return out


def claim_by_score(rings: Sequence[Ring], scores: Sequence[float], *, min_buyers: int = 2) -> list[Ring]:
    """Give a buyer held by several rings to the highest-scoring one (ties: the earlier ring).

    Rings left with fewer than ``min_buyers`` members are dropped; the others
    keep their order.

    Examples
    --------
    >>> rings = [Ring(["a", "b", "c"]), Ring(["c", "d", "e"])]
    >>> [r.buyers for r in claim_by_score(rings, [0.4, 0.9])]
    [['a', 'b'], ['c', 'd', 'e']]
    """
    owner: dict[str, int] = {}
    for k in sorted(range(len(rings)), key=lambda k: (-scores[k], k)):
        for b in rings[k].buyers:
            owner.setdefault(b, k)
    out = []
    for k, r in enumerate(rings):
        keep = [b for b in r.buyers if owner[b] == k]
        if len(keep) < min_buyers:
            continue
        if len(keep) < r.n_buyers:
            r = Ring(buyers=keep, methods=r.methods, strengths=r.strengths,
                     support={b: r.support.get(b, 1) for b in keep}, sellers=r.sellers,
                     identifiers=r.identifiers, candidates=r.candidates)
        out.append(r)
    return out


def ring_id(buyers: Iterable[str]) -> str:
    """A new ring's id: ``"R-"`` and 10 hex digits of a hash of its sorted buyer ids.

    Examples
    --------
    >>> ring_id(["b2", "b1"]) == ring_id(["b1", "b2"])
    True
    """
    digest = hashlib.sha256("\n".join(sorted(set(buyers))).encode("utf-8")).hexdigest()
    return "R-" + digest[:10]


def change_of(current: frozenset[str], previous: frozenset[str] | None) -> str:
    """``new``, ``grown``, ``shrunk`` or ``unchanged`` against the matched previous buyer set.

    A ring that both gained and lost members counts by its net size (a tie
    counts as grown: it has members the analyst has not seen).
    """
    if previous is None:
        return "new"
    gained, lost = len(current - previous), len(previous - current)
    if not gained and not lost:
        return "unchanged"
    if gained and lost:
        return "shrunk" if len(current) < len(previous) else "grown"
    return "grown" if gained else "shrunk"


def match_previous(
    current: Sequence[Iterable[str]],
    previous: dict[str, Iterable[str]],
    *,
    min_jaccard: float = MIN_JACCARD,
) -> list[tuple[str, str]]:
    """Give each current ring an id and a change against the previous run.

    Pairs are taken greedily by decreasing buyer-set Jaccard similarity
    (ties: current order, then previous id), each ring and each previous id
    used once. Unmatched rings get :func:`ring_id` of their buyers, made
    unique by a ``-2``, ``-3`` ... suffix if that id is already taken.

    Parameters
    ----------
    current : sequence of buyer-id collections
        The rings of this run.
    previous : dict
        Previous run: ring id -> its buyer ids.
    min_jaccard : float, default 0.5
        Least similarity for a ring to keep a previous id.

    Returns
    -------
    list of (ring_id, change)
        One per current ring, in the same order.

    Examples
    --------
    >>> match_previous([["a", "b", "c"]], {"R-old": ["a", "b"]})
    [('R-old', 'grown')]
    """
    cur = [frozenset(c) for c in current]
    prev_ids = sorted(previous)
    prev = [frozenset(previous[p]) for p in prev_ids]
    pairs = _overlaps(cur, prev)
    matched: dict[int, int] = {}
    if not pairs.empty:
        i, j, shared = pairs["i"].to_numpy(), pairs["j"].to_numpy(), pairs["shared"].to_numpy()
        size_i = np.array([len(c) for c in cur])[i]
        size_j = np.array([len(p) for p in prev])[j]
        jac = shared / (size_i + size_j - shared)
        ok = jac >= min_jaccard
        order = np.lexsort((j[ok], i[ok], -jac[ok]))
        used_prev: set[int] = set()
        for a, b in zip(i[ok][order].tolist(), j[ok][order].tolist(), strict=True):
            if a not in matched and b not in used_prev:
                matched[a] = b
                used_prev.add(b)
    taken = {prev_ids[b] for b in matched.values()}
    out: list[tuple[str, str]] = []
    for k, members in enumerate(cur):
        if k in matched:
            b = matched[k]
            out.append((prev_ids[b], change_of(members, prev[b])))
            continue
        base = ring_id(members)
        rid, n = base, 1
        while rid in taken or rid in previous:
            n += 1
            rid = f"{base}-{n}"
        taken.add(rid)
        out.append((rid, "new"))
    return out
