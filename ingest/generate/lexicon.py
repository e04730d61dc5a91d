"""The vocabularies of ``vocab`` as arrays, indexed by the integer codes the generator draws.

Geography (cities by population, regions, districts, site names), categories,
carriers, review fragments and refund reasons: what honest and ring orders
alike are coded in.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import vocab as V

__all__ = ["CAMPUS0", "CARRIER_NAMES", "CARRIER_SHARE", "CAT", "CAT_CONSUMABLE", "CAT_INDEX", "CAT_NAMES",
           "CAT_PRICE", "CAT_PSIG", "CAT_SHARE", "CAT_VIRTUAL", "CAT_WEIGHT", "CAT_WSIG", "CITIES", "CITY_DIST0",
           "CITY_NDIST", "CITY_POP", "CITY_REGION", "CLAIM0", "DIST_CITY", "FRAG0", "FRAGS", "FRAG_GROUPS",
           "N_REGIONS", "NOUN0", "NOUNS", "NOUN_N", "REASONS", "SITE_NAMES", "TOWER0", "draw_cities", "fragments"]

# -- geography -------------------------------------------------------------------

CITIES = [(p, c, pop, d) for p, cities in V.PROVINCES.items() for c, pop, d in cities]
CITY_POP = np.array([pop for *_, pop, _ in CITIES], float)
CITY_REGION = np.array([i if not p else list(V.PROVINCES).index(p) + len(CITIES) for i, (p, *_) in
                        enumerate(CITIES)])
CITY_REGION = np.unique(CITY_REGION, return_inverse=True)[1]  # municipalities are regions of their own
N_REGIONS = int(CITY_REGION.max()) + 1
DIST_CITY = np.array([i for i, (*_, d) in enumerate(CITIES) for _ in d])  # the city of each district
CITY_DIST0 = np.searchsorted(DIST_CITY, np.arange(len(CITIES)))
CITY_NDIST = np.bincount(DIST_CITY)

# Site names: residential compounds, then office towers, then campuses (per city and kind).
_COMPOUNDS = [h + t for h in V.COMPOUND_HEADS for t in V.COMPOUND_TAILS]
_TOWERS = [h + t for h in V.TOWER_HEADS for t in V.TOWER_TAILS]
_CAMPUSES = [c.removesuffix("市") + k for _, c, *_ in CITIES for k in V.CAMPUS_KINDS]
SITE_NAMES = pa.array(_COMPOUNDS + _TOWERS + _CAMPUSES)
TOWER0, CAMPUS0 = len(_COMPOUNDS), len(_COMPOUNDS) + len(_TOWERS)


def draw_cities(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cities drawn by population."""
    return rng.choice(len(CITIES), n, p=CITY_POP / CITY_POP.sum())


# -- products and carriers --------------------------------------------------------

CAT = V.CATEGORIES
CAT_NAMES = pa.array([c[0] for c in CAT])
CAT_INDEX = {c[0]: i for i, c in enumerate(CAT)}
CAT_PRICE = np.array([c[1] for c in CAT], float)
CAT_PSIG = np.array([c[2] for c in CAT], float)
CAT_WEIGHT = np.array([c[3] for c in CAT], float)
CAT_WSIG = np.array([c[4] for c in CAT], float)
CAT_SHARE = np.array([c[5] for c in CAT], float) / sum(c[5] for c in CAT)
CAT_VIRTUAL = np.array([c[6] for c in CAT])
CAT_CONSUMABLE = np.array([c[7] for c in CAT])
NOUNS = [n for c in CAT for n in c[8]]  # the product nouns of every category, category after category
NOUN0 = np.cumsum([0] + [len(c[8]) for c in CAT])[:-1]
NOUN_N = np.array([len(c[8]) for c in CAT])

CARRIER_NAMES = pa.array([c[0] for c in V.CARRIERS])
CARRIER_SHARE = np.array([c[4] for c in V.CARRIERS]) / sum(c[4] for c in V.CARRIERS)

# -- reviews and refunds -------------------------------------------------------------

# Review texts are made of four fragments from one table (0 is the empty fragment).
FRAG_GROUPS = {
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
FRAGS = pa.array(["", *(f for g in FRAG_GROUPS.values() for f in g)])
FRAG0 = dict(zip(FRAG_GROUPS, 1 + np.cumsum([0] + [len(g) for g in FRAG_GROUPS.values()])[:-1]))
REASONS = pa.array([*V.REFUND_REASONS_HONEST, *V.REFUND_REASONS_CLAIM])
CLAIM0 = len(V.REFUND_REASONS_HONEST)  # the first claim reason (空包, 少件 ...) in REASONS


def fragments(rng: np.random.Generator, group: str, n: int) -> np.ndarray:
    """n random fragments of a group, as indices into FRAGS."""
    return FRAG0[group] + rng.integers(0, len(FRAG_GROUPS[group]), n)
