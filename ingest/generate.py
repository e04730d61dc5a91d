"""A synthetic marketplace with planted rings, honest look-alikes and ground truth.

``generate`` writes the input files of CONTRACT.md section 1 (orders in
chunks, buyers, sellers, items) plus ``truth.json`` and ``truth_buyers.csv``.
It is what detection quality is measured against, so it tries hard to be
honest about the problem:

* Every order, honest or not, starts from the same model of a buyer (home,
  work, devices, carrier NAT, family members) and the same order behaviour
  (prices, coupons, logistics, reviews). A tactic then changes only what the
  tactic changes, and only for part of its orders.
* Ring accounts, devices, addresses, phones, payment accounts, IPs and
  waybills are drawn from the same generators as honest ones: no id format,
  range or registration date gives them away.
* Honest groups that look dense (parcel stations, families, offices, company
  gifts, flash-sale crowds, carrier NAT, loyal customers) are planted on
  purpose and listed in the truth.

Everything is vectorised with numpy and pyarrow and written chunk by chunk,
so memory stays bounded (entity tables grow with the number of buyers, never
with the number of orders held at once). The same seed gives byte-identical
files. See ``docs/generate.md``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import ConfigError
from graph.progress import ProgressFn, report
from ingest import generate_data as V

__all__ = ["FORMATS", "LOOKALIKE_KINDS", "GenerateResult", "RingPlan", "generate", "plan_rings"]

FORMATS: tuple[str, ...] = ("csv", "csv.gz", "parquet", "jsonl")

# -- time ----------------------------------------------------------------------

TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991
START = int(datetime(2025, 9, 1, tzinfo=TZ).timestamp())  # a Monday
DAYS = 104  # orders are placed from Sep 1 to Dec 13 (local)
END = START + (DAYS + 1) * 86400  # the export is taken at Dec 15 00:00 local
HOUR, DAY, YEAR = 3600, 86400, 365 * 86400
DOUBLE_11, DOUBLE_12 = 71, 102  # day numbers of Nov 11 and Dec 12

# Local hour-of-day weights of honest ordering (evening peak, quiet small hours).
_HOUR_W = np.array([2.2, 1.2, .6, .35, .25, .3, .7, 1.5, 2.6, 3.6, 4.5, 4.6,
                   4.1, 4.0, 4.4, 4.5, 4.3, 4.0, 4.1, 5.1, 6.6, 7.6, 7.1, 4.6])
_WORK_W = np.where((np.arange(24) >= 9) & (np.arange(24) <= 18), 1.0, 0.05)
_FARM_W = np.where((np.arange(24) >= 10) & (np.arange(24) <= 23), 1.0, 0.1)


def _day_weights() -> np.ndarray:
    w = np.ones(DAYS)
    dow = np.arange(DAYS) % 7
    w[dow >= 5] *= 1.15
    w[30:37] *= 0.8  # National Day holiday: people travel
    w[61:71] *= 1.3  # Double 11 pre-sale
    w[DOUBLE_11] *= 9.0
    w[DOUBLE_11 + 1] *= 1.6
    w[DOUBLE_12] *= 3.0
    return w / w.sum()


# -- small vectorised helpers --------------------------------------------------

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_HEX16 = pa.array([f"{i:x}" for i in range(65536)])
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABC"}


def _hex_bytes(values: np.ndarray, nbytes: int = 8) -> np.ndarray:
    """Lower-case hex of the low ``nbytes`` bytes of uint64 values, zero-padded, as fixed-width bytes."""
    b = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nbytes :]
    return np.ascontiguousarray(_HEX[b]).view(f"S{2 * nbytes}").ravel()


def _hex(values: np.ndarray, nbytes: int = 8) -> pa.Array:
    return _text(_hex_bytes(values, nbytes))


def _text(values: np.ndarray) -> pa.Array:
    """Arrow strings from fixed-width ASCII bytes (ids are kept so: indexing them is cheap)."""
    return pa.array(values, pa.binary()).cast(pa.string())


def _by_kind(kind: np.ndarray, texts: dict[int, pa.Array]) -> pa.Array:
    """Rows of each kind from that kind's texts (given in row order for the rows of the kind)."""
    pos = np.empty(len(kind), np.int64)
    offset = 0
    for k, text in texts.items():
        rows = np.flatnonzero(kind == k)
        pos[rows] = offset + np.arange(len(rows))
        offset += len(rows)
    return pa.concat_arrays([t.cast(pa.string()) for t in texts.values()]).take(pa.array(pos))


def _groups(keys: np.ndarray, members: np.ndarray, min_size: int) -> list[tuple[int, np.ndarray]]:
    """(key, members) for each key with at least ``min_size`` members."""
    order = np.argsort(keys, kind="stable")
    keys, members = keys[order], members[order]
    uniq, start, count = np.unique(keys, return_index=True, return_counts=True)
    return [(int(k), members[a : a + c]) for k, a, c in zip(uniq, start, count) if c >= min_size]


def _pylist(values: np.ndarray) -> list[str]:
    return [v.decode() for v in values]


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _take(vocab: pa.Array, idx: np.ndarray) -> pa.Array:
    return vocab.take(pa.array(idx))


def _scatter(valid: np.ndarray, values: pa.Array) -> pa.Array:
    """Spread ``values`` (one per valid row) over all rows, null elsewhere."""
    pos = np.cumsum(valid) - 1
    return values.take(pa.array(pos, mask=~valid))


def _distinct(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """n distinct random integers in [lo, hi), in random order."""
    return lo + rng.choice(hi - lo, n, replace=False).astype(np.int64)


def _u64(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, n, dtype=np.uint64)


def _mix(a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """A stable pseudo-random uint64 per (a, b) pair (splitmix64)."""
    z = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64) + np.uint64(salt)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn with the row's (unnormalised) weights."""
    c = np.cumsum(weights, axis=1, dtype=np.float32)
    u = rng.random(len(weights), dtype=np.float32) * c[:, -1]
    return (u[:, None] >= c[:, :-1]).sum(axis=1)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0..k-1 for each count k, concatenated: the position of each row within its group."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _cities(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cities drawn by population."""
    return rng.choice(len(_CITIES), n, p=_CITY_POP / _CITY_POP.sum())


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


def _local_times(rng: np.random.Generator, days: np.ndarray, hour_w: np.ndarray) -> np.ndarray:
    """Epoch seconds at the given day numbers, hour drawn from local hour weights."""
    cdf = np.cumsum(hour_w) / hour_w.sum()
    hours = np.searchsorted(cdf, rng.random(len(days)), side="right")
    return START + days.astype(np.int64) * DAY + hours * HOUR + rng.integers(0, HOUR, len(days))


def _iso(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """ISO 8601 local time with the +08:00 offset, null where not valid."""
    local = pa.array(seconds + 8 * HOUR, pa.timestamp("s"), mask=None if valid is None else ~valid)
    return _join(pc.utf8_replace_slice(local.cast(pa.string()), 10, 11, "T"), "+08:00")


# -- vocabularies as arrays ----------------------------------------------------

_CITIES = [(p, c, pop, d) for p, cities in V.PROVINCES.items() for c, pop, d in cities]
_PROV_NAMES = pa.array([p for p, *_ in _CITIES])
_CITY_NAMES = pa.array([c for _, c, *_ in _CITIES])
_CITY_POP = np.array([pop for *_, pop, _ in _CITIES], float)
_CITY_REGION = np.array([i if not p else list(V.PROVINCES).index(p) + len(_CITIES) for i, (p, *_) in
                         enumerate(_CITIES)])
_CITY_REGION = np.unique(_CITY_REGION, return_inverse=True)[1]  # municipalities are regions of their own
N_REGIONS = int(_CITY_REGION.max()) + 1
_DIST_CITY = np.array([i for i, (*_, d) in enumerate(_CITIES) for _ in d])
_DIST_NAMES = pa.array([x for *_, d in _CITIES for x in d])
_CITY_DIST0 = np.searchsorted(_DIST_CITY, np.arange(len(_CITIES)))
_CITY_NDIST = np.bincount(_DIST_CITY)

_COMPOUNDS = [h + t for h in V.COMPOUND_HEADS for t in V.COMPOUND_TAILS]
_TOWERS = [h + t for h in V.TOWER_HEADS for t in V.TOWER_TAILS]
_CAMPUSES = [c.removesuffix("市") + k for _, c, *_ in _CITIES for k in V.CAMPUS_KINDS]
_SITE_NAMES = pa.array(_COMPOUNDS + _TOWERS + _CAMPUSES)
_TOWER0, _CAMPUS0 = len(_COMPOUNDS), len(_COMPOUNDS) + len(_TOWERS)
_STREETS = pa.array(V.STREETS)
_STATIONS = pa.array(V.STATION_NAMES)
_BWORDS = pa.array(["栋", "幢", "号楼"])
_SEPS = pa.array(["", " ", "，", ","])
_LETTERS = pa.array(["", "A座", "B座", "C座"])

_SURNAMES = pa.array(V.SURNAMES)
_GIVEN = pa.array([*V.GIVEN_CHARS, ""])  # the last entry: a one-character given name

_CAT = V.CATEGORIES
_CAT_NAMES = pa.array([c[0] for c in _CAT])
_CAT_INDEX = {c[0]: i for i, c in enumerate(_CAT)}
_CAT_PRICE = np.array([c[1] for c in _CAT], float)
_CAT_PSIG = np.array([c[2] for c in _CAT], float)
_CAT_WEIGHT = np.array([c[3] for c in _CAT], float)
_CAT_WSIG = np.array([c[4] for c in _CAT], float)
_CAT_SHARE = np.array([c[5] for c in _CAT], float) / sum(c[5] for c in _CAT)
_CAT_VIRTUAL = np.array([c[6] for c in _CAT])
_CAT_CONSUMABLE = np.array([c[7] for c in _CAT])
_NOUNS = [n for c in _CAT for n in c[8]]
_NOUN0 = np.cumsum([0] + [len(c[8]) for c in _CAT])[:-1]
_NOUN_N = np.array([len(c[8]) for c in _CAT])

_CARRIER_NAMES = pa.array([c[0] for c in V.CARRIERS])
_CARRIER_SHARE = np.array([c[4] for c in V.CARRIERS]) / sum(c[4] for c in V.CARRIERS)

# Review texts are made of four fragments from one table (0 is the empty fragment).
_FRAG_GROUPS = {
    "open": V.REVIEW_OPENERS,
    "pos": V.REVIEW_POSITIVE,
    "pos2": tuple("，" + p for p in V.REVIEW_POSITIVE),
    "close": V.REVIEW_CLOSERS,
    "short": V.REVIEW_SHORT,
    "default": V.REVIEW_DEFAULT,
    "neutral": V.REVIEW_NEUTRAL,
    "neg": V.REVIEW_NEGATIVE,
    "neg2": tuple("，" + n for n in V.REVIEW_NEGATIVE),
    "negclose": V.REVIEW_NEGATIVE_CLOSERS,
}
_FRAGS = pa.array(["", *(f for g in _FRAG_GROUPS.values() for f in g)])
_FRAG0 = dict(zip(_FRAG_GROUPS, 1 + np.cumsum([0] + [len(g) for g in _FRAG_GROUPS.values()])[:-1]))
_REASONS = pa.array([*V.REFUND_REASONS_HONEST, *V.REFUND_REASONS_CLAIM])
_CLAIM0 = len(V.REFUND_REASONS_HONEST)


def _frag(rng: np.random.Generator, group: str, n: int) -> np.ndarray:
    return _FRAG0[group] + rng.integers(0, len(_FRAG_GROUPS[group]), n)


# -- entity tables -------------------------------------------------------------


class _Table:
    """Typed columns of an entity table, grown with ``add`` while the world is built."""

    def __init__(self, **dtypes: type):
        self._dtypes = dtypes
        self._parts: dict[str, list[np.ndarray]] = {n: [] for n in dtypes}
        self.n = 0
        self.c: dict[str, np.ndarray] = {}

    def add(self, **cols: Any) -> np.ndarray:
        k = max(np.size(v) for v in cols.values())
        for name, parts in self._parts.items():
            parts.append(np.broadcast_to(np.asarray(cols[name]).astype(self._dtypes[name]), (k,)).copy())
        ids = np.arange(self.n, self.n + k)
        self.n += k
        return ids

    def column(self, name: str) -> np.ndarray:
        """A column while the table still grows."""
        return np.concatenate(self._parts[name])

    def freeze(self) -> None:
        self.c = {n: np.concatenate(p).astype(self._dtypes[n]) for n, p in self._parts.items()}
        self._parts = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.c[name]


def _nonzero_groups(rng: np.random.Generator, n: int, groups: int) -> np.ndarray:
    """Random uint64 whose low ``groups`` 16-bit groups are all non-zero (no '::' in IPv6 text)."""
    v = np.zeros(n, np.uint64)
    for g in range(groups):
        v |= rng.integers(1, 65536, n).astype(np.uint64) << np.uint64(16 * g)
    return v


@dataclass
class _Ring:
    """A planted ring: its truth record and its orders (a frame)."""

    ring_id: str
    ring_type: str
    tactic: str
    buyers: np.ndarray
    targets: np.ndarray
    frame: dict[str, np.ndarray]
    pools: dict[str, np.ndarray] = field(default_factory=dict)


# -- the world -----------------------------------------------------------------


class _World:
    """Geography, sellers, items, buyers and every identifier they own.

    Sizes follow the number of orders: about 3.6 orders per buyer and 160 per
    seller over the 104 days, both heavy-tailed.
    """

    def __init__(self, n_orders: int, rng: np.random.Generator):
        self.rng = rng
        self.n_orders = n_orders
        i8, i16, i32, i64, u64 = np.int8, np.int16, np.int32, np.int64, np.uint64
        self.addresses = _Table(kind=i8, site=i32, bld=i16, unit=i16, room=i16, letter=i8, station=i8)
        self.sites = _Table(district=i32, street=i32, no=i32, name=i32)
        self.devices = _Table(kind=i8, hi=u64, lo=u64)
        self.ips = _Table(ver=i8, hi=u64, lo=u64)
        self.phones = _Table(number=i64)
        self.payments = _Table(hi=u64, lo=u64)
        self.persons = _Table(sur=i16, g1=i16, g2=i16)
        self._geography()
        self._sellers_and_items()
        self._buyers()

    # geography and identifier generators (honest and ring identifiers both come from here)

    def _geography(self) -> None:
        rng = self.rng
        n_sites = max(60, self.n_orders // 40)
        city = np.concatenate([np.arange(len(_CITIES)), _cities(rng, n_sites)])
        self.res_site0, self.res_nsite = self._new_sites(city, name_lo=0, name_hi=len(_COMPOUNDS))
        n_towers = max(30, self.n_orders // 400)
        city = np.concatenate([np.arange(len(_CITIES)), _cities(rng, n_towers)])
        self.office_site0, self.office_nsite = self._new_sites(city, name_lo=_TOWER0, name_hi=_CAMPUS0)
        # Carriers' address blocks: per region and carrier (0 mobile, 1 telecom, 2 unicom) a few /16s
        # for home broadband and mobile NAT, and a /32 for IPv6.
        first = {0: [36, 39, 111, 112, 117, 120, 183, 211, 223], 1: [58, 59, 60, 61, 113, 114, 115, 116, 117,
                 118, 119, 121, 122, 124, 125, 180, 182, 183, 202, 218, 219, 220, 221, 222],
                 2: [27, 42, 60, 61, 101, 110, 111, 112, 113, 123, 175, 182, 221]}
        self.blocks = np.zeros((N_REGIONS, 3, 4), np.uint64)
        for c, octets in first.items():
            a = rng.choice(octets, (N_REGIONS, 4))
            b = rng.integers(0, 256, (N_REGIONS, 4))
            self.blocks[:, c, :] = (a.astype(np.uint64) << np.uint64(24)) | (b.astype(np.uint64) << np.uint64(16))
        v6 = np.array([0x2409, 0x240E, 0x2408], np.uint64)
        self.v6_32 = (v6[None, :] << np.uint64(16)) | rng.integers(0x1000, 0xFFFF, (N_REGIONS, 3)).astype(np.uint64)
        # Mobile carrier NAT: a handful of public IPs per region and carrier, shared by everyone on 4G/5G.
        n_nat = max(N_REGIONS * 3, self.n_orders // 2500)
        region_pop = np.bincount(_CITY_REGION, _CITY_POP)
        share = (region_pop[:, None] * np.array([0.6, 0.2, 0.2])[None, :]).ravel()
        size = np.maximum(1, np.round(n_nat * share / share.sum())).astype(int)
        self.nat0 = np.zeros(N_REGIONS * 3, np.int64)
        for k, s in enumerate(size):
            r, c = divmod(k, 3)
            self.nat0[k] = self.new_v4(np.full(s, r), np.full(s, c))[0]
        self.nat_n = size.reshape(N_REGIONS, 3)
        self.nat0 = self.nat0.reshape(N_REGIONS, 3)

    def _new_sites(self, city: np.ndarray, name_lo: int, name_hi: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        n = len(city)
        district = _CITY_DIST0[city] + (rng.random(n) * _CITY_NDIST[city]).astype(int)
        street = rng.integers(0, len(V.STREETS), n)
        no = np.minimum(1 + rng.geometric(1 / 120, n), 2999)
        key = (district.astype(np.int64) * 1000 + street) * 4000 + no
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        city, district, street, no = city[first], district[first], street[first], no[first]
        order = np.argsort(city, kind="stable")
        ids = self.sites.add(district=district[order], street=street[order], no=no[order],
                             name=rng.integers(name_lo, name_hi, len(order)))
        counts = np.bincount(city[order], minlength=len(_CITIES))
        return ids[0] + np.cumsum(counts) - counts, counts

    def new_homes(self, city: np.ndarray) -> np.ndarray:
        """New residential addresses (apartments) in the given cities."""
        rng = self.rng
        n = len(city)
        site = self.res_site0[city] + (rng.random(n) * self.res_nsite[city]).astype(int)
        floor = 1 + np.minimum(rng.geometric(0.12, n), 33)
        return self.addresses.add(kind=0, site=site, bld=np.minimum(rng.geometric(0.12, n), 40),
                                  unit=1 + rng.integers(0, 4, n), room=floor * 100 + rng.integers(1, 5, n),
                                  letter=0, station=-1)

    def new_offices(self, city: np.ndarray) -> np.ndarray:
        rng = self.rng
        n = len(city)
        site = self.office_site0[city] + (rng.random(n) * self.office_nsite[city]).astype(int)
        floor = rng.integers(2, 40, n)
        return self.addresses.add(kind=1, site=site, bld=0, unit=0, room=floor * 100 + rng.integers(1, 20, n),
                                  letter=rng.choice(4, n, p=[.55, .2, .15, .1]), station=-1)

    def new_stations(self, site: np.ndarray) -> np.ndarray:
        """A parcel station (驿站, lockers) at each of the given sites."""
        return self.addresses.add(kind=2, site=site, bld=0, unit=0, room=0, letter=0,
                                  station=self.rng.integers(0, len(V.STATION_NAMES), len(site)))

    def new_devices(self, n: int) -> np.ndarray:
        rng = self.rng
        kind = rng.choice(3, n, p=[0.55, 0.35, 0.10])  # Android id, iOS IDFV, web fingerprint
        hi = np.where(kind == 0, np.uint64(0), _u64(rng, n))  # an Android id is 64 bits
        return self.devices.add(kind=kind, hi=hi, lo=_u64(rng, n))

    def new_v4(self, region: np.ndarray, carrier: np.ndarray) -> np.ndarray:
        """New IPv4 addresses, each in some /24 of the carrier's blocks in the region."""
        return self.new_networks(region, carrier, np.ones(len(region), int))

    def new_networks(self, region: np.ndarray, carrier: np.ndarray, hosts: np.ndarray) -> np.ndarray:
        """For each k, ``hosts[k]`` new IPv4 addresses in one /24 of the carrier's blocks in ``region[k]``
        (an office, a campus, a farm). Returns the id of the first address of each network."""
        rng = self.rng
        n = len(region)
        net = self.blocks[region, carrier, rng.integers(0, 4, n)] | (rng.integers(0, 256, n).astype(np.uint64) << 8)
        net = np.repeat(net, hosts)
        ids = self.ips.add(ver=4, hi=0, lo=net | rng.integers(2, 255, len(net)).astype(np.uint64))
        return ids[0] + np.cumsum(hosts) - hosts

    def new_v6(self, region: np.ndarray, carrier: np.ndarray, per_net: int) -> np.ndarray:
        """IPv6 home addresses: ``per_net`` privacy addresses in each new /64 (one per region)."""
        rng = self.rng
        n = len(region)
        hi = (self.v6_32[region, carrier] << np.uint64(32)) | _nonzero_groups(rng, n, 2)
        hi = np.repeat(hi, per_net)
        return self.ips.add(ver=6, hi=hi, lo=_nonzero_groups(rng, n * per_net, 4))

    def new_phones(self, n: int) -> np.ndarray:
        rng = self.rng
        prefix = rng.choice(np.array(V.PHONE_PREFIXES, np.int64), n)
        return self.phones.add(number=prefix * 10**8 + rng.integers(0, 10**8, n))

    def new_payments(self, n: int) -> np.ndarray:
        rng = self.rng
        return self.payments.add(hi=_u64(rng, n), lo=_u64(rng, n))

    def new_persons(self, n: int) -> np.ndarray:
        rng = self.rng
        sur = np.minimum(rng.geometric(0.045, n) - 1, len(V.SURNAMES) - 1)
        g2 = np.where(rng.random(n) < 0.25, len(V.GIVEN_CHARS), rng.integers(0, len(V.GIVEN_CHARS), n))
        return self.persons.add(sur=sur, g1=rng.integers(0, len(V.GIVEN_CHARS), n), g2=g2)

    # sellers and items

    def _sellers_and_items(self) -> None:
        rng = self.rng
        ns = max(15, round(self.n_orders / 160))
        self.n_sellers = ns
        self.seller_ids = np.char.add(b"s", _distinct(rng, 10**7, 10**8, ns).astype("S8"))
        cat = rng.choice(len(_CAT), ns, p=_CAT_SHARE)
        basics = [_CAT_INDEX[c] for c in ("女装", "食品零食", "数码配件")]
        cat[: min(ns, 3)] = basics[: min(ns, 3)]  # a tiny world still sells parcels
        self.seller_cat = cat
        self.seller_city = _cities(rng, ns)
        self.seller_pop = _lognormal(rng, 1.0, 1.6, ns)
        age = np.where(rng.random(ns) < 0.2, rng.uniform(0.05, 1, ns), _lognormal(rng, 3.0, 0.6, ns))
        self.seller_reg = START - (np.minimum(age, 13) * YEAR).astype(np.int64)
        self.seller_carrier = np.stack([rng.choice(len(V.CARRIERS), ns, p=_CARRIER_SHARE),
                                        rng.choice(len(V.CARRIERS), ns, p=_CARRIER_SHARE)], axis=1)
        self.seller_names = _join(_take(pa.array(V.SHOP_HEADS), rng.integers(0, len(V.SHOP_HEADS), ns)),
                                  _take(_CAT_NAMES, cat),
                                  _take(pa.array(V.SHOP_TAILS), rng.integers(0, len(V.SHOP_TAILS), ns)))

        n_items = np.minimum(rng.geometric(1 / 6, ns), 200)
        self.item0 = np.cumsum(n_items) - n_items
        self.n_items = n_items
        ni = int(n_items.sum())
        seller = np.repeat(np.arange(ns), n_items)
        rank = np.arange(ni) - self.item0[seller]
        icat = np.where(rng.random(ni) < 0.9, cat[seller], rng.choice(len(_CAT), ni, p=_CAT_SHARE))
        self.item_seller, self.item_cat = seller, icat
        self.item_ids = _distinct(rng, 5 * 10**11, 9 * 10**11, ni).astype("S12")
        raw = _CAT_PRICE[icat] * np.exp(_CAT_PSIG[icat] * rng.standard_normal(ni))
        ending = rng.choice(np.array([0.9, 0.0, 0.99, 0.5, 0.8]), ni, p=[.35, .3, .15, .1, .1])
        self.item_cents = np.round((np.floor(np.maximum(raw, 1)) + ending) * 100).astype(np.int64)
        self.item_weight = _CAT_WEIGHT[icat] * np.exp(_CAT_WSIG[icat] * rng.standard_normal(ni))
        self.item_virtual = _CAT_VIRTUAL[icat]
        noun = _NOUN0[icat] + (rng.random(ni) * _NOUN_N[icat]).astype(int)
        adj = pa.array(V.TITLE_ADJECTIVES)
        self.item_titles = _join(_take(adj, rng.integers(0, len(adj), ni)), " ",
                                 _take(pa.array(V.SHOP_HEADS), rng.integers(0, len(V.SHOP_HEADS), ni)), " ",
                                 _take(pa.array(_NOUNS), noun), " ",
                                 _take(adj, rng.integers(0, len(adj), ni)))
        within = (1.0 / (1 + rank) ** 1.1) * _lognormal(rng, 1.0, 0.4, ni)
        self.item_pop = self.seller_pop[seller] * within / np.bincount(seller, within)[seller]
        # Flash-sale items: popular physical goods, promoted at midnight of Double 11 and Double 12.
        physical = np.flatnonzero(~self.item_virtual)
        top = physical[np.argsort(-self.item_pop[physical], kind="stable")[: max(3, ni // 50)]]
        self.flash = {d: rng.choice(top, min(len(top), int(rng.integers(6, 16))), replace=False)
                      for d in (DOUBLE_11, DOUBLE_12)}

    # buyers, households, offices, campuses

    def _buyers(self) -> None:
        rng = self.rng
        nb = max(60, round(self.n_orders / 3.6))
        self.n_buyers = nb
        self.buyer_ids = _hex_bytes(_distinct(rng, 2**47, 2**48, nb).astype(np.uint64), 6)
        # Households: most have one account, families share a home and often a device, phone or payment.
        sizes = rng.choice([1, 2, 3, 4, 5], nb, p=[.86, .08, .04, .015, .005])
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), nb) + 1]
        sizes[-1] -= sizes.sum() - nb
        nh = len(sizes)
        hh = np.repeat(np.arange(nh, dtype=np.int32), sizes)
        self.hh, self.hh_size = hh, sizes
        self.hh_main = np.cumsum(sizes) - sizes  # the first account of each household
        hh_city = _cities(rng, nh)
        city = hh_city[hh]
        self.buyer_city = city.astype(np.int16)
        region = _CITY_REGION[city]
        family = sizes[hh] > 1
        kind = np.where(~family & (rng.random(nb) < 0.08), 2, np.where(rng.random(nb) < 0.42, 1, 0))
        self.person = self.new_persons(nb).astype(np.int32)

        # Addresses: home (slot 0), work or campus station (1), a relative's home or a community station (2).
        home = self.new_homes(hh_city)[hh]
        addr = np.full((nb, 3), -1, np.int32)
        aw = np.zeros((nb, 3), np.uint8)
        addr[:, 0] = home
        aw[:, 0] = 100
        self.company = np.full(nb, -1, np.int32)
        self.campus = np.full(nb, -1, np.int32)
        ip_start = np.zeros((nb, 3), np.int32)
        ip_n = np.zeros((nb, 3), np.int32)
        iw = np.zeros((nb, 3), np.uint8)

        # Office workers: colleagues share the office address and the company's egress IPs.
        workers = np.flatnonzero(kind == 1)
        workers = workers[np.argsort(city[workers], kind="stable")]
        if len(workers):
            csize = np.clip(np.round(_lognormal(rng, 5, 1.1, len(workers))), 2, 400).astype(int)
            cuts = np.cumsum(csize)
            cuts = cuts[cuts < len(workers)]
            cuts = np.union1d(cuts, np.flatnonzero(np.diff(city[workers])) + 1)
            company = np.zeros(len(workers), int)
            company[cuts] = 1
            company = np.cumsum(company)
            nc = int(company[-1]) + 1
            ccity = city[workers[np.r_[0, cuts]]]
            office = self.new_offices(ccity)
            egress_n = rng.integers(1, 5, nc)
            creg = _CITY_REGION[ccity]
            ccarrier = rng.integers(1, 3, nc)
            egress0 = self.new_networks(creg, ccarrier, egress_n)
            self.company[workers] = company
            self.company_office, self.company_ip0, self.company_nip = office, egress0, egress_n
            addr[workers, 1] = office[company]
            aw[workers, 1] = rng.integers(20, 60, len(workers))
            ip_start[workers, 2], ip_n[workers, 2] = egress0[company], egress_n[company]
            iw[workers, 2] = rng.integers(15, 45, len(workers))
        else:
            self.company_office = self.company_ip0 = self.company_nip = np.zeros(0, np.int64)

        # Students: a campus parcel station for hundreds, the campus network's few egress IPs.
        students = np.flatnonzero(kind == 2)
        ncamp = max(1, round(len(students) / 350)) if len(students) else 0
        self.campus_stations: list[np.ndarray] = []
        if ncamp:
            camp_city = _cities(rng, ncamp)
            camp_of = rng.integers(0, ncamp, len(students))
            self.campus[students] = camp_of
            for c in range(ncamp):
                site = self.sites.add(district=_CITY_DIST0[camp_city[c]] + rng.integers(0, _CITY_NDIST[camp_city[c]]),
                                      street=rng.integers(0, len(V.STREETS)), no=rng.integers(1, 999),
                                      name=_CAMPUS0 + camp_city[c] * len(V.CAMPUS_KINDS)
                                      + rng.integers(0, len(V.CAMPUS_KINDS)))[0]
                stations = self.new_stations(np.full(int(rng.integers(1, 3)), site))
                self.campus_stations.append(stations)
                members = students[camp_of == c]
                addr[members, 1] = stations[rng.integers(0, len(stations), len(members))]
                egress = self.new_networks(_CITY_REGION[camp_city[c : c + 1]], np.ones(1, int), np.full(1, 8))
                ip_start[members, 2], ip_n[members, 2] = egress[0], 8
            aw[students, 0] = rng.integers(5, 20, len(students))
            aw[students, 1] = 100
            iw[students, 2] = rng.integers(50, 90, len(students))

        # Alternative address: a community parcel station at home (shared by neighbours) or a relative's home.
        alt = np.flatnonzero(rng.random(nb) < 0.25)
        use_station = rng.random(len(alt)) < 0.35
        site_of_home = self.addresses.column("site")[home[alt[use_station]]]
        sites, inverse = np.unique(site_of_home, return_inverse=True)
        addr[alt[use_station], 2] = self.new_stations(sites)[inverse]
        addr[alt[~use_station], 2] = self.new_homes(_cities(rng, int((~use_station).sum())))
        aw[alt, 2] = rng.integers(5, 25, len(alt))
        self.addr, self.addr_w = addr, aw

        # Devices: own phone, a second device for some, a shared family tablet or laptop.
        dev = np.full((nb, 3), -1, np.int32)
        dw = np.zeros((nb, 3), np.uint8)
        dev[:, 0] = self.new_devices(nb)
        dw[:, 0] = 100
        second = np.flatnonzero(rng.random(nb) < 0.4)
        dev[second, 1] = self.new_devices(len(second))
        dw[second, 1] = rng.integers(5, 40, len(second))
        share_dev = (sizes > 1) & (rng.random(nh) < 0.6)
        hdev = np.full(nh, -1, np.int64)
        hdev[share_dev] = self.new_devices(int(share_dev.sum()))
        fam = np.flatnonzero(share_dev[hh])
        dev[fam, 2] = hdev[hh[fam]]
        dw[fam, 2] = rng.integers(20, 70, len(fam))
        # Second-hand phones keep their device id: two strangers share it.
        single = np.flatnonzero(sizes[hh] == 1)
        n_pairs = max(1, nb // 200) if len(single) > nb // 100 + 2 else 0
        pairs = rng.choice(single, (n_pairs, 2), replace=False)
        dev[pairs[:, 1], 1] = dev[pairs[:, 0], 0]
        dw[pairs[:, 1], 1] = rng.integers(60, 200, len(pairs))
        self.resold = pairs
        self.dev, self.dev_w, self.hh_dev = dev, dw, hdev

        # IPs: carrier NAT on mobile (slot 0), home broadband v4 or v6 (1), office or campus egress (2).
        carrier = rng.choice(3, nb, p=[0.6, 0.2, 0.2])
        ip_start[:, 0] = self.nat0[region, carrier]
        ip_n[:, 0] = self.nat_n[region, carrier]
        iw[:, 0] = rng.integers(30, 80, nb)
        hcarrier = rng.choice([1, 2], nh, p=[0.6, 0.4])
        hreg = _CITY_REGION[hh_city]
        v6 = rng.random(nh) < 0.35
        hip0 = np.zeros(nh, np.int64)
        hipn = np.where(v6, 3, rng.integers(1, 4, nh))
        n4 = int(hipn[~v6].sum())
        if n4:
            ids4 = self.new_v4(np.repeat(hreg[~v6], hipn[~v6]), np.repeat(hcarrier[~v6], hipn[~v6]))
            hip0[~v6] = ids4[0] + np.cumsum(hipn[~v6]) - hipn[~v6]
        if v6.any():
            ids6 = self.new_v6(hreg[v6], hcarrier[v6], 3)
            hip0[v6] = ids6[0] + 3 * np.arange(int(v6.sum()))
        at_home = kind != 2
        ip_start[:, 1], ip_n[:, 1] = hip0[hh], hipn[hh]
        iw[:, 1] = np.where(at_home, rng.integers(20, 70, nb), 3)
        self.ip_start, self.ip_n, self.ip_w = ip_start, ip_n, iw
        self.hh_ip0, self.hh_ipn = hip0, hipn

        # Phones and payment accounts: own, a second one for some, the family's shared one.
        phone = np.full((nb, 3), -1, np.int32)
        pw = np.zeros((nb, 3), np.uint8)
        phone[:, 0] = self.new_phones(nb)
        pw[:, 0] = 100
        second = np.flatnonzero(rng.random(nb) < 0.08)
        phone[second, 1] = self.new_phones(len(second))
        pw[second, 1] = rng.integers(10, 50, len(second))
        share_phone = (sizes > 1) & (rng.random(nh) < 0.5)
        fam = np.flatnonzero(share_phone[hh] & (np.arange(nb) != self.hh_main[hh]))
        phone[fam, 2] = phone[self.hh_main[hh[fam]], 0]
        pw[fam, 2] = rng.integers(30, 90, len(fam))
        self.phone, self.phone_w = phone, pw

        pay = np.full((nb, 3), -1, np.int32)
        yw = np.zeros((nb, 3), np.uint8)
        pay[:, 0] = self.new_payments(nb)
        yw[:, 0] = 100
        second = np.flatnonzero(rng.random(nb) < 0.3)
        pay[second, 1] = self.new_payments(len(second))
        yw[second, 1] = rng.integers(10, 60, len(second))
        share_pay = (sizes > 1) & (rng.random(nh) < 0.3)
        fam = np.flatnonzero(share_pay[hh] & (np.arange(nb) != self.hh_main[hh]))
        pay[fam, 2] = pay[self.hh_main[hh[fam]], 0]
        yw[fam, 2] = rng.integers(30, 90, len(fam))
        self.pay, self.pay_w = pay, yw

        # Activity, loyalty, registration.
        self.activity = _lognormal(rng, 1.0, 1.1, nb)
        loyal = np.flatnonzero(rng.random(nb) < 0.12)
        consumable = np.flatnonzero(_CAT_CONSUMABLE[self.item_cat] & ~self.item_virtual)
        self.loyalty = np.zeros(nb, np.float32)
        self.fav_item = np.full(nb, -1, np.int32)
        if len(consumable):
            p = self.item_pop[consumable] / self.item_pop[consumable].sum()
            self.fav_item[loyal] = rng.choice(consumable, len(loyal), p=p)
            self.loyalty[loyal] = rng.uniform(0.3, 0.8, len(loyal))
            self.activity[loyal] *= rng.uniform(1.5, 4, len(loyal))
        new = rng.random(nb) < 0.12
        age = np.minimum(_lognormal(rng, 4.0, 0.6, nb), 15)
        self.reg_abs = np.where(new, -1, START - (age * YEAR).astype(np.int64) - rng.integers(0, DAY, nb))
        self.reg_gap = np.minimum(_lognormal(rng, 3 * DAY, 1.2, nb), YEAR).astype(np.int32)
        self.eligible = (~family) & (kind != 2) & (self.fav_item < 0)  # never in a look-alike group
        self.eligible[self.resold.ravel()] = False

    def freeze(self) -> None:
        for t in (self.addresses, self.sites, self.devices, self.ips, self.phones, self.payments, self.persons):
            t.freeze()
        a = self.addresses
        key = ((((a["kind"].astype(np.int64) * 2**26 + a["site"]) * 64 + a["bld"]) * 16 + a["unit"]) * 8192
               + a["room"]) * 32 + a["letter"] * 8 + (a["station"] + 1)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        self.addr_canon = first[inv]  # typing the same apartment twice gives one address
        self.item_cdf = np.cumsum(self.item_pop)
        self.buyer_cdf = np.cumsum(self.activity)

    # rendering of identifiers

    def address_text(self, ids: np.ndarray, var: np.ndarray | None = None) -> pa.Array:
        """Addresses as typed. ``var`` (uint64 per row) picks the typing habits; None = canonical."""
        a, s = self.addresses, self.sites
        ids = self.addr_canon[ids]
        kind, site = a["kind"][ids], a["site"][ids]
        district = s["district"][site]
        city = _DIST_CITY[district]
        n = len(ids)
        if var is None:
            var = np.zeros(n, np.uint64)
        v = (var & np.uint64(0xFFFFFFFF)).astype(np.int64)
        bword = np.select([v % 100 < 60, v % 100 < 75], [0, 1], 2)
        sep = np.searchsorted([55, 85, 95], (v // 100) % 100, side="right")
        omit = ((v // 10_000) % 100 < 15) & (pc.utf8_length(_take(_PROV_NAMES, city)).to_numpy() > 0)
        wide = (v // 1_000_000) % 100 < 8
        if var is not None and not var.any():
            bword, sep, omit, wide = np.zeros(n, int), np.zeros(n, int), np.zeros(n, bool), np.zeros(n, bool)
        sep_s = _take(_SEPS, sep)
        prov = pc.if_else(pa.array(omit), "", _take(_PROV_NAMES, city))
        prov = pc.if_else(pc.equal(prov, ""), "", _join(prov, sep_s))
        street = _join(_take(_STREETS, s["street"][site]), _str(s["no"][site]), "号")
        res = _join(_str(a["bld"][ids]), _take(_BWORDS, bword), _str(a["unit"][ids]), "单元",
                    _str(a["room"][ids]), "室")
        office = _join(_take(_LETTERS, a["letter"][ids]), _str(a["room"][ids]), "室")
        station = _take(_STATIONS, np.maximum(a["station"][ids], 0))
        detail = pc.if_else(pa.array(kind == 0), res, pc.if_else(pa.array(kind == 1), office, station))
        text = _join(prov, _take(_CITY_NAMES, city), sep_s, _take(_DIST_NAMES, district), sep_s, street, sep_s,
                     _take(_SITE_NAMES, s["name"][site]), sep_s, detail)
        if wide.any():
            sub = text.filter(pa.array(wide))
            for c, w in _FULLWIDTH.items():
                sub = pc.replace_substring(sub, c, w)
            text = pc.replace_with_mask(text, pa.array(wide), sub)
        return text

    def device_text(self, ids: np.ndarray) -> pa.Array:
        d = self.devices
        kind, hi, lo = d["kind"][ids], d["hi"][ids], d["lo"][ids]
        android = _text(_hex_bytes(lo[kind == 0]))
        h32 = np.concatenate([_hex_bytes(hi[kind > 0]).view(np.uint8).reshape(-1, 16),
                              _hex_bytes(lo[kind > 0]).view(np.uint8).reshape(-1, 16)], axis=1)
        web = _text(np.ascontiguousarray(h32[kind[kind > 0] == 2]).view("S32").ravel())
        uuid = h32[kind[kind > 0] == 1]
        uuid = np.where(uuid >= ord("a"), uuid - 32, uuid).astype(np.uint8)  # iOS writes upper case
        dash = np.full((len(uuid), 1), ord("-"), np.uint8)
        uuid = np.concatenate([uuid[:, :8], dash, uuid[:, 8:12], dash, uuid[:, 12:16], dash, uuid[:, 16:20], dash,
                               uuid[:, 20:]], axis=1)
        parts = {0: android, 1: _text(np.ascontiguousarray(uuid).view("S36").ravel()), 2: web}
        return _by_kind(kind, parts)

    def ip_text(self, ids: np.ndarray) -> pa.Array:
        t = self.ips
        ver, hi, lo = t["ver"][ids], t["hi"][ids], t["lo"][ids]
        lo4 = lo[ver == 4]
        v4 = pc.binary_join_element_wise(*(_str((lo4 >> np.uint64(s)) & np.uint64(255)) for s in (24, 16, 8, 0)), ".")
        hi6, lo6 = hi[ver == 6], lo[ver == 6]
        groups = [(x >> np.uint64(s)) & np.uint64(0xFFFF) for x in (hi6, lo6) for s in (48, 32, 16, 0)]
        v6 = pc.binary_join_element_wise(*(_take(_HEX16, g.astype(np.int64)) for g in groups), ":")
        return _by_kind(ver, {4: v4, 6: v6})

    def ip_net(self, ids: np.ndarray) -> np.ndarray:
        """A number per /24 (IPv4) or /64 (IPv6) network, for counting."""
        t = self.ips
        return np.where(t["ver"][ids] == 4, t["lo"][ids] >> np.uint64(8), t["hi"][ids])

    def phone_text(self, ids: np.ndarray, masked: np.ndarray, var: np.ndarray) -> pa.Array:
        s = _str(self.phones["number"][ids])
        head, mid, tail = (pc.utf8_slice_codeunits(s, a, b) for a, b in ((0, 3), (3, 7), (7, 11)))
        v = (var % np.uint64(100)).astype(np.int64)
        spaced = pc.binary_join_element_wise(head, mid, tail, pc.if_else(pa.array(v < 92), " ", "-"))
        full = pc.if_else(pa.array(v < 80), s, pc.if_else(pa.array(v < 96), spaced, _join("+86 ", s)))
        return pc.if_else(pa.array(masked), _join(head, "****", tail), full)

    def payment_text(self, ids: np.ndarray) -> pa.Array:
        return _join(_hex(self.payments["hi"][ids]), _hex(self.payments["lo"][ids]))

    def person_text(self, ids: np.ndarray) -> pa.Array:
        p = self.persons
        return _join(_take(_SURNAMES, p["sur"][ids]), _take(_GIVEN, p["g1"][ids]), _take(_GIVEN, p["g2"][ids]))


# -- orders as frames of numbers -----------------------------------------------

# Order frame columns. Times are epoch seconds; delays are seconds after the previous step.
_FRAME = {
    "t": np.int64, "buyer": np.int64, "item": np.int64, "qty": np.int32, "price": np.int64, "amount": np.int64,
    "addr": np.int64, "person": np.int64, "phone": np.int64, "masked": bool, "device": np.int64, "ip": np.int64,
    "pay": np.int64, "carrier": np.int64, "weight": np.float64, "ship_d": np.int64, "deliv_d": np.int64,
    "conf_d": np.int64, "rev_d": np.int64, "cancel": bool, "unpaid": bool, "refund": np.int64, "rating": np.int8,
    "f1": np.int64, "f2": np.int64, "f3": np.int64, "f4": np.int64, "chat": np.int32, "upd": bool,
    "ring": np.int64, "block": np.int64, "pos": np.int64, "used": np.int64,
}


def _concat(frames: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not frames:
        return {k: np.zeros(0, dt) for k, dt in _FRAME.items()}
    return {k: np.concatenate([f[k] for f in frames]).astype(dt, copy=False) for k, dt in _FRAME.items()}


def _select(frame: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in frame.items()}


def _base_orders(w: _World, rng: np.random.Generator, buyer: np.ndarray, item: np.ndarray,
                 t: np.ndarray) -> dict[str, np.ndarray]:
    """Orders as the buyer would place them honestly: the one starting point of every order."""
    n = len(buyer)
    seller = w.item_seller[item]
    virtual = w.item_virtual[item]
    f: dict[str, np.ndarray] = {"t": t.astype(np.int64), "buyer": buyer, "item": item}
    qty = np.ones(n, np.int32)
    more = rng.random(n) < 0.14
    qty[more] += np.minimum(rng.geometric(0.55, int(more.sum())), 19)
    f["qty"] = qty
    day = (t - START) // DAY
    promo = (((day >= 61) & (day <= DOUBLE_11 + 1)) | (day == DOUBLE_12)) & (rng.random(n) < 0.4)
    price = w.item_cents[item]
    price = np.where(promo, np.round(price * rng.uniform(0.7, 0.95, n), -1) - 10 * (rng.random(n) < 0.5), price)
    f["price"] = np.maximum(price, 1)
    value = f["price"] * qty
    coupon = rng.choice(np.array([300, 500, 1000, 2000, 3000, 5000]), n) * (rng.random(n) < 0.2)
    coupon = np.where(coupon <= 0.3 * value, coupon, 0)
    fee = rng.choice(np.array([400, 500, 600, 800, 1000]), n) * ((value < 3900) & (rng.random(n) < 0.25))
    f["amount"] = np.maximum(value - coupon + fee * ~virtual, 1)

    slot = _pick(rng, w.addr_w[buyer])
    f["addr"] = np.where(virtual, -1, w.addr[buyer, slot])
    used = (1 << slot) * ~virtual
    dslot = _pick(rng, w.dev_w[buyer])
    f["device"] = np.where(rng.random(n) < 0.02, -1, w.dev[buyer, dslot])
    used |= 1 << (3 + dslot)
    islot = _pick(rng, w.ip_w[buyer])
    u = rng.random(n)
    u = np.where(islot == 0, u**1.8, u)  # a few NAT IPs of a pool carry most of its traffic
    f["ip"] = np.where(rng.random(n) < 0.01, -1, w.ip_start[buyer, islot] + (u * w.ip_n[buyer, islot]).astype(np.int64))
    used |= 1 << (6 + islot)
    pslot = _pick(rng, w.phone_w[buyer])
    f["phone"] = w.phone[buyer, pslot]
    used |= 1 << (9 + pslot)
    yslot = _pick(rng, w.pay_w[buyer])
    f["pay"] = w.pay[buyer, yslot]
    used |= 1 << (12 + yslot)
    f["used"] = used
    main = w.hh_main[w.hh[buyer]]
    f["person"] = np.where(pslot == 2, w.person[main], w.person[buyer])
    f["masked"] = rng.random(n) < 0.85
    f["carrier"] = np.where(virtual, -1, w.seller_carrier[seller, (rng.random(n) < 0.12).astype(int)])
    weight = w.item_weight[item] * qty * _lognormal(rng, 1.0, 0.12, n) + rng.uniform(15, 180, n)
    f["weight"] = np.where(virtual | (rng.random(n) < 0.15), np.nan, np.round(weight))

    # Logistics: ship within a day or so, deliver in 1-4 days by distance, confirm by hand or automatically.
    f["ship_d"] = np.where(virtual, rng.integers(5, 600, n), _lognormal(rng, 20 * HOUR, 0.7, n)).astype(np.int64)
    f["ship_d"] += np.where(day == DOUBLE_11, rng.integers(0, 2 * DAY, n), 0)
    near = _CITY_REGION[w.buyer_city[buyer]] == _CITY_REGION[w.seller_city[seller]]
    f["deliv_d"] = np.where(virtual, 0, np.where(near, _lognormal(rng, 26 * HOUR, 0.35, n),
                                                 _lognormal(rng, 60 * HOUR, 0.35, n))).astype(np.int64)
    mode = rng.random(n)
    auto = np.maximum(10 * DAY - f["deliv_d"], HOUR) + rng.integers(0, HOUR, n)
    f["conf_d"] = np.select([virtual, mode < 0.1, mode < 0.62],
                            [rng.integers(60, 2 * DAY, n), _lognormal(rng, 1.5 * HOUR, 1.0, n),
                             _lognormal(rng, 1.5 * DAY, 0.9, n)], auto).astype(np.int64)
    f["rev_d"] = _lognormal(rng, 1 * DAY, 1.2, n).astype(np.int64)
    state = rng.random(n)
    f["cancel"] = state < 0.03
    f["unpaid"] = (state >= 0.03) & (state < 0.045)
    refund = (state >= 0.045) & (state < 0.085) & ~virtual
    # Parcels do get lost or arrive short: some honest refunds use the claims abusers use.
    reason = np.where(rng.random(n) < 0.08, _CLAIM0 + rng.integers(0, len(V.REFUND_REASONS_CLAIM), n),
                      rng.integers(0, _CLAIM0, n))
    f["refund"] = np.where(refund, reason, -1)

    # Reviews: stars mostly five; texts varied; a share left to the platform's default text.
    r = rng.random(n)
    manual = r < 0.45
    default = (r >= 0.45) & (r < 0.72)
    stars = rng.choice(np.arange(1, 6), n, p=[0.04, 0.02, 0.05, 0.14, 0.75]).astype(np.int8)
    stars[refund & manual] = rng.choice(np.arange(1, 6), int((refund & manual).sum()), p=[.45, .2, .15, .1, .1])
    f["rating"] = np.where(manual, stars, np.where(default, 5, 0)).astype(np.int8)
    f["f1"], f["f2"], f["f3"], f["f4"] = _honest_text(rng, f["rating"], default)
    f["rev_d"] = np.where(default, 15 * DAY + rng.integers(0, HOUR, n), f["rev_d"])
    f["chat"] = np.where(rng.random(n) < 0.5, 0, np.minimum(rng.geometric(0.3, n), 40)).astype(np.int32)
    f["upd"] = rng.random(n) < 0.35
    f["ring"] = np.full(n, -1)
    f["block"] = np.full(n, -1)
    f["pos"] = np.full(n, -1)
    return {k: np.asarray(f[k]).astype(dt, copy=False) for k, dt in _FRAME.items()}


def _set_quantity(w: _World, f: dict[str, np.ndarray], qty: Any) -> None:
    """Change the quantity of orders; the parcel weighs accordingly (the amount is the caller's)."""
    qty = np.broadcast_to(np.asarray(qty, np.int32), f["qty"].shape)
    per_item = w.item_weight[f["item"]]
    f["weight"] = np.round(f["weight"] * (per_item * qty + 100) / (per_item * f["qty"] + 100))  # 100 g: packing
    f["qty"] = qty.copy()


def _honest_text(rng: np.random.Generator, rating: np.ndarray, default: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(rating)
    f1, f2, f3, f4 = (np.zeros(n, np.int64) for _ in range(4))
    style = rng.random(n)
    pos = (rating >= 4) & ~default
    long = pos & (style < 0.55)
    f1[long] = _frag(rng, "open", int(long.sum()))
    f2[long] = _frag(rng, "pos", int(long.sum()))
    two = long & (rng.random(n) < 0.5)
    f3[two] = _frag(rng, "pos2", int(two.sum()))
    f4[long] = _frag(rng, "close", int(long.sum()))
    short = pos & (style >= 0.55) & (style < 0.85)
    f2[short] = _frag(rng, "short", int(short.sum()))
    f2[default] = _FRAG0["default"] + (rng.random(int(default.sum())) < 0.4)
    neutral = rating == 3
    f2[neutral] = _frag(rng, "neutral", int(neutral.sum()))
    neg = (rating > 0) & (rating <= 2)
    f2[neg] = _frag(rng, "neg", int(neg.sum()))
    two = neg & (rng.random(n) < 0.4)
    f3[two] = _frag(rng, "neg2", int(two.sum()))
    f4[neg] = _frag(rng, "negclose", int(neg.sum()))
    return f1, f2, f3, f4


# -- planted rings ---------------------------------------------------------------

# tactic: ring type, mix weight, members (median, sigma, min, max), orders per member.
_TACTICS: dict[str, tuple[str, float, tuple[float, float, int, int]]] = {
    "sock_puppet": ("brushing", 0.20, (6, 0.5, 3, 30)),
    "click_farm": ("brushing", 0.10, (70, 0.6, 12, 500)),
    "low_and_slow": ("brushing", 0.14, (24, 0.5, 5, 150)),
    "empty_parcel": ("brushing", 0.12, (12, 0.6, 3, 90)),
    "seller_swap": ("brushing", 0.08, (8, 0.3, 3, 18)),
    "negative_review": ("malicious_buyers", 0.14, (20, 0.6, 4, 150)),
    "refund_abuse": ("malicious_buyers", 0.14, (6, 0.6, 3, 40)),
    "extortion": ("malicious_buyers", 0.08, (3.5, 0.2, 3, 6)),
}


@dataclass(frozen=True)
class RingPlan:
    """What one planted ring will be: tactic, members and their number of ring orders.

    Attributes
    ----------
    tactic : str
        ``sock_puppet``, ``click_farm``, ``low_and_slow``, ``empty_parcel``, ``seller_swap``,
        ``negative_review``, ``refund_abuse`` or ``extortion``.
    ring_type : str
        ``brushing`` or ``malicious_buyers``.
    orders : numpy.ndarray
        Ring orders per member (len = number of member accounts, each >= 1).
    n_targets : int
        Number of target sellers (clients of a click farm, shops of a swap group ...).
    """

    tactic: str
    ring_type: str
    orders: np.ndarray
    n_targets: int

    @property
    def n_members(self) -> int:
        return len(self.orders)

    @property
    def n_orders(self) -> int:
        return int(self.orders.sum())


def _plan_one(rng: np.random.Generator, tactic: str, members: int) -> RingPlan:
    m = members
    if tactic == "sock_puppet":
        orders, targets = 1 + rng.poisson(rng.uniform(7, 18), m), 1
    elif tactic == "click_farm":
        targets = int(rng.integers(3, 11))
        orders = 1 + rng.binomial(targets - 1, rng.uniform(0.3, 0.7), m)
    elif tactic == "low_and_slow":
        orders, targets = 1 + rng.binomial(3, 0.35, m), 1
    elif tactic == "empty_parcel":
        orders, targets = 1 + rng.poisson(rng.uniform(3, 9), m), int(rng.integers(1, 3))
    elif tactic == "seller_swap":
        targets = int(np.clip(round(m / rng.uniform(1.3, 2.2)), 3, m))
        orders = (targets - 1) + rng.binomial(targets - 1, 0.5, m)
    elif tactic == "negative_review":
        orders, targets = 1 + rng.binomial(1, 0.2, m), 1
    elif tactic == "refund_abuse":
        orders, targets = 3 + rng.poisson(rng.uniform(2, 7), m), int(rng.integers(3, 9))
    else:  # extortion
        orders, targets = 1 + rng.binomial(2, 0.4, m), int(rng.integers(1, 4))
    return RingPlan(tactic, _TACTICS[tactic][0], np.asarray(orders, np.int64), targets)


def plan_rings(orders: int, seed: int | np.random.Generator = 0) -> list[RingPlan]:
    """Decide the rings to plant in a data set of ``orders`` orders.

    About 15-30 rings at 100k orders (growing as ``orders ** 0.75``) holding
    2-4 % of all orders. Every tactic appears once before tactics repeat; the
    first click farm is large (hundreds of accounts at 100k orders) and the
    first sock-puppet ring has three accounts, so sizes span 3 to hundreds.

    Parameters
    ----------
    orders : int
        Orders in the data set.
    seed : int or numpy.random.Generator
        Randomness.

    Returns
    -------
    list of RingPlan
    """
    rng = np.random.default_rng(seed)
    n_rings = max(2, round(rng.uniform(15, 30) * (orders / 1e5) ** 0.75))
    budget = orders * rng.uniform(0.02, 0.04)
    tactics = list(_TACTICS)
    weights = np.array([v[1] for v in _TACTICS.values()])
    chosen = list(rng.permutation(tactics))[:n_rings]
    chosen += list(rng.choice(tactics, n_rings - len(chosen), p=weights / weights.sum()))
    # Sizes: per-tactic lognormal, then all scaled together so that ring orders fill the budget.
    grow = float(np.clip((orders / 1e5) ** 0.35, 0.3, 2.5))
    raw = []
    for k, tactic in enumerate(chosen):
        median, sigma, lo, hi = _TACTICS[tactic][2]
        if tactic == "click_farm" and tactic not in chosen[:k]:
            raw.append(median * grow * rng.uniform(2.5, 4.5))  # the big farm
        else:
            raw.append(median * math.exp(sigma * rng.standard_normal()))
    seeds = rng.integers(0, 2**63, len(chosen))  # the same draws at every scale
    plans: list[RingPlan] = []
    scale = 1.0
    for _ in range(6):
        plans = []
        for k, (tactic, r) in enumerate(zip(chosen, raw)):
            lo, hi = _TACTICS[tactic][2][2:]
            m = int(np.clip(round(r * scale), lo, hi))
            if tactic == "sock_puppet" and tactic not in chosen[:k]:
                m = 3  # the smallest ring
            plans.append(_plan_one(np.random.default_rng(seeds[k]), tactic, m))
        total = sum(p.n_orders for p in plans)
        scale *= float(np.clip(budget / total, 0.5, 2.0))
        if abs(total - budget) < 0.1 * budget:
            break
    return plans


class _Planter:
    """Builds each ring's orders from a plan: members, targets, shared identifiers, behaviour."""

    def __init__(self, w: _World, rng: np.random.Generator):
        self.w, self.rng = w, rng
        # Accounts are drawn in a random order, from the ring's region first where it has one.
        self.order = {-1: rng.permutation(np.flatnonzero(w.eligible))}
        region = _CITY_REGION[w.buyer_city]
        for r in range(N_REGIONS):
            self.order[r] = self.order[-1][region[self.order[-1]] == r]
        self.next = dict.fromkeys(self.order, 0)
        self.in_ring = np.zeros(w.n_buyers, bool)
        rank = np.argsort(np.argsort(-w.seller_pop))
        self.seller_q = rank / max(1, w.n_sellers - 1)  # 0 = most popular
        self.physical_seller = np.bincount(w.item_seller, ~w.item_virtual, w.n_sellers) > 0
        self.blocks: list[tuple[int, int]] = []  # empty-parcel waybill blocks: (carrier, size)
        self.taken = np.zeros(w.n_sellers, bool)  # sellers already targeted by a ring

    # helpers

    def members(self, k: int, age_years: tuple[float, float] | None, gap_days: tuple[float, float],
                activity: tuple[float, float], city: int | None = None) -> np.ndarray:
        """Take k accounts (living near ``city`` if given); set when they registered and how much
        they shop honestly (camouflage)."""
        w, rng = self.w, self.rng
        taken: list[int] = []
        for key in ([int(_CITY_REGION[city])] if city is not None else []) + [-1]:
            order, p = self.order[key], self.next[key]
            while len(taken) < k and p < len(order):
                if not self.in_ring[order[p]]:
                    taken.append(int(order[p]))
                    self.in_ring[order[p]] = True
                p += 1
            self.next[key] = p
        if len(taken) < k:
            raise ConfigError("too few buyers for the planned rings; generate more --orders")
        b = np.array(taken)
        if age_years is None:  # registered shortly before the first order
            w.reg_abs[b] = -1
            w.reg_gap[b] = (rng.uniform(*gap_days, k) * DAY).astype(np.int64)
        else:
            w.reg_abs[b] = START - (rng.uniform(*age_years, k) * YEAR).astype(np.int64)
        w.activity[b] = rng.uniform(*activity, k)
        return b

    def city(self) -> int:
        """Where a ring operates from: a city drawn by population."""
        return int(_cities(self.rng, 1)[0])

    def sellers(self, k: int, q: tuple[float, float]) -> np.ndarray:
        pool = np.flatnonzero((self.seller_q >= q[0]) & (self.seller_q <= q[1]) & self.physical_seller & ~self.taken)
        if len(pool) < k:
            pool = np.flatnonzero(self.physical_seller)
        s = self.rng.choice(pool, min(k, len(pool)), replace=False)
        self.taken[s] = True
        return s

    def items(self, seller: int, k: int) -> np.ndarray:
        w = self.w
        its = np.arange(w.item0[seller], w.item0[seller] + w.n_items[seller])
        its = its[~w.item_virtual[its]]
        return self.rng.choice(its, min(k, len(its)), replace=False)

    def pick(self, groups: list[np.ndarray], which: np.ndarray) -> np.ndarray:
        """For each entry of ``which``, a random element of ``groups[which]``."""
        sizes = np.array([len(g) for g in groups])
        flat = np.concatenate(groups)
        return flat[np.cumsum(sizes)[which] - sizes[which] + (self.rng.random(len(which)) * sizes[which]).astype(int)]

    def days(self, n: int, span: tuple[int, int], length: int) -> np.ndarray:
        """n day numbers in one window of ``length`` days starting somewhere in ``span``."""
        lo, hi = span
        start = int(self.rng.integers(lo, max(lo + 1, hi - length)))
        return start + self.rng.integers(0, length, n)

    def share(self, f: dict[str, np.ndarray], col: str, pool: np.ndarray, p: float,
              owner: np.ndarray | None = None) -> None:
        """Replace ``col`` by an identifier of the ring's pool in a share ``p`` of the orders.

        With ``owner`` (a member index per order) each member mostly sticks to
        "its" identifier of the pool; without, identifiers rotate.
        """
        rng, n = self.rng, len(f[col])
        if len(pool) == 0:
            return
        idx = rng.integers(0, len(pool), n)
        if owner is not None:
            idx = np.where(rng.random(n) < 0.75, owner % len(pool), idx)
        hit = rng.random(n) < p
        f[col] = np.where(hit, pool[idx], f[col])

    def five_stars(self, f: dict[str, np.ndarray], templates: np.ndarray, p_template: float) -> None:
        """Five-star reviews, most of them copies of the ring's few templates."""
        rng, n = self.rng, len(f["t"])
        f["rating"] = np.where(rng.random(n) < 0.95, 5, 4).astype(np.int8)
        r = rng.random(n)
        tpl = templates[rng.integers(0, len(templates), n)]
        use = r < p_template
        for k, col in enumerate(("f1", "f2", "f3", "f4")):
            f[col] = np.where(use, tpl[:, k], 0)
        short = (r >= p_template) & (r < p_template + (1 - p_template) / 2)
        f["f2"] = np.where(short, _frag(rng, "short", n), f["f2"])
        default = r >= p_template + (1 - p_template) / 2
        f["f2"] = np.where(default, _FRAG0["default"], f["f2"])

    def templates(self, k: int, negative: bool = False) -> np.ndarray:
        rng = self.rng
        if negative:
            cols = [np.zeros(k, np.int64), _frag(rng, "neg", k), _frag(rng, "neg2", k), _frag(rng, "negclose", k)]
        else:
            cols = [_frag(rng, "open", k), _frag(rng, "pos", k), _frag(rng, "pos2", k), _frag(rng, "close", k)]
        return np.stack(cols, axis=1)

    def base(self, buyers: np.ndarray, per: np.ndarray, items: np.ndarray, days: np.ndarray,
             hour_w: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Honest-looking orders of the members (one per entry of ``per``), to be bent by the tactic."""
        owner = np.repeat(np.arange(len(buyers)), per)
        t = _local_times(self.rng, days, hour_w)
        f = _base_orders(self.w, self.rng, buyers[owner], items, t)
        f["cancel"][:] = False
        f["unpaid"][:] = False
        f["refund"][:] = -1
        f["used"][:] = 0
        return f, owner

    def fast_confirm(self, f: dict[str, np.ndarray], median_s: float, sigma: float = 0.8) -> None:
        f["conf_d"] = _lognormal(self.rng, median_s, sigma, len(f["t"])).astype(np.int64) + 60

    def silent(self, f: dict[str, np.ndarray], p: float) -> None:
        n = len(f["chat"])
        f["chat"] = np.where(self.rng.random(n) < p, 0, self.rng.integers(1, 3, n)).astype(np.int32)

    # tactics: each returns (frame, target sellers, shared identifier pools)

    def sock_puppet(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        s = self.sellers(1, (0.3, 1.0))
        b = self.members(plan.n_members, None, (1, 120), (0.03, 0.4), city=w.seller_city[s[0]])
        its = self.items(int(s[0]), int(rng.integers(1, 4)))
        n = plan.n_orders
        # A few campaigns of days of heavy buying, during the shop's working hours.
        camps = [self.days(1, (2, DAYS - 20), 1)[0] for _ in range(int(rng.integers(1, 4)))]
        day = np.array(camps)[rng.integers(0, len(camps), n)] + rng.integers(0, int(rng.integers(3, 11)), n)
        hour_w = _WORK_W if rng.random() < 0.7 else _HOUR_W
        f, owner = self.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, hour_w)
        city = w.seller_city[s[0]]
        pools = {
            "device": w.new_devices(max(1, round(len(b) / rng.uniform(2, 5)))),
            "address": w.new_homes(np.full(int(rng.integers(1, 4)), city)),
            "phone": w.new_phones(int(rng.integers(1, 3))),
            "payment": w.new_payments(int(rng.integers(1, 4))),
            "ip": w.new_v4(np.full(2, _CITY_REGION[city]), np.full(2, int(rng.integers(1, 3)))),
        }
        for col, key in (("device", "device"), ("addr", "address"), ("phone", "phone"), ("pay", "payment"),
                         ("ip", "ip")):
            self.share(f, col, pools[key], rng.uniform(0.7, 0.95), owner)
        _set_quantity(w, f, np.where(rng.random(n) < 0.9, 1, 2))
        f["price"] = w.item_cents[f["item"]]
        f["amount"] = f["price"] * f["qty"]
        f["ship_d"] = _lognormal(rng, 4 * HOUR, 0.6, n).astype(np.int64)
        self.fast_confirm(f, 2 * HOUR)
        f["rev_d"] = _lognormal(rng, 1 * HOUR, 1.0, n).astype(np.int64)
        self.five_stars(f, self.templates(int(rng.integers(2, 5))), 0.75)
        self.silent(f, 0.9)
        return f, b, s, pools

    def click_farm(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        b = self.members(plan.n_members, (0.3, 5.0), (0, 0), (0.2, 1.0))
        clients = self.sellers(plan.n_targets, (0.15, 1.0))
        n = plan.n_orders
        owner = np.repeat(np.arange(len(b)), plan.orders)
        # Each member's orders go to distinct clients; each client's campaign is a burst of 1-4 days.
        client = (rng.integers(0, len(clients), len(b))[owner] + _ranks(plan.orders)) % len(clients)
        start = np.array([self.days(1, (2, DAYS - 12), 1)[0] for _ in clients])
        length = rng.integers(1, 5, len(clients))
        day = start[client] + (rng.random(n) * length[client]).astype(int)
        pushed = [self.items(int(c), int(rng.integers(1, 3))) for c in clients]
        item = self.pick(pushed, client)
        f, _ = self.base(b, plan.orders, item, day, _FARM_W)
        region = int(rng.integers(0, N_REGIONS))
        n_ip = int(rng.integers(4, 17))
        farm_ips = w.new_networks(np.array([region]), np.ones(1, int), np.array([n_ip]))[0] + np.arange(n_ip)
        cities = _cities(rng, int(rng.integers(2, 6)))
        pools = {
            "device": w.new_devices(max(2, round(len(b) / rng.uniform(3, 8)))),
            "ip": farm_ips,
            "address": w.new_homes(cities[rng.integers(0, len(cities), max(2, round(len(b) / rng.uniform(2, 6))))]),
            "phone": w.new_phones(max(2, round(len(b) / rng.uniform(3, 6)))),
            "payment": w.new_payments(max(1, len(b) // 8)),
        }
        self.share(f, "device", pools["device"], rng.uniform(0.8, 0.97))  # farm phones rotate
        self.share(f, "ip", pools["ip"], rng.uniform(0.55, 0.85))
        self.share(f, "addr", pools["address"], rng.uniform(0.6, 0.9), owner)
        self.share(f, "phone", pools["phone"], rng.uniform(0.5, 0.8), owner)
        self.share(f, "pay", pools["payment"], rng.uniform(0.2, 0.4), owner)
        f["person"] = w.new_persons(n) if rng.random() < 0.5 else f["person"]
        _set_quantity(w, f, 1)
        f["price"] = w.item_cents[f["item"]]
        f["amount"] = f["price"]
        self.fast_confirm(f, 3 * HOUR, 1.0)
        f["rev_d"] = _lognormal(rng, 3 * HOUR, 1.0, n).astype(np.int64)
        self.five_stars(f, self.templates(int(rng.integers(3, 9))), 0.7)
        self.silent(f, 0.75)
        return f, b, clients, pools

    def low_and_slow(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        b = self.members(plan.n_members, (0.5, 8.0), (0, 0), (0.5, 2.5))
        s = self.sellers(1, (0.1, 0.8))
        its = self.items(int(s[0]), int(rng.integers(1, 3)))
        n = plan.n_orders
        length = int(rng.integers(21, 57))
        day = self.days(n, (0, DAYS - 8), length)
        f, _ = self.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, _HOUR_W)
        fresh = w.new_devices(max(1, round(n * 0.8)))  # emulators / borrowed phones: a new device most times
        self.share(f, "device", fresh, rng.uniform(0.5, 0.8))
        # The one thing in common besides the shop: how the paid amount relates to the listed price.
        _set_quantity(w, f, 1)
        f["price"] = w.item_cents[f["item"]]
        rule = rng.integers(0, 3)
        if rule == 0:
            f["amount"] = f["price"] - int(rng.choice([300, 500, 800, 1000, 1500]))
        elif rule == 1:
            f["amount"] = np.round(f["price"] * rng.choice([0.8, 0.85, 0.9]))
        else:
            f["amount"] = np.full(n, int(rng.choice([990, 1990, 2990, 3990, 990 * 5])))
        f["amount"] = np.maximum(f["amount"], 1)
        self.fast_confirm(f, 12 * HOUR, 1.0)
        f["rating"] = np.where(rng.random(n) < 0.9, 5, 4).astype(np.int8)
        f["f1"], f["f2"], f["f3"], f["f4"] = _honest_text(rng, f["rating"], rng.random(n) < 0.2)
        self.silent(f, 0.6)
        return f, b, s, {"device": fresh}

    def empty_parcel(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        base = self.city()
        b = self.members(plan.n_members, None, (5, 200), (0.1, 0.5), city=base)
        s = self.sellers(plan.n_targets, (0.3, 1.0))
        n = plan.n_orders
        its = [self.items(int(x), int(rng.integers(1, 4))) for x in s]
        pick = rng.integers(0, len(s), n)
        item = self.pick(its, pick)
        nb = int(rng.integers(1, 4))
        bursts = np.array([self.days(1, (2, DAYS - 12), 1)[0] for _ in range(nb)])
        burst = rng.integers(0, nb, n)
        day = bursts[burst] + rng.integers(0, 3, n)
        f, owner = self.base(b, plan.orders, item, day, _FARM_W)
        pools = {"device": w.new_devices(int(rng.integers(1, 6))), "payment": w.new_payments(int(rng.integers(1, 4))),
                 "ip": w.new_v4(np.full(3, _CITY_REGION[base]), np.full(3, rng.integers(0, 3)))}
        self.share(f, "device", pools["device"], rng.uniform(0.6, 0.85), owner)
        self.share(f, "pay", pools["payment"], rng.uniform(0.6, 0.9), owner)
        self.share(f, "ip", pools["ip"], rng.uniform(0.5, 0.8))
        # Parcels go to strangers' addresses bought in bulk (some of them real buyers' homes).
        honest_home = w.addr[rng.integers(0, w.n_buyers, n), 0]
        f["addr"] = np.where(rng.random(n) < 0.3, honest_home, w.new_homes(rng.choice(len(_CITIES), n)))
        f["phone"] = w.new_phones(n)
        f["person"] = w.new_persons(n)
        # Waybills: consecutive numbers bought in blocks, some reused for several orders.
        order = np.lexsort((f["t"], burst))
        carrier = int(rng.choice(len(V.CARRIERS), p=_CARRIER_SHARE))
        f["carrier"][:] = carrier
        f["block"] = np.zeros(n, np.int64)
        f["pos"] = np.zeros(n, np.int64)
        reuse = rng.uniform(0.1, 0.35)
        for k in range(nb):
            rows = order[burst[order] == k]
            if not len(rows):
                continue
            fresh = rng.random(len(rows)) >= reuse
            fresh[0] = True
            pos = np.cumsum(fresh) - 1
            back = ~fresh
            pos[back] = (rng.random(int(back.sum())) * (pos[back] + 1)).astype(int)
            f["block"][rows] = len(self.blocks)
            f["pos"][rows] = pos
            self.blocks.append((carrier, int(fresh.sum())))
        f["weight"] = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(5, 60, n).round())
        _set_quantity(w, f, 1)
        f["price"] = w.item_cents[f["item"]]
        far = rng.random(n) < 0.85
        f["amount"] = np.where(far, np.round(f["price"] * rng.uniform(0.03, 0.2, n)), f["price"])
        f["amount"] = np.maximum(f["amount"], 1)
        f["ship_d"] = _lognormal(rng, 3 * HOUR, 0.6, n).astype(np.int64)
        f["deliv_d"] = _lognormal(rng, 14 * HOUR, 0.4, n).astype(np.int64)  # too fast for the distance
        self.fast_confirm(f, 10 * 60, 0.7)
        f["rev_d"] = _lognormal(rng, 2 * HOUR, 1.0, n).astype(np.int64)
        self.five_stars(f, self.templates(int(rng.integers(2, 5))), 0.6)
        self.silent(f, 0.95)
        return f, b, s, pools

    def seller_swap(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        b = self.members(plan.n_members, (1.0, 6.0), (0, 0), (0.5, 1.5))
        shops = self.sellers(plan.n_targets, (0.4, 1.0))
        own = np.arange(len(b)) % len(shops)  # each shop owner runs one or more accounts
        n = plan.n_orders
        owner = np.repeat(np.arange(len(b)), plan.orders)
        step = 1 + _ranks(plan.orders) % (len(shops) - 1)
        shop = (own[owner] + step) % len(shops)  # never the own shop
        its = [self.items(int(x), int(rng.integers(1, 4))) for x in shops]
        item = self.pick(its, shop)
        day = self.days(n, (0, DAYS - 10), int(rng.integers(10, 35)))
        f, _ = self.base(b, plan.orders, item, day, _HOUR_W)
        pools = {"device": w.new_devices(len(shops)), "address": w.new_homes(w.seller_city[shops]),
                 "payment": w.new_payments(len(shops))}
        for col, key in (("device", "device"), ("addr", "address"), ("pay", "payment")):
            hit = rng.random(n) < rng.uniform(0.6, 0.9)
            f[col] = np.where(hit, pools[key][own[owner]], f[col])
        _set_quantity(w, f, 1)
        f["price"] = w.item_cents[f["item"]]
        f["amount"] = f["price"]
        self.fast_confirm(f, 8 * HOUR, 1.0)
        f["rating"][:] = 5
        f["f1"], f["f2"], f["f3"], f["f4"] = _honest_text(rng, f["rating"], rng.random(n) < 0.15)
        self.silent(f, 0.7)
        return f, b, shops, pools

    def negative_review(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        home = self.city()
        b = self.members(plan.n_members, (1.0, 8.0), (0, 0), (0.5, 1.5), city=home)
        s = self.sellers(1, (0.03, 0.5))  # a successful competitor
        its = self.items(int(s[0]), int(rng.integers(1, 4)))
        n = plan.n_orders
        day = self.days(n, (3, DAYS - 14), int(rng.integers(1, 4)))
        f, owner = self.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, _HOUR_W)
        region = _CITY_REGION[home]
        pools = {"device": w.new_devices(int(rng.integers(1, 5))),
                 "ip": w.new_v4(np.full(2, region), np.full(2, int(rng.integers(1, 3)))),
                 "address": w.new_homes(np.full(2, home))}
        self.share(f, "device", pools["device"], rng.uniform(0.4, 0.75), owner)
        self.share(f, "ip", pools["ip"], rng.uniform(0.4, 0.7))
        self.share(f, "addr", pools["address"], rng.uniform(0.1, 0.3))
        # One-star reviews land in a burst a day or two after the goods arrive.
        confirm = f["t"] + f["ship_d"] + f["deliv_d"] + f["conf_d"]
        burst = np.quantile(confirm, 0.8) + rng.uniform(0, 0.5) * DAY
        f["rev_d"] = np.maximum(burst + rng.uniform(0, 1.5 * DAY, n) - confirm, 600).astype(np.int64)
        f["rating"] = np.where(rng.random(n) < 0.8, 1, 2).astype(np.int8)
        tpls = self.templates(int(rng.integers(2, 6)), negative=True)
        tpl = tpls[rng.integers(0, len(tpls), n)]
        copy = rng.random(n) < 0.7
        _, g2, g3, g4 = _honest_text(rng, f["rating"], np.zeros(n, bool))
        f["f1"][:] = 0
        f["f2"], f["f3"], f["f4"] = (np.where(copy, tpl[:, k], g) for k, g in ((1, g2), (2, g3), (3, g4)))
        refund = rng.random(n) < 0.2
        f["refund"] = np.where(refund, rng.choice([3, 4], n), -1)
        self.silent(f, 0.9)
        return f, b, s, pools

    def refund_abuse(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        home = self.city()
        b = self.members(plan.n_members, (0.5, 4.0), (0, 0), (1.0, 3.0), city=home)
        s = self.sellers(plan.n_targets, (0.02, 0.6))
        n = plan.n_orders
        its = [self.items(int(x), 3) for x in s]
        pick = rng.integers(0, len(s), n)
        item = self.pick(its, pick)
        day = self.days(n, (0, DAYS - 10), int(rng.integers(14, 61)))
        f, owner = self.base(b, plan.orders, item, day, _HOUR_W)
        pools = {"device": w.new_devices(int(rng.integers(1, 4))),
                 "address": w.new_homes(np.full(int(rng.integers(1, 4)), home)),
                 "phone": w.new_phones(int(rng.integers(1, 3))), "payment": w.new_payments(int(rng.integers(1, 3))),
                 "ip": w.new_v4(np.full(2, _CITY_REGION[home]), np.full(2, 1))}
        self.share(f, "device", pools["device"], rng.uniform(0.6, 0.9), owner)
        self.share(f, "addr", pools["address"], rng.uniform(0.6, 0.9), owner)
        self.share(f, "phone", pools["phone"], rng.uniform(0.5, 0.8))
        self.share(f, "pay", pools["payment"], rng.uniform(0.3, 0.6), owner)
        self.share(f, "ip", pools["ip"], rng.uniform(0.4, 0.7))
        claim = rng.random(n) < rng.uniform(0.75, 0.95)
        f["refund"] = np.where(claim, _CLAIM0 + rng.integers(0, len(V.REFUND_REASONS_CLAIM), n), -1)
        f["conf_d"] = np.where(claim, _lognormal(rng, 8 * HOUR, 0.8, n), f["conf_d"]).astype(np.int64)
        low = rng.random(n) < 0.3
        f["rating"] = np.where(low, rng.integers(1, 3, n), np.where(claim, 0, f["rating"])).astype(np.int8)
        f["f1"], f["f2"], f["f3"], f["f4"] = _honest_text(rng, f["rating"], np.zeros(n, bool))
        self.silent(f, 0.75)
        return f, b, s, pools

    def extortion(self, plan: RingPlan) -> tuple[dict, np.ndarray, np.ndarray, dict]:
        w, rng = self.w, self.rng
        b = self.members(plan.n_members, (1.0, 6.0), (0, 0), (0.5, 1.5), city=self.city())
        s = self.sellers(plan.n_targets, (0.1, 0.7))
        n = plan.n_orders
        its = [self.items(int(x), 2) for x in s]
        pick = rng.integers(0, len(s), n)
        item = self.pick(its, pick)
        day = self.days(n, (0, DAYS - 12), int(rng.integers(5, 21)))
        f, owner = self.base(b, plan.orders, item, day, _HOUR_W)
        pools = {"device": w.new_devices(1), "phone": w.new_phones(1)}
        self.share(f, "device", pools["device"], rng.uniform(0.6, 0.9))
        self.share(f, "phone", pools["phone"], rng.uniform(0.6, 0.9))
        f["rating"] = np.where(rng.random(n) < 0.85, 1, 2).astype(np.int8)
        f["f1"], f["f2"], f["f3"], f["f4"] = _honest_text(rng, f["rating"], np.zeros(n, bool))
        f["refund"] = np.where(rng.random(n) < 0.5, rng.choice([3, 4, 6], n), -1)
        f["chat"] = rng.integers(0, 4, n).astype(np.int32)
        return f, b, s, pools


def _plant(w: _World, rng: np.random.Generator, plans: list[RingPlan]) -> tuple[list[_Ring], _Planter]:
    planter = _Planter(w, rng)
    rings = []
    for i, plan in enumerate(plans):
        f, buyers, targets, pools = getattr(planter, plan.tactic)(plan)
        f["ring"][:] = i
        rings.append(_Ring(f"T{i + 1:04d}", plan.ring_type, plan.tactic, buyers, np.sort(targets), f, pools))
    return rings, planter


# -- honest look-alike events ------------------------------------------------------


def _corporate_gifts(w: _World, rng: np.random.Generator, taken: np.ndarray) -> tuple[dict, list[dict]]:
    """Companies buying gifts in bulk from one shop on one day: several accounts, one address, one IP."""
    frames, events = [], []
    n_events = max(1, w.n_orders // 25_000)
    free = np.ones(w.n_buyers, bool)
    free[taken] = False
    physical = np.bincount(w.item_seller, ~w.item_virtual, w.n_sellers) > 0
    gifts = np.isin(w.seller_cat, [_CAT_INDEX[c] for c in ("节日礼盒", "食品零食", "生鲜水果")])
    gift_sellers = np.flatnonzero(gifts & physical)
    if not len(gift_sellers):
        gift_sellers = np.flatnonzero(physical)
    employed = np.flatnonzero((w.company >= 0) & free)
    staff_of = dict(_groups(w.company[employed], employed, 3))
    for c in rng.permutation(sorted(staff_of))[:n_events]:
        staff = staff_of[int(c)]
        k = int(rng.integers(3, min(len(staff), 12) + 1))
        buyers = rng.choice(staff, k, replace=False)
        seller = int(rng.choice(gift_sellers))
        its = np.arange(w.item0[seller], w.item0[seller] + w.n_items[seller])
        its = its[~w.item_virtual[its]][:2]
        day = int(rng.choice([rng.integers(14, 35), rng.integers(88, 100)]))  # before Mid-Autumn or New Year
        t = START + day * DAY + rng.integers(14 * HOUR, 16 * HOUR) + rng.integers(0, 2 * HOUR, k)
        f = _base_orders(w, rng, buyers, its[rng.integers(0, len(its), k)], t)
        f["addr"][:] = w.company_office[c]
        f["ip"] = w.company_ip0[c] + rng.integers(0, w.company_nip[c], k)
        _set_quantity(w, f, rng.integers(2, 21, k))
        f["amount"] = f["price"] * f["qty"]
        f["chat"] = rng.integers(1, 12, k).astype(np.int32)
        if rng.random() < 0.4:  # paid with the company card
            f["pay"][:] = f["pay"][0]
        f["cancel"][:] = False
        f["unpaid"][:] = False
        frames.append(f)
        events.append({"kind": "corporate_gift", "buyers": buyers, "seller": seller,
                       "address": int(w.company_office[c]), "day": day})
    return _concat(frames), events


# -- rendering -------------------------------------------------------------------


class _Waybills:
    """Tracking numbers per carrier, in shipping order, with the gaps other shops' parcels leave."""

    def __init__(self, rng: np.random.Generator, blocks: list[tuple[int, int]]):
        self.next = np.zeros(len(V.CARRIERS), np.int64)
        for c, (_, _, digits, lead, _) in enumerate(V.CARRIERS):
            width = len(str(lead)) if lead else 1
            base = lead * 10 ** (digits - width) if lead else 10 ** (digits - 2)
            self.next[c] = base + int(rng.integers(0, 10 ** (digits - width - 1)))
        self.block_size = np.array([size for _, size in blocks], np.int64)
        self.block_start = np.full(len(blocks), -1, np.int64)
        self.count = 0

    def assign(self, rng: np.random.Generator, carrier: np.ndarray, ship: np.ndarray, seller: np.ndarray,
               buyer: np.ndarray, block: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Numbers for the rows with a carrier (-1 elsewhere); a planted block gets its numbers once."""
        out = np.full(len(carrier), -1, np.int64)
        day = ship // DAY
        honest = np.flatnonzero((carrier >= 0) & (block < 0))
        # One number per (carrier, ship day, shop, buyer), with room for 2^27 buyers and 2^20 shops.
        key = ((carrier[honest] * 256 + day[honest]) * 2**20 + seller[honest]) * 2**27 + buyer[honest]
        order = np.lexsort((ship[honest], key))
        honest, key = honest[order], key[order]
        # A buyer's orders from one shop shipped the same day often travel in one parcel (合并发货).
        merged = np.r_[False, key[1:] == key[:-1]] & (rng.random(len(honest)) < 0.8)
        parcel = np.cumsum(~merged) - 1
        planted = np.flatnonzero((carrier >= 0) & (block >= 0))
        new = planted[self.block_start[block[planted]] < 0]
        _, first = np.unique(block[new], return_index=True)
        brow = new[first]  # the first shipment of each block seen for the first time
        ev = np.concatenate([honest[~merged], brow])
        size = np.concatenate([np.ones(int((~merged).sum()), np.int64), self.block_size[block[brow]]])
        order = np.lexsort((ship[ev], seller[ev], day[ev], carrier[ev]))
        ev, size = ev[order], size[order]
        c, s, d = carrier[ev], seller[ev], day[ev]
        # A shop printing labels in a row gets consecutive numbers; otherwise other shops' parcels come between.
        same = np.r_[False, (c[1:] == c[:-1]) & (s[1:] == s[:-1]) & (d[1:] == d[:-1])]
        gap = np.where(same & (rng.random(len(ev)) < 0.7), 1, 1 + rng.geometric(1 / 400, len(ev)))
        start = np.zeros(len(ev), np.int64)
        for k in np.unique(c):
            m = np.flatnonzero(c == k)
            start[m] = self.next[k] - 1 + np.cumsum(gap[m]) + np.cumsum(np.r_[0, size[m][:-1]])
            self.next[k] = start[m[-1]] + size[m[-1]]
        is_block = np.r_[np.zeros(int((~merged).sum()), bool), np.ones(len(brow), bool)][order]
        parcel_start = np.empty(int((~merged).sum()), np.int64)
        parcel_start[order[~is_block]] = start[~is_block]
        out[honest] = parcel_start[parcel]
        self.block_start[block[ev[is_block]]] = start[is_block]
        self.count += int(size.sum())
        out[planted] = self.block_start[block[planted]] + pos[planted]
        return out

    @staticmethod
    def text(carrier: np.ndarray, number: np.ndarray) -> pa.Array:
        valid = number >= 0
        out = pa.nulls(len(number), pa.string())
        for c, (_, prefix, digits, _, _) in enumerate(V.CARRIERS):
            m = valid & (carrier == c)
            if m.any():
                s = pc.utf8_lpad(_str(number[m]), digits, "0")
                out = pc.replace_with_mask(out, pa.array(m), _join(prefix, s) if prefix else s)
        return out


# Order edges of graph/model.py and the order column that carries each.
_ORDER_EDGES = {"PLACED": "buyer_id", "SOLD_BY": "seller_id", "CONTAINS": "item_id", "SHIPPED_TO": "ship_address",
                "USED_DEVICE": "device_id", "FROM_IP": "ip", "RECEIVER_PHONE": "receiver_phone",
                "PAID_WITH": "payment_account", "SHIPPED_AS": "tracking_no"}


@dataclass
class _Tally:
    """Distinct identifiers seen, for ``expected_counts``, and per-buyer facts for the buyers file."""

    w: _World
    addr: np.ndarray = field(init=False)
    device: np.ndarray = field(init=False)
    ip: np.ndarray = field(init=False)
    phone_full: np.ndarray = field(init=False)
    phone_masked: np.ndarray = field(init=False)
    payment: np.ndarray = field(init=False)
    first_t: np.ndarray = field(init=False)
    n_orders: np.ndarray = field(init=False)
    used: np.ndarray = field(init=False)
    nat: np.ndarray = field(init=False)
    fav: np.ndarray = field(init=False)
    flash: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_ORDER_EDGES, 0))
    order_phones: int = 0

    def __post_init__(self) -> None:
        w = self.w
        self.addr = np.zeros(w.addresses.n, bool)
        self.device = np.zeros(w.devices.n, bool)
        self.ip = np.zeros(w.ips.n, bool)
        self.phone_full = np.zeros(w.phones.n, bool)
        self.phone_masked = np.zeros(1000 * 10**4, bool)  # prefix * 10^4 + last four digits
        self.payment = np.zeros(w.payments.n, bool)
        self.first_t = np.full(w.n_buyers, np.iinfo(np.int64).max)
        self.n_orders = np.zeros(w.n_buyers, np.int32)
        self.used = np.zeros(w.n_buyers, np.int32)
        # The busiest carrier NAT IPs (first of the largest pools) are listed as look-alikes.
        pools = np.argsort(-w.nat_n.ravel(), kind="stable")[:4]
        self.nat_ips = w.nat0.ravel()[pools]
        self.nat = np.zeros((w.n_buyers, len(self.nat_ips)), bool)
        self.fav = np.zeros(w.n_buyers, np.int32)

    def phones(self) -> int:
        """Distinct phone keys so far: full numbers, and masked ones by their visible digits."""
        return len(np.unique(self.w.phones["number"][self.phone_full])) + int(self.phone_masked.sum())

    def add(self, f: dict[str, np.ndarray]) -> None:
        b = f["buyer"]
        np.minimum.at(self.first_t, b, f["t"])
        np.add.at(self.n_orders, b, 1)
        np.bitwise_or.at(self.used, b, f["used"])
        self.addr[self.w.addr_canon[f["addr"][f["addr"] >= 0]]] = True
        self.device[f["device"][f["device"] >= 0]] = True
        self.ip[f["ip"][f["ip"] >= 0]] = True
        number = self.w.phones["number"][f["phone"]]
        self.phone_full[f["phone"][~f["masked"]]] = True
        self.phone_masked[(number[f["masked"]] // 10**8) * 10**4 + number[f["masked"]] % 10**4] = True
        self.payment[f["pay"][f["pay"] >= 0]] = True
        for k, ip in enumerate(self.nat_ips):
            self.nat[b[f["ip"] == ip], k] = True
        fav = (f["item"] == self.w.fav_item[b]) & (f["ring"] < 0)
        np.add.at(self.fav, b[fav], 1)


def _business_hours(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """Couriers scan parcels between 8:00 and 21:00 local: later times move to the next morning."""
    local = (ts + 8 * HOUR) % DAY
    early, late = local < 8 * HOUR, local >= 21 * HOUR
    morning = 8 * HOUR + rng.integers(0, 4 * HOUR, len(ts))
    return np.select([early, late], [ts - local + morning, ts - local + DAY + morning], ts)


def _render(w: _World, f: dict[str, np.ndarray], rng: np.random.Generator, bills: _Waybills,
            next_id: int) -> tuple[pa.Table, int]:
    """The typed orders table of a chunk (timestamps as epoch seconds; formatting is per file format)."""
    n = len(f["t"])
    t = f["t"]
    seller = w.item_seller[f["item"]]
    virtual = w.item_virtual[f["item"]]
    ship = np.where(virtual, t + f["ship_d"], _business_hours(rng, t + f["ship_d"]))
    deliv = np.where(virtual, ship, _business_hours(rng, ship + f["deliv_d"]))
    done = deliv + f["conf_d"]  # confirmation, or the refund for refunded orders
    refunded = (f["refund"] >= 0) & (done <= END)
    recent = t > END - DAY
    status = np.select(
        [f["cancel"] | (f["unpaid"] & ~recent), f["unpaid"], ship > END, deliv > END, refunded, done > END],
        ["cancelled", "created", "paid", "shipped", "refunded", "delivered"], "completed")
    paid = ~f["unpaid"] & ~(f["cancel"] & (rng.random(n) < 0.4))
    shipped = np.isin(status, ["shipped", "delivered", "completed", "refunded"])
    delivered = np.isin(status, ["delivered", "completed", "refunded"])
    confirmed = status == "completed"
    review_at = done + f["rev_d"]
    reviewed = (f["rating"] > 0) & (confirmed | (status == "refunded")) & (review_at <= END)
    tracked = shipped & ~virtual
    number = bills.assign(rng, np.where(tracked, f["carrier"], -1), ship, seller, f["buyer"],
                          np.where(tracked, f["block"], -1), f["pos"])
    last = np.select([reviewed, confirmed | refunded, delivered, shipped], [review_at, done, deliv, ship], t)
    upd = f["upd"] & (last <= END)
    ids = next_id + np.cumsum(rng.integers(1, 20_000, n))

    addr_ok = f["addr"] >= 0
    addr_var = _mix(f["buyer"], w.addr_canon[np.maximum(f["addr"], 0)], 1)
    text = pa.array(np.zeros(0, np.int64)).cast(pa.string())
    if addr_ok.any():
        rows = np.flatnonzero(addr_ok)
        text = w.address_text(f["addr"][rows], addr_var[rows])
    review = _join(*(_take(_FRAGS, f[c]) for c in ("f1", "f2", "f3", "f4")))
    review = pc.if_else(pa.array(reviewed & (f["f2"] + f["f1"] > 0)), review, pa.scalar(None, pa.string()))
    dev_ok = f["device"] >= 0
    ip_ok = f["ip"] >= 0
    pay_ok = (f["pay"] >= 0) & paid
    f["pay"] = np.where(pay_ok, f["pay"], -1)  # the tally counts what is written
    cols = {
        "order_id": _str(ids),
        "buyer_id": _text(w.buyer_ids[f["buyer"]]),
        "seller_id": _text(w.seller_ids[seller]),
        "created_at": pa.array(t),
        "amount": pa.array(f["amount"] / 100).cast(pa.decimal128(12, 2)),
        "item_id": _text(w.item_ids[f["item"]]),
        "quantity": pa.array(f["qty"], pa.int32()),
        "item_price": pa.array(f["price"] / 100).cast(pa.decimal128(12, 2)),
        "ship_address": _scatter(addr_ok, text),
        "receiver_name": w.person_text(f["person"]),
        "receiver_phone": w.phone_text(f["phone"], f["masked"], _mix(f["buyer"], f["phone"], 2)),
        "device_id": _scatter(dev_ok, w.device_text(f["device"][dev_ok])),
        "ip": _scatter(ip_ok, w.ip_text(f["ip"][ip_ok])),
        "payment_account": _scatter(pay_ok, w.payment_text(f["pay"][pay_ok])),
        "tracking_no": _Waybills.text(f["carrier"], number),
        "carrier": _scatter(tracked, _take(_CARRIER_NAMES, f["carrier"][tracked])),
        "parcel_weight_g": pa.array(f["weight"], mask=~tracked | np.isnan(f["weight"])),
        "shipped_at": pa.array(ship, mask=~shipped),
        "delivered_at": pa.array(deliv, mask=~delivered),
        "confirmed_at": pa.array(done, mask=~confirmed),
        "status": pa.array(status),
        "refund_reason": _scatter(refunded | ((f["refund"] >= 0) & delivered),
                                  _take(_REASONS, f["refund"][refunded | ((f["refund"] >= 0) & delivered)])),
        "rating": pa.array(f["rating"], pa.int8(), mask=~reviewed),
        "review_text": review,
        "reviewed_at": pa.array(review_at, mask=~reviewed),
        "chat_messages": pa.array(f["chat"], pa.int32()),
        "updated_at": pa.array(np.minimum(last + rng.integers(1, 600, n), END) * 1000, mask=~upd),
    }
    return pa.table(cols), int(ids[-1]) if n else next_id


# -- files -----------------------------------------------------------------------

_TS_COLUMNS = ("created_at", "shipped_at", "delivered_at", "confirmed_at", "reviewed_at", "registered_at")
_OUT_NAMES = ("orders", "buyers", "sellers", "items")


def _as_format(table: pa.Table, fmt: str) -> pa.Table:
    """Timestamps as ISO 8601 text with +08:00 for text formats, typed with the offset in Parquet."""
    for name in _TS_COLUMNS:
        if name not in table.column_names:
            continue
        col = table[name].combine_chunks()
        secs = col.fill_null(0).to_numpy()
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        if fmt == "parquet":
            new = pa.array(secs, pa.timestamp("s", tz="+08:00"), mask=~valid)
        else:
            new = _iso(secs, valid)
        table = table.set_column(table.column_names.index(name), name, new)
    return table


class _Writer:
    """Writes tables in the chosen format; deterministic bytes for the same tables."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.ext = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet", "jsonl": "jsonl"}[fmt]

    def write(self, table: pa.Table, path: Path) -> None:
        table = _as_format(table, self.fmt)
        if self.fmt in ("csv", "csv.gz"):
            import pyarrow.csv as pcsv

            opts = pcsv.WriteOptions(quoting_style="needed")
            if self.fmt == "csv":
                pcsv.write_csv(table, str(path), opts)
            else:
                with pa.CompressedOutputStream(str(path), "gzip") as out:
                    pcsv.write_csv(table, out, opts)
        elif self.fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, str(path), compression="zstd")
        else:
            import duckdb

            con = duckdb.connect()
            try:
                con.execute("SET threads=1")
                con.register("chunk", table)
                con.execute("COPY chunk TO ? (FORMAT json)", [str(path)])
            finally:
                con.close()


# -- truth -------------------------------------------------------------------------


LOOKALIKE_KINDS: tuple[str, ...] = ("parcel_station", "family", "office", "corporate_gift", "flash_sale_crowd",
                                    "second_hand_device", "carrier_nat", "repeat_customers")


def _lookalikes(w: _World, tally: _Tally, gifts: list[dict],
                ring_member: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Honest groups that look dense, with the identifiers they share (honest members only).

    Returns the truth records and a bit mask of look-alike kinds per buyer.
    """
    honest = (tally.n_orders > 0) & ~ring_member
    bits = {k: (tally.used >> k) & 1 == 1 for k in (1, 3, 4, 5)}  # used slot: work address; devices
    groups: list[tuple[str, np.ndarray, dict[str, Any]]] = []

    for c, stations in enumerate(w.campus_stations):
        members = np.flatnonzero((w.campus == c) & honest & bits[1])
        if len(members) >= 2:
            groups.append(("parcel_station", members, {"address": stations}))
    # Families: accounts of one household, sharing the home and often a device, phone or payment account.
    fam = np.flatnonzero(honest & (w.hh_size[w.hh] > 1))
    for h, members in _groups(w.hh[fam], fam, 2):
        ident: dict[str, Any] = {"address": w.addr[members[:1], 0]}
        if w.hh_dev[h] >= 0 and bits[5][members].sum() >= 2:
            ident["device"] = w.hh_dev[h : h + 1]
        groups.append(("family", members, ident))
    # Offices: colleagues shipping to the office and ordering through its network.
    staff = np.flatnonzero(honest & bits[1] & (w.company >= 0))
    for c, members in _groups(w.company[staff], staff, 8):
        ips = w.company_ip0[c] + np.arange(w.company_nip[c])
        groups.append(("office", members, {"address": w.company_office[c : c + 1], "ip": ips}))
    for g in gifts:
        day = (datetime.fromtimestamp(START, TZ) + timedelta(days=g["day"])).date().isoformat()
        groups.append(("corporate_gift", g["buyers"], {"address": np.array([g["address"]]),
                                                       "seller": _pylist(w.seller_ids[[g["seller"]]]), "day": day}))
    for (day, item), buyers in sorted(tally.flash.items()):
        members = np.array(sorted(buyers), np.int64)
        members = members[~ring_member[members]]
        if len(members) >= 3:
            minute = datetime.fromtimestamp(START + day * DAY, TZ).isoformat(timespec="minutes")
            groups.append(("flash_sale_crowd", members, {"item": _pylist(w.item_ids[[item]]), "minute": minute}))
    for first, second in w.resold:
        if honest[first] and honest[second] and bits[3][first] and bits[4][second]:
            groups.append(("second_hand_device", np.array([first, second]), {"device": w.dev[first : first + 1, 0]}))
    for k, ip in enumerate(tally.nat_ips):
        members = np.flatnonzero(tally.nat[:, k] & honest)
        if len(members) >= 2:
            groups.append(("carrier_nat", members, {"ip": np.array([ip])}))
    # Loyal customers: several honest buyers ordering one shop's consumables again and again.
    loyal = np.flatnonzero((tally.fav >= 3) & honest)
    for s, members in _groups(w.item_seller[w.fav_item[loyal]], loyal, 3):
        groups.append(("repeat_customers", members, {"seller": _pylist(w.seller_ids[[s]])}))

    # Render every identifier kind once, then hand out the texts.
    render = {"address": lambda a: w.address_text(a), "device": w.device_text, "ip": w.ip_text}
    texts: dict[str, dict[int, str]] = {}
    for kind, fn in render.items():
        ids = np.unique(np.concatenate([np.asarray(g[2][kind], np.int64) for g in groups if kind in g[2]] or
                                       [np.zeros(0, np.int64)]))
        texts[kind] = dict(zip(ids.tolist(), fn(ids).to_pylist())) if len(ids) else {}
    out = []
    mask = np.zeros(w.n_buyers, np.int32)
    for kind, members, ident in groups:
        mask[members] |= 1 << LOOKALIKE_KINDS.index(kind)
        rendered = {k: ([texts[k][int(i)] for i in v] if k in render else v) for k, v in ident.items()}
        out.append({"kind": kind, "buyers": sorted(_pylist(w.buyer_ids[members])),
                    "identifiers": rendered})
    return out, mask


# -- the entry point ----------------------------------------------------------------


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate`` wrote.

    Attributes
    ----------
    out_dir : str
        The folder written.
    paths : list of str
        Every file written, orders files first.
    counts : dict
        ``orders``, ``buyers``, ``sellers``, ``items``, ``rings``, ``ring_orders``,
        ``ring_buyers``, ``lookalike_groups``, ``order_files``.
    seed : int
    format : str
    seconds : float
        Wall time.
    """

    out_dir: str
    paths: list[str]
    counts: dict[str, int]
    seed: int
    format: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": self.out_dir, "paths": list(self.paths), "counts": dict(self.counts), "seed": self.seed,
                "format": self.format, "seconds": round(self.seconds, 3)}


def _prepare(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create the output folder {out_dir}: {exc.strerror}"
        raise ConfigError(f"{problem}; choose a writable --out folder") from exc
    # A previous data set in the folder would be read together with this one: remove it (only our file names).
    for name in _OUT_NAMES:
        for old in out_dir.glob(f"{name}*"):
            ours = old.name.split(".")[0].split("_")[0] == name and old.name.endswith(tuple("." + e for e in FORMATS))
            if old.is_file() and ours:
                old.unlink()
    for old in ("truth.json", "truth_buyers.csv"):
        (out_dir / old).unlink(missing_ok=True)


def generate(out_dir: str | Path, *, orders: int = 100_000, seed: int = 0, fmt: str = "csv",
             on_progress: ProgressFn | None = None, rows_per_file: int = 250_000) -> GenerateResult:
    """Write a synthetic marketplace with planted rings and its ground truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write; created if missing. Earlier generated files in it are replaced.
    orders : int
        Number of orders (>= 200).
    seed : int
        Randomness; the same seed gives byte-identical files.
    fmt : {"csv", "csv.gz", "parquet", "jsonl"}
        Format of the orders, buyers, sellers and items files.
    on_progress : callable, optional
        ``on_progress(stage, done, total)``.
    rows_per_file : int
        Orders per orders file (about): orders are built and written this many at a time,
        which bounds memory.

    Returns
    -------
    GenerateResult

    Examples
    --------
    >>> r = generate("/tmp/rw-demo", orders=2_000, seed=1)  # doctest: +SKIP
    >>> r.counts["orders"]  # doctest: +SKIP
    2000
    """
    started = time.perf_counter()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if orders < 200:
        raise ConfigError(f"--orders {orders} is too small to hide rings in; use at least 200")
    if rows_per_file < 1000:
        raise ConfigError(f"rows_per_file {rows_per_file} is too small; use at least 1000")
    out = Path(out_dir)
    writer = _Writer(fmt)
    _prepare(out)
    streams = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7))
    rng_world, rng_rings, rng_gifts, rng_days, rng_bills, rng_ids, rng_buyers = streams
    report(on_progress, "world", 0, 3)
    w = _World(orders, rng_world)
    report(on_progress, "world", 1, 3)
    plans = plan_rings(orders, seed)  # so that plan_rings(orders, seed) shows what is planted
    rings, planter = _plant(w, rng_rings, plans)
    ring_member = np.zeros(w.n_buyers, bool)
    for r in rings:
        ring_member[r.buyers] = True
    gift_frame, gifts = _corporate_gifts(w, rng_gifts, np.flatnonzero(ring_member))
    w.freeze()
    report(on_progress, "world", 3, 3)

    special = _concat([r.frame for r in rings] + [gift_frame])
    n_chunks = max(1, math.ceil(orders / rows_per_file))
    day_counts, special_chunk = _chunk_plan(rng_days, orders - len(special["t"]), n_chunks, special["t"])
    bills = _Waybills(rng_bills, planter.blocks)
    tally = _Tally(w)
    paths: list[str] = []
    next_id = 4_100_000_000_000_000_000 + int(rng_ids.integers(0, 10**17))
    chunk_seeds = np.random.SeedSequence([seed, 1]).spawn(n_chunks)
    written = 0
    report(on_progress, "orders", 0, orders)
    for k in range(n_chunks):
        rng = np.random.default_rng(chunk_seeds[k])
        honest = _honest_chunk(w, rng, day_counts[k], tally)
        f = _concat([honest, _select(special, np.flatnonzero(special_chunk == k))])
        order = np.argsort(f["t"], kind="stable")
        f = _select(f, order)
        table, next_id = _render(w, f, rng, bills, next_id)
        tally.add(f)
        for rel, col in _ORDER_EDGES.items():
            tally.edges[rel] += len(table) - table[col].null_count
        path = out / f"orders_{k + 1:04d}.{writer.ext}"
        writer.write(table, path)
        paths.append(str(path))
        written += len(f["t"])
        report(on_progress, "orders", written, orders)
        del table, f, honest

    report(on_progress, "entities", 0, 3)
    tally.order_phones = tally.phones()  # before the buyers file adds its own
    for name, table in (("buyers", _buyers_table(w, tally, rng_buyers)),
                        ("sellers", _sellers_table(w)), ("items", _items_table(w))):
        path = out / f"{name}.{writer.ext}"
        writer.write(table, path)
        paths.append(str(path))
    report(on_progress, "entities", 3, 3)

    lookalikes, lookalike_mask = _lookalikes(w, tally, gifts, ring_member)
    truth = _truth(w, tally, bills, rings, lookalikes, seed, orders)
    _write_truth(truth, out / "truth.json")
    _truth_buyers(w, rings, lookalike_mask, out / "truth_buyers.csv")
    paths += [str(out / "truth.json"), str(out / "truth_buyers.csv")]
    counts = {
        "orders": written, "buyers": w.n_buyers, "sellers": w.n_sellers, "items": len(w.item_seller),
        "rings": len(rings), "ring_orders": int(sum(len(r.frame["t"]) for r in rings)),
        "ring_buyers": int(ring_member.sum()), "lookalike_groups": len(lookalikes), "order_files": n_chunks,
    }
    return GenerateResult(str(out), paths, counts, seed, fmt, time.perf_counter() - started)


def _chunk_plan(rng: np.random.Generator, n_honest: int, n_chunks: int,
                special_t: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Honest orders per day for each chunk (chunks follow time), and the chunk of each planted order."""
    day_counts = rng.multinomial(n_honest, _day_weights())
    bounds = [k * n_honest // n_chunks for k in range(n_chunks + 1)]
    end = np.cumsum(day_counts)
    start = end - day_counts
    per_chunk = [np.clip(end, a, b) - np.clip(start, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    day = np.clip((special_t - START) // DAY, 0, DAYS - 1)
    special_chunk = np.minimum(start[day] * n_chunks // max(n_honest, 1), n_chunks - 1)
    return per_chunk, special_chunk


def _honest_chunk(w: _World, rng: np.random.Generator, counts: np.ndarray, tally: _Tally) -> dict[str, np.ndarray]:
    """Honest orders for the given per-day counts, with the midnight flash sales of Double 11 and 12."""
    days = np.repeat(np.arange(DAYS), counts)
    n = len(days)
    t = _local_times(rng, days, _HOUR_W)
    festival = np.flatnonzero(days == DOUBLE_11)  # a third of Double 11 is bought in its first hour
    t[festival] = _local_times(rng, days[festival], np.r_[30.0, _HOUR_W[1:]])
    buyer = np.searchsorted(w.buyer_cdf, rng.random(n) * w.buyer_cdf[-1], side="right")
    item = np.searchsorted(w.item_cdf, rng.random(n) * w.item_cdf[-1], side="right")
    loyal = (w.fav_item[buyer] >= 0) & (rng.random(n) < w.loyalty[buyer])
    item = np.where(loyal, w.fav_item[buyer], item)
    flash = np.zeros(n, bool)
    for day, items in w.flash.items():
        share = 0.25 if day == DOUBLE_11 else 0.15
        rows = np.flatnonzero((days == day) & (rng.random(n) < share))
        flash[rows] = True
        item[rows] = items[np.minimum(rng.geometric(0.3, len(rows)) - 1, len(items) - 1)]
        t[rows] = START + day * DAY + np.minimum(rng.exponential(45, len(rows)), 1800).astype(np.int64)
        first = rows[t[rows] - (START + day * DAY) < 300]
        for it in np.unique(item[first]):
            tally.flash.setdefault((day, int(it)), set()).update(int(b) for b in buyer[first[item[first] == it]])
    f = _base_orders(w, rng, buyer, item, t)
    f["chat"][flash] = 0  # nobody chats at midnight of a flash sale
    return f


def _buyers_table(w: _World, tally: _Tally, rng: np.random.Generator) -> pa.Table:
    nb = w.n_buyers
    ordered = tally.n_orders > 0
    reg = np.where(w.reg_abs >= 0, w.reg_abs, np.where(ordered, tally.first_t - w.reg_gap,
                                                       START + rng.integers(0, DAYS * DAY, nb)))
    reg = np.minimum(reg, np.where(ordered, tally.first_t - 60, END))
    age_days = (END - reg) / DAY
    credit = np.log2(1 + w.activity * age_days / 30 * rng.lognormal(0, 0.5, nb)) + rng.normal(0, 0.7, nb)
    credit = np.clip(np.round(credit), 0, 20).astype(np.int32)
    verified = rng.random(nb) < np.where(age_days > 90, 0.93, 0.7)  # new accounts often not yet verified
    form = rng.random(nb)
    phone = w.phone[:, 0]
    masked = form < 0.8
    text = w.phone_text(phone, masked, _mix(np.arange(nb), phone, 2))
    has = form < 0.92
    number = w.phones["number"][phone]
    tally.phone_full[phone[has & ~masked]] = True
    tally.phone_masked[(number[masked] // 10**8) * 10**4 + number[masked] % 10**4] = True
    return pa.table({
        "buyer_id": _text(w.buyer_ids),
        "registered_at": pa.array(reg),
        "real_name_verified": pa.array(verified),
        "credit_level": pa.array(credit),
        "phone": pc.if_else(pa.array(has), text, pa.scalar(None, pa.string())),
    })


def _sellers_table(w: _World) -> pa.Table:
    return pa.table({"seller_id": _text(w.seller_ids), "name": w.seller_names,
                     "category": _take(_CAT_NAMES, w.seller_cat),
                     "registered_at": pa.array(w.seller_reg)})


def _items_table(w: _World) -> pa.Table:
    return pa.table({"item_id": _text(w.item_ids), "seller_id": _text(w.seller_ids[w.item_seller]),
                     "title": w.item_titles, "price": pa.array(w.item_cents / 100).cast(pa.decimal128(12, 2)),
                     "category": _take(_CAT_NAMES, w.item_cat)})


def _truth(w: _World, tally: _Tally, bills: _Waybills, rings: list[_Ring], lookalikes: list[dict],
           seed: int, orders: int) -> dict[str, Any]:
    def distinct_rows(*cols: np.ndarray) -> int:
        if not len(cols[0]):
            return 0
        order = np.lexsort(cols)
        change = np.zeros(len(order) - 1, bool)
        for c in cols:
            change |= np.diff(c[order]) != 0
        return int(change.sum()) + 1

    dev = np.flatnonzero(tally.device)
    ip = np.flatnonzero(tally.ip)
    pay = np.flatnonzero(tally.payment)
    d, i, p = w.devices, w.ips, w.payments
    expected = {
        "Buyer": w.n_buyers,
        "Seller": w.n_sellers,
        "Item": len(w.item_seller),
        "Order": orders,
        "Address": int(tally.addr.sum()),
        "Device": distinct_rows(d["kind"][dev], d["hi"][dev], d["lo"][dev]),
        "IP": distinct_rows(i["ver"][ip].astype(np.uint64), i["hi"][ip], i["lo"][ip]),
        "IPNetwork": distinct_rows(i["ver"][ip].astype(np.uint64), w.ip_net(ip)),
        "Phone": tally.phones(),
        "Payment": distinct_rows(p["hi"][pay], p["lo"][pay]),
        "Waybill": bills.count,
    }
    ring_list = []
    for r in rings:
        pools = {}
        for kind, ids_ in sorted(r.pools.items()):
            ids_ = np.asarray(ids_, np.int64)
            text = {"device": w.device_text, "ip": w.ip_text, "payment": w.payment_text,
                    "address": lambda a: w.address_text(a), "phone": lambda x: _str(w.phones["number"][x])}[kind](ids_)
            pools[kind] = sorted(set(text.to_pylist()))
        t = r.frame["t"]
        ring_list.append({
            "ring_id": r.ring_id, "ring_type": r.ring_type, "tactic": r.tactic,
            "buyers": sorted(_pylist(w.buyer_ids[r.buyers])),
            "target_seller_ids": sorted(_pylist(w.seller_ids[r.targets])),
            "n_orders": len(t),
            "first_order_at": datetime.fromtimestamp(int(t.min()), TZ).isoformat(),
            "last_order_at": datetime.fromtimestamp(int(t.max()), TZ).isoformat(),
            "identifiers": pools,
        })
    return {
        "seed": seed,
        "orders": orders,
        "generator": "ringwatch.generate/1",
        "period": {"first_day": datetime.fromtimestamp(START, TZ).date().isoformat(), "days": DAYS,
                   "export_at": datetime.fromtimestamp(END, TZ).isoformat()},
        "expected_counts": expected,
        "expected_edge_counts": {**tally.edges, "IN_NETWORK": expected["IP"], "LISTED_BY": expected["Item"]},
        "expected_counts_orders_only": {"Phone": tally.order_phones},
        "notes": {
            "Address": "distinct canonical addresses; typing variants of one address count once",
            "Phone": "distinct receiver_phone and buyers.phone values after digits-only normalisation "
                     "(+86 dropped); a masked phone is its own identifier; receiver phones alone: "
                     "expected_counts_orders_only",
            "Buyer": "every buyer is listed in the buyers file; all ring members placed orders",
            "expected_edge_counts": "order edges: orders carrying the column; USED (buyer-identifier) not given",
        },
        "rings": ring_list,
        "lookalikes": lookalikes,
    }


def _write_truth(truth: dict[str, Any], path: Path) -> None:
    """JSON with one ring or look-alike group per line: readable, diffable, written fast."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{\n")
        for n, (key, value) in enumerate(truth.items()):
            end = ",\n" if n < len(truth) - 1 else "\n"
            if isinstance(value, list):
                rows = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
                fh.write(f' "{key}": [\n{rows}\n ]{end}' if value else f' "{key}": []{end}')
            else:
                fh.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{end}")
        fh.write("}\n")


def _truth_buyers(w: _World, rings: list[_Ring], lookalike_mask: np.ndarray, path: Path) -> None:
    """Every buyer once, sorted by id: its ring (if any) and its look-alike kinds (``;``-separated)."""
    import pyarrow.csv as pcsv

    ring_idx = np.zeros(w.n_buyers, np.int64)  # 0 = no ring
    for k, r in enumerate(rings):
        ring_idx[r.buyers] = k + 1
    masks, inverse = np.unique(lookalike_mask, return_inverse=True)
    labels = [";".join(sorted(k for b, k in enumerate(LOOKALIKE_KINDS) if m >> b & 1)) or None for m in masks]
    order = np.argsort(w.buyer_ids, kind="stable")
    ring_of = ring_idx[order]

    def vocab(values: list[str | None]) -> pa.Array:
        return pa.array(values, pa.string())

    table = pa.table({
        "buyer_id": _text(w.buyer_ids[order]),
        "ring_id": vocab([None] + [r.ring_id for r in rings]).take(pa.array(ring_of)),
        "ring_type": vocab([None] + [r.ring_type for r in rings]).take(pa.array(ring_of)),
        "tactic": vocab([None] + [r.tactic for r in rings]).take(pa.array(ring_of)),
        "lookalike": vocab(labels).take(pa.array(inverse.ravel()[order])),
    })
    pcsv.write_csv(table, str(path), pcsv.WriteOptions(quoting_style="needed"))
