"""IdentityLinker: specific shared identifiers bind, common ones never glue."""

from __future__ import annotations

import igraph
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from graph.detect.identity import IdentityLinker, connected_components, encode, midrank, pairs_within_groups
from graph.errors import ConfigError, StoreError


def population(seed: int = 0) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    """Honest households and families, a sock-puppet group, a parcel station and carrier NAT."""
    rng = np.random.default_rng(seed)
    rows = []
    honest = [f"h{i:04d}" for i in range(1000)]
    for i, b in enumerate(honest):
        rows += [
            (b, "device", f"dev-{b}"),
            (b, "payment", f"pay-{b}"),
            (b, "phone", f"ph-{b}"),
            (b, "address", f"home-{i // 2}"),
            (b, "ip", f"ip-{i // 2}"),
            (b, "ipnet", f"net-{i // 5}"),
        ]
    for i in range(0, 100, 2):  # families sharing a laptop
        rows.append((honest[i + 1], "device", f"dev-{honest[i]}"))
    ring = [f"r{i}" for i in range(8)]
    for b in ring:
        rows += [(b, "device", "ring-dev"), (b, "address", "ring-addr"), (b, "payment", f"pay-{b}")]
    station = [honest[i] for i in rng.choice(np.arange(200, 1000), 300, replace=False)]
    rows += [(b, "address", "station-7") for b in station]
    nat = [f"m{i:04d}" for i in range(2000)]
    rows += [(b, "ip", f"nat-{i % 4}") for i, b in enumerate(nat)]
    rows += [(b, "ipnet", "nat-net") for b in nat]
    rows += [(b, "device", f"dev-{b}") for b in nat]
    frame = pd.DataFrame(rows, columns=["buyer_id", "kind", "key"])
    return frame.sample(frac=1.0, random_state=seed, ignore_index=True), ring, station, nat


@pytest.fixture(scope="module")
def fitted():
    rows, ring, station, nat = population()
    return IdentityLinker(seed=7).fit(rows), rows, ring, station, nat


def test_sock_puppets_sharing_device_and_address_are_one_community(fitted):
    linker, _, ring, _, _ = fitted
    community = linker.membership_[ring].unique()
    assert len(community) == 1
    assert set(linker.membership_.index[linker.membership_ == community[0]]) == set(ring)
    found = [c for c in linker.candidates_ if set(ring) <= set(c.buyers)]
    assert len(found) == 1
    assert {("device", "ring-dev"), ("address", "ring-addr")} <= set(found[0].identifiers)
    assert found[0].details["per_kind"] == {"address": 1, "device": 1}


def test_parcel_station_and_nat_glue_no_one(fitted):
    linker, rows, _, station, nat = fitted
    assert linker.membership_[station].value_counts().max() <= 2  # households only
    assert linker.membership_[nat].value_counts().max() == 1
    n_station_pairs = len(station) * (len(station) - 1) // 2
    # Never the clique of a big identifier: edges stay linear in the input.
    assert linker.graph_.ecount() < len(rows) < n_station_pairs
    shared = linker.identifiers_.set_index(["kind", "key"])
    assert not shared.loc[("address", "station-7"), "linked"]
    assert shared.loc[("address", "station-7"), "n_buyers"] == len(station)
    assert not shared.loc[("ip", "nat-0"), "linked"]


def test_huge_identifier_builds_no_edges():
    k = 5000
    rows = pd.DataFrame({"buyer_id": [f"b{i}" for i in range(k)], "kind": "address", "key": "locker"})
    linker = IdentityLinker().fit(rows)
    assert linker.graph_.ecount() == 0
    assert linker.candidates_ == []
    assert (linker.scores_ == 0).all()


def test_common_identifier_is_context_not_binding():
    rows = pd.DataFrame(
        [("a", "device", "d1"), ("b", "device", "d1")] + [(f"x{i}", "address", "station") for i in range(98)]
        + [("a", "address", "station"), ("b", "address", "station")],
        columns=["buyer_id", "kind", "key"],
    )
    (cand,) = IdentityLinker().fit(rows).candidates_
    assert cand.buyers == ["a", "b"]
    assert cand.identifiers == [("device", "d1")]
    assert cand.details["context"] == [
        {"kind": "address", "key": "station", "n_buyers": 100, "n_members": 2, "weight": 0.005051}
    ]


def test_membership_is_a_partition_and_candidates_are_its_groups(fitted):
    linker, rows, *_ = fitted
    membership = linker.membership_
    assert membership.index.is_unique
    assert set(membership.index) == set(rows["buyer_id"])
    assert sorted(membership.unique()) == list(range(membership.nunique()))
    groups = membership.groupby(membership).groups
    seen: set[str] = set()
    for cand in linker.candidates_:
        assert cand.method == "identity"
        assert cand.buyers == sorted(cand.buyers) and len(cand.buyers) >= 2
        assert not seen & set(cand.buyers)
        seen |= set(cand.buyers)
        assert list(groups[cand.details["community"]]) == cand.buyers
        assert 0 < cand.strength < 1


def test_same_seed_same_membership_whatever_the_row_order(fitted):
    linker, rows, *_ = fitted
    again = IdentityLinker(seed=7).fit(rows.sample(frac=1.0, random_state=3))
    pd.testing.assert_series_equal(linker.membership_, again.membership_)
    assert [c.buyers for c in linker.candidates_] == [c.buyers for c in again.candidates_]
    pd.testing.assert_series_equal(linker.scores_, again.scores_)


def test_default_is_two_leiden_iterations_and_until_stable_still_keeps_the_ring(fitted):
    linker, rows, ring, station, nat = fitted
    assert IdentityLinker().n_iterations == 2  # fixed count: deterministic per seed, ~3.5x faster at 1M
    stable = IdentityLinker(seed=7, n_iterations=-1).fit(rows)
    for found in (linker, stable):
        assert len(found.membership_[ring].unique()) == 1
        assert not any(set(station) <= set(c.buyers) or set(nat) <= set(c.buyers) for c in found.candidates_)


def test_shared_identifiers_are_listed_in_kind_key_order_whatever_the_row_order(fitted):
    linker, rows, *_ = fitted
    for shuffled in (rows, rows.sample(frac=1.0, random_state=5)):
        table = IdentityLinker(seed=7).fit(shuffled).identifiers_
        assert (table["n_buyers"] >= 2).all()
        assert list(zip(table["kind"], table["key"])) == sorted(zip(table["kind"], table["key"]))
        pd.testing.assert_frame_equal(table, linker.identifiers_)


def test_candidate_identifiers_are_sorted_and_counted_per_kind():
    # Keys whose order differs between bytes, case and scripts: the listed identifiers are
    # sorted as Python sorts (kind, key) tuples, and per_kind counts them.
    keys = ["Zeta", "alpha", "\u00e9t\u00e9", "\u5317\u4eac-7", "10", "9", "a b"]
    rows = [(b, kind, key) for b in ("x", "y", "z") for kind in ("phone", "device") for key in keys]
    rows += [("x", "payment", "p-1"), ("y", "payment", "p-1"), ("w", "payment", "p-2")]
    frame = pd.DataFrame(rows, columns=["buyer_id", "kind", "key"]).sample(frac=1.0, random_state=3)
    (candidate,) = IdentityLinker(seed=0).fit(frame).candidates_
    assert candidate.buyers == ["x", "y", "z"]
    assert candidate.identifiers == sorted(candidate.identifiers)
    assert len(candidate.identifiers) == 2 * len(keys) + 1
    assert candidate.details["per_kind"] == {"device": len(keys), "payment": 1, "phone": len(keys)}
    assert list(candidate.details["per_kind"]) == sorted(candidate.details["per_kind"])


def test_scores_cover_every_buyer_in_unit_interval(fitted):
    linker, rows, ring, _, nat = fitted
    scores = IdentityLinker(seed=7).fit(rows, buyers=["lonely", ring[0]]).scores_
    assert set(scores.index) == set(rows["buyer_id"]) | {"lonely"}
    assert scores.between(0, 1).all()
    assert scores["lonely"] == 0
    assert (scores[nat] == 0).all()
    assert scores[ring].min() > scores.quantile(0.75)


@pytest.mark.parametrize(
    "data",
    [
        None,
        pd.DataFrame(columns=["buyer_id", "kind", "key"]),
        pd.DataFrame(),
        pa.table({"buyer_id": ["a", "b"], "kind": ["phone", "phone"], "key": ["p", "p"]}),
        pd.DataFrame({"buyer_id": ["a", "b", "c"], "kind": ["email", "email", None], "key": ["e", "e", "e"]}),
        pd.DataFrame({"buyer_id": ["a", "b", None], "kind": "address", "key": ["x", "x", "x"]}),
    ],
)
def test_thin_or_absent_input_degrades(data):
    linker = IdentityLinker().fit(data, buyers=["a"])
    assert "a" in linker.scores_.index
    assert linker.scores_.between(0, 1).all()
    assert linker.membership_.index.equals(linker.scores_.index)


def test_projection_without_required_columns_is_a_store_error():
    with pytest.raises(StoreError, match="buyer_identifiers"):
        IdentityLinker().fit(pd.DataFrame({"buyer_id": ["a"], "key": ["k"]}))


def test_modularity_objective_also_keeps_the_ring(fitted):
    _, rows, ring, station, _ = fitted
    linker = IdentityLinker(objective="modularity", seed=1).fit(rows)
    assert linker.membership_[ring].nunique() == 1
    assert linker.membership_[station].value_counts().max() <= 6


def test_golden_case():
    rows = pd.DataFrame(
        [
            ("a", "device", "d1"), ("b", "device", "d1"),
            ("a", "address", "x"), ("b", "address", "x"), ("c", "address", "x"),
            ("d", "payment", "p1"), ("e", "payment", "p1"),
            ("f", "ip", "i1"), ("g", "ip", "i1"),
            ("h", "ipnet", "n1"), ("i", "ipnet", "n1"), ("j", "ipnet", "n1"),
        ],
        columns=["buyer_id", "kind", "key"],
    )
    linker = IdentityLinker(seed=0).fit(rows, buyers=["z"])
    assert linker.membership_.to_dict() == {
        "a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 2, "g": 2, "h": 3, "i": 4, "j": 5, "z": 6
    }
    # Buyer evidence a, b: 0.9 + 2 * 0.25; c: 2 * 0.25; d, e: 1.0; f, g: 0.3 -> mid-ranks of 7.
    assert linker.scores_.to_dict() == pytest.approx(
        {"a": 6 / 7, "b": 6 / 7, "c": 2.5 / 7, "d": 4 / 7, "e": 4 / 7, "f": 1 / 7, "g": 1 / 7,
         "h": 0, "i": 0, "j": 0, "z": 0}
    )
    assert [(c.buyers, c.identifiers, c.strength) for c in linker.candidates_] == [
        (["a", "b", "c"], [("address", "x"), ("device", "d1")], pytest.approx(5 / 6)),
        (["d", "e"], [("payment", "p1")], 0.5),
        (["f", "g"], [("ip", "i1")], pytest.approx(1 / 6)),
    ]
    assert linker.candidates_[0].details["evidence"] == pytest.approx(1.1)
    assert linker.cutoffs_ == {"address": 25, "device": 45, "ip": 15, "ipnet": 2, "payment": 50}


def test_pairs_within_groups_enumerates_each_pair_once():
    group = np.array([0, 0, 0, 1, 2, 2])
    member = np.array([5, 6, 7, 8, 1, 9])
    a, b, g = pairs_within_groups(group, member)
    assert sorted(zip(a.tolist(), b.tolist(), g.tolist())) == [(1, 9, 2), (5, 6, 0), (5, 7, 0), (6, 7, 0)]


def test_midrank_ties_and_range():
    ranks = midrank(np.array([3.0, 1.0, 3.0, 2.0]))
    assert ranks.tolist() == [0.75, 0.125, 0.75, 0.375]
    assert midrank(np.array([0.1 + 0.2, 0.3])).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("params", [{"min_weight": 0}, {"objective": "louvain"}, {"min_size": 1}])
def test_bad_parameters_are_config_errors(params):
    with pytest.raises(ConfigError):
        IdentityLinker(**params).fit(None)


def test_an_arrow_projection_in_store_order_gives_what_a_shuffled_frame_gives(fitted):
    # The pipeline hands identity the store's Arrow table (sorted by buyer, kind, key) as it is.
    linker, rows, _, _, _ = fitted
    table = pa.Table.from_pandas(rows.sort_values(["buyer_id", "kind", "key"]), preserve_index=False)
    again = IdentityLinker(seed=7).fit(table)
    assert again.membership_.equals(linker.membership_)
    assert again.scores_.equals(linker.scores_)
    assert again.identifiers_.equals(linker.identifiers_)
    assert [(c.buyers, c.identifiers, c.details) for c in again.candidates_] == [
        (c.buyers, c.identifiers, c.details) for c in linker.candidates_
    ]


def test_connected_components_label_each_vertex_by_its_smallest_member():
    u, v = np.array([4, 1, 5, 2]), np.array([5, 2, 3, 0])
    assert connected_components(7, u, v).tolist() == [0, 0, 0, 3, 3, 3, 6]


def test_connected_components_partition_as_igraph_does():
    rng = np.random.default_rng(3)
    u, v = rng.integers(0, 5000, 4000), rng.integers(0, 5000, 4000)
    ours = connected_components(5000, u, v)
    theirs = np.asarray(igraph.Graph(n=5000, edges=list(zip(u.tolist(), v.tolist()))).connected_components().membership)
    # Same partition: each of our labels maps to exactly one of igraph's and back.
    pairs = set(zip(ours.tolist(), theirs.tolist()))
    assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.tolist())) > 1000


def test_encode_reads_dictionary_chunks_shared_or_not_as_their_strings():
    strings = pa.chunked_array([["k1", None, "k2"], ["k2", "k3"]])
    encoded = pc.dictionary_encode(strings.combine_chunks())
    shared = pa.chunked_array([encoded.slice(0, 3), encoded.slice(3)]).filter(pa.array([True, True, False, True, True]))
    assert shared.num_chunks == 2
    separate = pa.chunked_array([pa.array(["k9", "k1"]).dictionary_encode(), pa.array(["k3", "k1"]).dictionary_encode()])
    for column, expected in ((shared, ["k1", None, "k2", "k3"]), (separate, ["k9", "k1", "k3", "k1"])):
        codes, uniques = encode(column)
        assert [uniques[c].as_py() if c >= 0 else None for c in codes] == expected
