"""Identifiers as an export writes them: addresses as typed, device ids, IPs, phones, payments, names.

Each function renders ids of a ``World`` table. Typing habits (``var``) vary
only what a normaliser can undo, so every variant of one address meets again.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import vocab as V
from .arrays import as_text, by_kind, bytes_text, hex_bytes, hex_text, join, take
from .lexicon import CITIES, DIST_CITY, SITE_NAMES
from .world import World

__all__ = ["address_text", "device_text", "identifier_text", "ip_text", "payment_text", "person_text", "phone_text"]

_PROV_NAMES = pa.array([p for p, *_ in CITIES])
_CITY_NAMES = pa.array([c for _, c, *_ in CITIES])
_DIST_NAMES = pa.array([x for *_, d in CITIES for x in d])
_STREETS = pa.array(V.STREETS)
_STATIONS = pa.array(V.STATION_NAMES)
_BWORDS = pa.array(["栋", "幢", "号楼"])
_SEPS = pa.array(["", " ", "，", ","])
_LETTERS = pa.array(["", "A座", "B座", "C座"])
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABC"}
_SURNAMES = pa.array(V.SURNAMES)
_GIVEN = pa.array([*V.GIVEN_CHARS, ""])  # the last entry: a one-character given name
_HEX16 = pa.array([f"{i:x}" for i in range(65536)])


def address_text(w: World, ids: np.ndarray, var: np.ndarray | None = None) -> pa.Array:
    """Addresses as typed. ``var`` (uint64 per row) picks the typing habits; None = canonical."""
    a, s = w.addresses, w.sites
    ids = w.addr_canon[ids]
    kind, site = a["kind"][ids], a["site"][ids]
    district = s["district"][site]
    city = DIST_CITY[district]
    n = len(ids)
    canonical = var is None or not var.any()  # as the truth lists it
    v = np.zeros(n, np.int64) if canonical else (var & np.uint64(0xFFFFFFFF)).astype(np.int64)
    bword = np.select([v % 100 < 60, v % 100 < 75], [0, 1], 2)
    sep = np.searchsorted([55, 85, 95], (v // 100) % 100, side="right")
    omit = ((v // 10_000) % 100 < 15) & (pc.utf8_length(take(_PROV_NAMES, city)).to_numpy() > 0)
    wide = (v // 1_000_000) % 100 < 8
    if canonical:
        bword, sep, omit, wide = np.zeros(n, int), np.zeros(n, int), np.zeros(n, bool), np.zeros(n, bool)
    sep_s = take(_SEPS, sep)
    prov = pc.if_else(pa.array(omit), "", take(_PROV_NAMES, city))
    prov = pc.if_else(pc.equal(prov, ""), "", join(prov, sep_s))
    street = join(take(_STREETS, s["street"][site]), as_text(s["no"][site]), "号")
    res = join(as_text(a["bld"][ids]), take(_BWORDS, bword), as_text(a["unit"][ids]), "单元",
               as_text(a["room"][ids]), "室")
    office = join(take(_LETTERS, a["letter"][ids]), as_text(a["room"][ids]), "室")
    station = take(_STATIONS, np.maximum(a["station"][ids], 0))
    detail = pc.if_else(pa.array(kind == 0), res, pc.if_else(pa.array(kind == 1), office, station))
    text = join(prov, take(_CITY_NAMES, city), sep_s, take(_DIST_NAMES, district), sep_s, street, sep_s,
                take(SITE_NAMES, s["name"][site]), sep_s, detail)
    if wide.any():
        sub = text.filter(pa.array(wide))
        for narrow, full in _FULLWIDTH.items():
            sub = pc.replace_substring(sub, narrow, full)
        text = pc.replace_with_mask(text, pa.array(wide), sub)
    return text

def device_text(w: World, ids: np.ndarray) -> pa.Array:
    d = w.devices
    kind, hi, lo = d["kind"][ids], d["hi"][ids], d["lo"][ids]
    android = bytes_text(hex_bytes(lo[kind == 0]))
    h32 = np.concatenate([hex_bytes(hi[kind > 0]).view(np.uint8).reshape(-1, 16),
                          hex_bytes(lo[kind > 0]).view(np.uint8).reshape(-1, 16)], axis=1)
    web = bytes_text(np.ascontiguousarray(h32[kind[kind > 0] == 2]).view("S32").ravel())
    uuid = h32[kind[kind > 0] == 1]
    uuid = np.where(uuid >= ord("a"), uuid - 32, uuid).astype(np.uint8)  # iOS writes upper case
    dash = np.full((len(uuid), 1), ord("-"), np.uint8)
    uuid = np.concatenate([uuid[:, :8], dash, uuid[:, 8:12], dash, uuid[:, 12:16], dash, uuid[:, 16:20], dash,
                           uuid[:, 20:]], axis=1)
    parts = {0: android, 1: bytes_text(np.ascontiguousarray(uuid).view("S36").ravel()), 2: web}
    return by_kind(kind, parts)

def ip_text(w: World, ids: np.ndarray) -> pa.Array:
    t = w.ips
    ver, hi, lo = t["ver"][ids], t["hi"][ids], t["lo"][ids]
    lo4 = lo[ver == 4]
    v4 = pc.binary_join_element_wise(*(as_text((lo4 >> np.uint64(s)) & np.uint64(255)) for s in (24, 16, 8, 0)), ".")
    hi6, lo6 = hi[ver == 6], lo[ver == 6]
    groups = [(x >> np.uint64(s)) & np.uint64(0xFFFF) for x in (hi6, lo6) for s in (48, 32, 16, 0)]
    v6 = pc.binary_join_element_wise(*(take(_HEX16, g.astype(np.int64)) for g in groups), ":")
    return by_kind(ver, {4: v4, 6: v6})

def phone_text(w: World, ids: np.ndarray, masked: np.ndarray, var: np.ndarray) -> pa.Array:
    s = as_text(w.phones["number"][ids])
    head, mid, tail = (pc.utf8_slice_codeunits(s, a, b) for a, b in ((0, 3), (3, 7), (7, 11)))
    v = (var % np.uint64(100)).astype(np.int64)
    spaced = pc.binary_join_element_wise(head, mid, tail, pc.if_else(pa.array(v < 92), " ", "-"))
    full = pc.if_else(pa.array(v < 80), s, pc.if_else(pa.array(v < 96), spaced, join("+86 ", s)))
    return pc.if_else(pa.array(masked), join(head, "****", tail), full)

def payment_text(w: World, ids: np.ndarray) -> pa.Array:
    return join(hex_text(w.payments["hi"][ids]), hex_text(w.payments["lo"][ids]))

def person_text(w: World, ids: np.ndarray) -> pa.Array:
    p = w.persons
    return join(take(_SURNAMES, p["sur"][ids]), take(_GIVEN, p["g1"][ids]), take(_GIVEN, p["g2"][ids]))


def identifier_text(w: World, kind: str, ids: np.ndarray) -> pa.Array:
    """Canonical text of identifiers of one kind (``address``, ``device``, ``ip``, ``phone``, ``payment``),
    as the truth lists them: an address untyped, a phone as its eleven digits."""
    if kind == "address":
        return address_text(w, ids)
    if kind == "phone":
        return as_text(w.phones["number"][ids])
    return {"device": device_text, "ip": ip_text, "payment": payment_text}[kind](w, ids)
