"""Assembling candidates into rings and keeping ring ids stable across runs."""

from __future__ import annotations

import random

from graph.detect.base import Candidate
from graph.rings import Ring, assemble, change_of, match_previous, merge_shared_targets, ring_id


def _cand(method: str, buyers: list[str], strength: float = 0.8, sellers=(), identifiers=()) -> Candidate:
    return Candidate(method, sorted(buyers), sorted(sellers), sorted(identifiers), strength)


def test_overlapping_candidates_of_different_methods_merge_into_one_ring():
    ring = [f"b{i}" for i in range(10)]
    cands = [
        _cand("identity", ring[:8], identifiers=[("device", "d1")]),
        _cand("dense_block", ring[2:], sellers=["s1", "s2"]),
        _cand("synchrony", ring[:5] + ring[7:]),
        _cand("identity", ["x1", "x2", "x3"]),  # an unrelated household
    ]
    rings = assemble(cands)
    assert [r.buyers for r in rings] == [sorted(ring), ["x1", "x2", "x3"]]
    big = rings[0]
    assert big.methods == ["dense_block", "identity", "synchrony"]
    assert big.sellers == ["s1", "s2"]
    assert big.identifiers == [("device", "d1")]
    # Buyers seen by several methods carry more support than those seen by one.
    assert big.support["b3"] == 3 and big.support["b9"] == 2


def test_a_small_group_inside_a_much_larger_one_is_not_swallowed():
    crowd = [f"c{i}" for i in range(300)]  # a parcel station's customers
    household = crowd[:3]
    rings = assemble([_cand("identity", crowd, 0.2), _cand("identity", household, 0.9)])
    # Two rings; the household's buyers belong to the stronger, household ring only.
    assert sorted(r.n_buyers for r in rings) == [3, 297]


def test_weak_and_single_buyer_candidates_are_dropped():
    rings = assemble(
        [_cand("synchrony", ["a"], 0.9), _cand("dense_block", ["b", "c"], 0.05), _cand("identity", ["d", "e"], 0.5)],
        min_strength=0.1,
    )
    assert [r.buyers for r in rings] == [["d", "e"]]


def test_assembly_does_not_depend_on_candidate_order():
    rng = random.Random(7)
    cands = [_cand(rng.choice(["identity", "dense_block"]), [f"b{x}" for x in rng.sample(range(40), 5)]) for _ in range(30)]
    first = [(r.buyers, r.methods, r.support) for r in assemble(cands)]
    rng.shuffle(cands)
    assert [(r.buyers, r.methods, r.support) for r in assemble(cands)] == first


def test_rings_are_disjoint_and_hold_only_candidate_buyers():
    rng = random.Random(3)
    cands = [_cand("identity", [f"b{x}" for x in rng.sample(range(60), rng.randint(2, 8))]) for _ in range(25)]
    rings = assemble(cands)
    seen = [b for r in rings for b in r.buyers]
    assert len(seen) == len(set(seen))  # no buyer in two rings
    assert set(seen) <= {b for c in cands for b in c.buyers}
    assert all(r.n_buyers >= 2 and r.buyers == sorted(r.buyers) for r in rings)
    assert all(set(r.support) == set(r.buyers) for r in rings)


def test_ring_id_is_a_deterministic_hash_of_the_members():
    rid = ring_id(["b2", "b1", "b1"])
    assert rid == ring_id(["b1", "b2"])
    assert rid != ring_id(["b1", "b3"])
    assert rid.startswith("R-") and len(rid) == 12 and int(rid[2:], 16) >= 0


def test_match_previous_keeps_ids_while_most_members_stay():
    prev = {"R-keep": ["a", "b", "c", "d"], "R-gone": ["x", "y"]}
    cur = [["a", "b", "c", "d"], ["a2", "b2"], ["x", "y", "z", "w", "v"]]
    out = match_previous(cur, prev)
    assert out[0] == ("R-keep", "unchanged")
    assert out[1] == (ring_id(["a2", "b2"]), "new")
    # Jaccard 2/5 < 0.5: a different ring, even though it holds the old one.
    assert out[2] == (ring_id(cur[2]), "new")


def test_match_previous_reports_growth_and_shrinkage():
    prev = {"R-1": ["a", "b", "c", "d"], "R-2": ["e", "f", "g", "h"]}
    out = match_previous([["a", "b", "c", "d", "e2"], ["e", "f", "g"]], prev)
    assert out == [("R-1", "grown"), ("R-2", "shrunk")]


def test_each_previous_id_is_given_once_to_the_most_similar_ring():
    prev = {"R-1": ["a", "b", "c", "d"]}
    out = match_previous([["a", "b", "c"], ["a", "b", "c", "d"]], prev)
    assert out[1] == ("R-1", "unchanged")
    assert out[0][0] != "R-1" and out[0][1] == "new"


def test_a_new_ring_never_reuses_an_id_of_the_previous_run():
    members = ["p", "q"]
    prev = {ring_id(members): ["other1", "other2"]}  # an old ring that happened to carry this id
    rid, change = match_previous([members], prev)[0]
    assert rid != ring_id(members) and rid.startswith(ring_id(members)) and change == "new"


def test_change_of():
    s = frozenset
    assert change_of(s("ab"), None) == "new"
    assert change_of(s("ab"), s("ab")) == "unchanged"
    assert change_of(s("abc"), s("ab")) == "grown"
    assert change_of(s("a"), s("ab")) == "shrunk"
    assert change_of(s("abx"), s("abc")) == "grown"  # same size, new faces: the analyst has something to see
    assert change_of(s("ax"), s("abc")) == "shrunk"


def test_a_shops_regulars_never_widen_a_ring_of_other_accounts_at_that_shop():
    """Fragments working on one shop merge; a broad proposal (the shop's returning customers)
    joins only a ring whose accounts are mostly among them."""
    attackers = Ring(["a1", "a2", "a3", "a4"])
    regulars = Ring(["a1", "r1", "r2", "r3", "r4", "r5"])  # the shop's regulars, one attacker among them
    fragment = Ring(["a5", "a6"])
    merged = merge_shared_targets([attackers, regulars, fragment], [["s1"]] * 3, [True] * 3,
                                  broad=[False, True, False])
    assert sorted(r.buyers for r in merged) == [
        ["a1", "a2", "a3", "a4", "a5", "a6"], ["a1", "r1", "r2", "r3", "r4", "r5"]]
    # Linked accounts that are mostly the shop's regulars are one campaign seen from both sides.
    core = Ring(["r1", "r2", "r3"])
    merged = merge_shared_targets([core, regulars], [["s1"], ["s1"]], [True, True], broad=[False, True])
    assert [r.buyers for r in merged] == [["a1", "r1", "r2", "r3", "r4", "r5"]]


def test_rings_touching_one_common_shop_but_working_for_others_stay_apart():
    """With orders per target, rings merge when their orders go mostly to the same shops."""
    big, small = Ring(["a1", "a2", "a3"]), Ring(["b1", "b2"])
    targets = [["s_main", "s_side"], ["s_side"]]
    merged = merge_shared_targets([big, small], targets, [True, True])
    assert len(merged) == 1  # target sets alone: Jaccard 0.5
    weights = [{"s_main": 90.0, "s_side": 10.0}, {"s_side": 40.0}]
    assert len(merge_shared_targets([big, small], targets, [True, True], weights=weights)) == 2
    same = [{"s_main": 50.0, "s_side": 50.0}, {"s_side": 40.0}]
    assert len(merge_shared_targets([big, small], targets, [True, True], weights=same)) == 2
    both = [{"s_main": 10.0, "s_side": 90.0}, {"s_side": 40.0}]
    assert len(merge_shared_targets([big, small], targets, [True, True], weights=both)) == 1
