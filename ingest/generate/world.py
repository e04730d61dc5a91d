"""The world every order is drawn from: geography, sellers, items, buyers and their identifiers.

Honest and ring identifiers come from the same generators (``World.new_*``),
so no id format, range or registration date tells them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from . import vocab as V
from .arrays import distinct_ints, hex_bytes, join, lognormal, random_u64, take
from .clock import DAY, DOUBLE_11, DOUBLE_12, START, YEAR
from .lexicon import (CAMPUS0, CARRIER_SHARE, CAT, CAT_CONSUMABLE, CAT_INDEX, CAT_NAMES, CAT_PRICE, CAT_PSIG,
                      CAT_SHARE, CAT_VIRTUAL, CAT_WEIGHT, CAT_WSIG, CITIES, CITY_DIST0, CITY_NDIST, CITY_POP,
                      CITY_REGION, N_REGIONS, NOUN0, NOUN_N, NOUNS, TOWER0, draw_cities)

__all__ = ["Table", "World"]


class Table:
    """Typed columns of an entity table, grown with ``add`` while the world is built."""

    def __init__(self, **dtypes: type):
        self._dtypes = dtypes
        self._parts: dict[str, list[np.ndarray]] = {n: [] for n in dtypes}
        self.n = 0
        self.c: dict[str, np.ndarray] = {}

    def add(self, **cols: Any) -> np.ndarray:
        """Append rows (scalars broadcast); returns their ids."""
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


class World:
    """Geography, sellers, items, buyers and every identifier they own.

    Sizes follow the number of orders: about 3.6 orders per buyer and 160 per
    seller over the 104 days, both heavy-tailed.
    """

    def __init__(self, n_orders: int, rng: np.random.Generator):
        self.rng = rng
        self.n_orders = n_orders
        i8, i16, i32, i64, u64 = np.int8, np.int16, np.int32, np.int64, np.uint64
        self.addresses = Table(kind=i8, site=i32, bld=i16, unit=i16, room=i16, letter=i8, station=i8)
        self.sites = Table(district=i32, street=i32, no=i32, name=i32)
        self.devices = Table(kind=i8, hi=u64, lo=u64)
        self.ips = Table(ver=i8, hi=u64, lo=u64)
        self.phones = Table(number=i64)
        self.payments = Table(hi=u64, lo=u64)
        self.persons = Table(sur=i16, g1=i16, g2=i16)
        self._geography()
        self._sellers_and_items()
        self._buyers()

    # geography and identifier generators (honest and ring identifiers both come from here)

    def _geography(self) -> None:
        rng = self.rng
        n_sites = max(60, self.n_orders // 40)
        city = np.concatenate([np.arange(len(CITIES)), draw_cities(rng, n_sites)])
        self.res_site0, self.res_nsite = self._new_sites(city, name_lo=0, name_hi=TOWER0)
        n_towers = max(30, self.n_orders // 400)
        city = np.concatenate([np.arange(len(CITIES)), draw_cities(rng, n_towers)])
        self.office_site0, self.office_nsite = self._new_sites(city, name_lo=TOWER0, name_hi=CAMPUS0)
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
        region_pop = np.bincount(CITY_REGION, CITY_POP)
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
        district = CITY_DIST0[city] + (rng.random(n) * CITY_NDIST[city]).astype(int)
        street = rng.integers(0, len(V.STREETS), n)
        no = np.minimum(1 + rng.geometric(1 / 120, n), 2999)
        key = (district.astype(np.int64) * 1000 + street) * 4000 + no
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        city, district, street, no = city[first], district[first], street[first], no[first]
        order = np.argsort(city, kind="stable")
        ids = self.sites.add(district=district[order], street=street[order], no=no[order],
                             name=rng.integers(name_lo, name_hi, len(order)))
        counts = np.bincount(city[order], minlength=len(CITIES))
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
        hi = np.where(kind == 0, np.uint64(0), random_u64(rng, n))  # an Android id is 64 bits
        return self.devices.add(kind=kind, hi=hi, lo=random_u64(rng, n))

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
        return self.payments.add(hi=random_u64(rng, n), lo=random_u64(rng, n))

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
        self.seller_ids = np.char.add(b"s", distinct_ints(rng, 10**7, 10**8, ns).astype("S8"))
        cat = rng.choice(len(CAT), ns, p=CAT_SHARE)
        basics = [CAT_INDEX[c] for c in ("女装", "食品零食", "数码配件")]
        cat[: min(ns, 3)] = basics[: min(ns, 3)]  # a tiny world still sells parcels
        self.seller_cat = cat
        self.seller_city = draw_cities(rng, ns)
        self.seller_pop = lognormal(rng, 1.0, 1.6, ns)
        age = np.where(rng.random(ns) < 0.2, rng.uniform(0.05, 1, ns), lognormal(rng, 3.0, 0.6, ns))
        self.seller_reg = START - (np.minimum(age, 13) * YEAR).astype(np.int64)
        self.seller_carrier = np.stack([rng.choice(len(V.CARRIERS), ns, p=CARRIER_SHARE),
                                        rng.choice(len(V.CARRIERS), ns, p=CARRIER_SHARE)], axis=1)
        self.seller_names = join(take(pa.array(V.SHOP_HEADS), rng.integers(0, len(V.SHOP_HEADS), ns)),
                                 take(CAT_NAMES, cat),
                                 take(pa.array(V.SHOP_TAILS), rng.integers(0, len(V.SHOP_TAILS), ns)))

        n_items = np.minimum(rng.geometric(1 / 6, ns), 200)
        self.item0 = np.cumsum(n_items) - n_items
        self.n_items = n_items
        ni = int(n_items.sum())
        seller = np.repeat(np.arange(ns), n_items)
        rank = np.arange(ni) - self.item0[seller]
        icat = np.where(rng.random(ni) < 0.9, cat[seller], rng.choice(len(CAT), ni, p=CAT_SHARE))
        self.item_seller, self.item_cat = seller, icat
        self.item_ids = distinct_ints(rng, 5 * 10**11, 9 * 10**11, ni).astype("S12")
        raw = CAT_PRICE[icat] * np.exp(CAT_PSIG[icat] * rng.standard_normal(ni))
        ending = rng.choice(np.array([0.9, 0.0, 0.99, 0.5, 0.8]), ni, p=[.35, .3, .15, .1, .1])
        self.item_cents = np.round((np.floor(np.maximum(raw, 1)) + ending) * 100).astype(np.int64)
        self.item_weight = CAT_WEIGHT[icat] * np.exp(CAT_WSIG[icat] * rng.standard_normal(ni))
        self.item_virtual = CAT_VIRTUAL[icat]
        noun = NOUN0[icat] + (rng.random(ni) * NOUN_N[icat]).astype(int)
        adj = pa.array(V.TITLE_ADJECTIVES)
        self.item_titles = join(take(adj, rng.integers(0, len(adj), ni)), " ",
                                take(pa.array(V.SHOP_HEADS), rng.integers(0, len(V.SHOP_HEADS), ni)), " ",
                                take(pa.array(NOUNS), noun), " ",
                                take(adj, rng.integers(0, len(adj), ni)))
        within = (1.0 / (1 + rank) ** 1.1) * lognormal(rng, 1.0, 0.4, ni)
        self.item_pop = self.seller_pop[seller] * within / np.bincount(seller, within)[seller]
        # Flash-sale items: popular physical goods, promoted at midnight of Double 11 and Double 12.
        physical = np.flatnonzero(~self.item_virtual)
        top = physical[np.argsort(-self.item_pop[physical], kind="stable")[: max(3, ni // 50)]]
        self.flash = {d: rng.choice(top, min(len(top), int(rng.integers(6, 16))), replace=False)
                      for d in (DOUBLE_11, DOUBLE_12)}
        self.seller_physical = np.bincount(seller, ~self.item_virtual, ns) > 0  # sells goods that ship

    def physical_items(self, seller: int) -> np.ndarray:
        """The seller's items that ship as parcels (no top-ups or game cards)."""
        its = np.arange(self.item0[seller], self.item0[seller] + self.n_items[seller])
        return its[~self.item_virtual[its]]

    # buyers, households, offices, campuses

    def _buyers(self) -> None:
        rng = self.rng
        nb = max(60, round(self.n_orders / 3.6))
        self.n_buyers = nb
        self.buyer_ids = hex_bytes(distinct_ints(rng, 2**47, 2**48, nb).astype(np.uint64), 6)
        # Households: most have one account, families share a home and often a device, phone or payment.
        sizes = rng.choice([1, 2, 3, 4, 5], nb, p=[.86, .08, .04, .015, .005])
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), nb) + 1]
        sizes[-1] -= sizes.sum() - nb
        nh = len(sizes)
        hh = np.repeat(np.arange(nh, dtype=np.int32), sizes)
        self.hh, self.hh_size = hh, sizes
        self.hh_main = np.cumsum(sizes) - sizes  # the first account of each household
        hh_city = draw_cities(rng, nh)
        city = hh_city[hh]
        self.buyer_city = city.astype(np.int16)
        region = CITY_REGION[city]
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
            csize = np.clip(np.round(lognormal(rng, 5, 1.1, len(workers))), 2, 400).astype(int)
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
            creg = CITY_REGION[ccity]
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
            camp_city = draw_cities(rng, ncamp)
            camp_of = rng.integers(0, ncamp, len(students))
            self.campus[students] = camp_of
            for c in range(ncamp):
                site = self.sites.add(district=CITY_DIST0[camp_city[c]] + rng.integers(0, CITY_NDIST[camp_city[c]]),
                                      street=rng.integers(0, len(V.STREETS)), no=rng.integers(1, 999),
                                      name=CAMPUS0 + camp_city[c] * len(V.CAMPUS_KINDS)
                                      + rng.integers(0, len(V.CAMPUS_KINDS)))[0]
                stations = self.new_stations(np.full(int(rng.integers(1, 3)), site))
                self.campus_stations.append(stations)
                members = students[camp_of == c]
                addr[members, 1] = stations[rng.integers(0, len(stations), len(members))]
                egress = self.new_networks(CITY_REGION[camp_city[c : c + 1]], np.ones(1, int), np.full(1, 8))
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
        addr[alt[~use_station], 2] = self.new_homes(draw_cities(rng, int((~use_station).sum())))
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
        hreg = CITY_REGION[hh_city]
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
        self.phone, self.phone_w = self._own_second_family(self.new_phones, 0.08, (10, 50), 0.5)
        self.pay, self.pay_w = self._own_second_family(self.new_payments, 0.3, (10, 60), 0.3)

        # Activity, loyalty, registration.
        self.activity = lognormal(rng, 1.0, 1.1, nb)
        loyal = np.flatnonzero(rng.random(nb) < 0.12)
        consumable = np.flatnonzero(CAT_CONSUMABLE[self.item_cat] & ~self.item_virtual)
        self.loyalty = np.zeros(nb, np.float32)
        self.fav_item = np.full(nb, -1, np.int32)
        if len(consumable):
            p = self.item_pop[consumable] / self.item_pop[consumable].sum()
            self.fav_item[loyal] = rng.choice(consumable, len(loyal), p=p)
            self.loyalty[loyal] = rng.uniform(0.3, 0.8, len(loyal))
            self.activity[loyal] *= rng.uniform(1.5, 4, len(loyal))
        new = rng.random(nb) < 0.12
        age = np.minimum(lognormal(rng, 4.0, 0.6, nb), 15)
        self.reg_abs = np.where(new, -1, START - (age * YEAR).astype(np.int64) - rng.integers(0, DAY, nb))
        self.reg_gap = np.minimum(lognormal(rng, 3 * DAY, 1.2, nb), YEAR).astype(np.int32)
        self.eligible = (~family) & (kind != 2) & (self.fav_item < 0)  # never in a look-alike group
        self.eligible[self.resold.ravel()] = False

    def _own_second_family(self, new: Callable[[int], np.ndarray], p_second: float, second_w: tuple[int, int],
                           p_family: float) -> tuple[np.ndarray, np.ndarray]:
        """Identifier slots per buyer and their weights: the buyer's own (0), a second one for a share
        ``p_second`` of buyers (1), and in a share ``p_family`` of families the main account's own (2)."""
        rng, nb, hh, sizes = self.rng, self.n_buyers, self.hh, self.hh_size
        ids = np.full((nb, 3), -1, np.int32)
        weight = np.zeros((nb, 3), np.uint8)
        ids[:, 0] = new(nb)
        weight[:, 0] = 100
        second = np.flatnonzero(rng.random(nb) < p_second)
        ids[second, 1] = new(len(second))
        weight[second, 1] = rng.integers(*second_w, len(second))
        shared = (sizes > 1) & (rng.random(len(sizes)) < p_family)
        fam = np.flatnonzero(shared[hh] & (np.arange(nb) != self.hh_main[hh]))
        ids[fam, 2] = ids[self.hh_main[hh[fam]], 0]
        weight[fam, 2] = rng.integers(30, 90, len(fam))
        return ids, weight

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

    def ip_net(self, ids: np.ndarray) -> np.ndarray:
        """A number per /24 (IPv4) or /64 (IPv6) network, for counting."""
        t = self.ips
        return np.where(t["ver"][ids] == 4, t["lo"][ids] >> np.uint64(8), t["hi"][ids])
