"""Evidence, typing and scoring of rings, calibrated against the data set's own population.

A ring is described by **signals** (:data:`SIGNALS`): numbers an analyst can
check, each computed only when the input columns it needs are filled (absent
signals neither help nor hurt), each with a plain-language explanation. A
signal's **strength** (0..1) says how unusual the ring's number is for this
data set, never how large it is:

Against the same shops' other customers
    A ring with target shops is compared, order for order, with the other
    orders those shops received, each order with its own shop's (shrunk
    toward the data set's rate as far as shops resemble one another, see
    ``_shop_shrink``): one-star ratings, refunds, silence, prices, parcels,
    waybills and confirmation times are judged against what that shop's
    orders usually look like, so virtual goods without waybills, a shop's
    coupons or its loyal re-buyers explain themselves. How orders are
    placed (chat, price, item) is decided once per sitting (one account,
    shop and day): those signals count sittings, not orders.
Against random look-alike groups (``calibration="null"``)
    Otherwise (and for account signals) each member is replaced by a random
    buyer with about as many orders, drawn from buyers no detector
    proposed; the ring is compared with those groups' median, with their
    spread less their own sampling noise as the honest heterogeneity.
As a surprise after the search (``calibration="surprise"``)
    Concentration on target shops and lockstep timing are what detectors
    *select* groups for, so they are scored by how far beyond chance they
    are *after paying for the search*: the Poisson tail bound of the
    observed count against what the data's own rates predict (orders per
    head of the shops' other customers; the chance that another member's
    order at that shop falls in the same hour or day), minus the log of the
    number of comparable groups and shops the search could have picked. The
    busiest day or window is left out: a gift order or a flash sale acts
    together once.
Directly (``calibration="direct"``)
    How strongly shared identifiers bind the members (see ``_linkage``).
Only against the same shops' other customers (``calibration="shops"``)
    How *many* members share a binding identifier with another member
    (``linked_members``), against how many of the targets' other customers
    share one with another customer of the same shop (``_shop_links``):
    twenty returning customers sharing devices two by two bind weakly on
    average, yet no chance assembles them.

Share signals are compared by the signed deviance of the binomial (accurate
far in the tail, where small base rates live); every signal must clear a
Bonferroni threshold for the number of groups and signals examined
(:func:`z_threshold`) *and* an effect-size floor (a large crowd's small
but "significant" difference does not count).

Signals belong to **lines of evidence** (:data:`LINES`): ``linkage`` (shared
identifiers, the same review texts), ``coordination`` (concentration and
repeat buying at target shops), ``lockstep`` (ordering together, again and
again), ``behaviour`` (the orders look fake or abusive) and ``accounts``
(young, low-credit, unverified; supporting only: it never makes one of the
two lines a case needs). A line's strength is the noisy-OR of its signals.
Accounts bound by identifiers may be one person or one household, whose
favourite shops and shopping times follow from the link: coordination and
lockstep count as separate lines only as far as the members are *not*
linked, nor receive parcels at one shared address (neighbours of a pickup
point order together because of the place); shared targets count each
linked unit once instead (separate households converging on the same few
shops). The score is an ordered weighted average of the lines,
:data:`LINE_WEIGHTS` = 0.30, 0.50, 0.20 for the strongest, second and third:
a case is as strong as its second independent line; one line alone scores
at most 0.3.

The type follows the direction of the behavioural evidence: refunds and
one/two-star reviews toward the targets point to ``malicious_buyers``;
five-star reviews, fast confirmation, empty parcels, reused or missing
waybills and off-price orders (or no behavioural evidence at all: volume
that boosts a shop) to ``brushing``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import igraph
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.detect.identity import KIND_PRIORS, UNKNOWN_KIND_PRIOR, distinct, edge_list, encode
from graph.errors import EmptyGraphError
from graph.model import MEMBER_ENTITY_TYPES
from graph.rings import Ring

__all__ = [
    "Signal",
    "SIGNALS",
    "LINES",
    "LINE_WEIGHTS",
    "SURPRISE_FULL",
    "Population",
    "Evidence",
    "Screened",
    "prepare",
    "screen",
    "evaluate",
    "trim_to_evidence",
    "keep_underpowered_whole",
    "combine_lines",
    "strength_from_z",
    "z_threshold",
    "poisson_surprise",
    "binding_users",
]

DAY = 86_400
HOUR = 3_600
# Windows in which orders of several members at one shop count as acting together.
LOCKSTEP_WINDOWS: tuple[tuple[int, str], ...] = ((HOUR, "hour"), (DAY, "day"))
LINES: tuple[str, ...] = ("linkage", "coordination", "lockstep", "behaviour", "accounts")
# Ordered weights of the strongest, second and third line: a case is as strong as its
# second independent line of evidence (one line alone scores at most 0.3).
LINE_WEIGHTS: tuple[float, ...] = (0.30, 0.50, 0.20)
# Lines a shared person explains: for accounts bound by identifiers they are not
# independent of the link (see _lines).
LINKED_LINES: tuple[str, ...] = ("coordination", "lockstep")
# Separately linked units (households, device pools) a group must exceed before what its
# members do together counts beyond their links: one household and two acquaintances do not.
LINKED_UNITS = 3.0
# Linkage signals that say how many members are linked, not how tightly: they do not make
# the group one household, so they explain none of its coordination (see _lines).
UNBINDING: tuple[str, ...] = ("linked_members",)
# Coordination signals that count each linked unit (household, device pool) once: the link
# explains none of what they show, a shared pickup point still does (see _lines).
PER_UNIT: tuple[str, ...] = ("shared_targets",)
# Lines that corroborate but never make one of the two lines a case needs: they
# count at most as much as the second strongest main line.
SUPPORTING_LINES: tuple[str, ...] = ("accounts",)
# Chance that any signal of any proposed group reaches strength by coincidence alone.
FAMILY_ERROR = 0.05
# An identifier shared by so many accounts that ``prior / (users - 1)`` falls to this
# binds no one (identity linkage's own rule: a parcel station, a carrier's NAT).
LINK_MIN_WEIGHT = 0.02
# A share must exceed its baseline by this much (in orders per order) to describe a ring.
MIN_SHARE_GAP = 0.1
# A member takes part in its ring's abuse when its own count of it is beyond the
# population's rate at this one-sided normal quantile (5%; see trim_to_evidence).
MEMBER_Z = 1.645
# A line at least this strong counts as a line of evidence; a ring needs two to be kept.
MIN_LINE = 0.2
# A signal at least this strong names the ring's abuse (what its members must each show).
STRONG_SIGNAL = 0.5
# "Most of the ring": the share of members (or orders) a share signal must reach to speak for it.
MOST = 0.5
# Shops with few other customers borrow this many typical customers' worth of the data
# set's averages (orders per customer, rates), so a tiny shop cannot make a baseline alone.
SHRINK = 10.0
# Chance never predicts fewer than this many events: two related accounts meeting once
# at a tiny shop is not surprising, however rare the shop.
PSEUDO_COUNT = 1.0
# Surprise (nats beyond the search's own chances) at which a selected signal is at full strength.
SURPRISE_FULL = math.log(1e4)
# Identifier kinds that bind members (ipnet is a neighbourhood, a shared waybill a logistics anomaly).
LINK_KINDS: tuple[str, ...] = tuple(k for k in MEMBER_ENTITY_TYPES if k not in ("buyer", "seller"))
# A parcel weighing less than this share of what the same item usually weighs is "near-empty".
LIGHT_PARCEL_RATIO = 0.2
# An order paying less than half or more than twice the listed price is "off-price".
OFF_PRICE_FACTOR = 2.0
SHIPPED_STATUSES = ("shipped", "delivered", "completed", "refunded")
# Fewest buyers a null activity bucket draws from before it borrows from its neighbours.
MIN_POOL = 30
_LOGIT_FLOOR = 0.5  # an odds ratio of about 1.65 is the least unit of distance for shares


@dataclass(frozen=True)
class Signal:
    """One evidence feature.

    Attributes
    ----------
    name : str
        Name as published in ``top_signals`` and ``ring_evidence``.
    line : str
        The line of evidence it belongs to (:data:`LINES`).
    calibration : {"null", "surprise", "direct", "shops"}
        Against random look-alike groups, as a surprise after the search,
        directly (a 0..1 measure whose random-group value is nil, less that
        value), or only against the same shops' other customers (rings
        without targets show nothing).
    kind : {"share", "value"}
        A share of observations (compared on the log-odds scale) or a number
        already on a comparable scale (logs of hours and days, credit units).
    direction : int
        ``+1`` when higher is more suspicious, ``-1`` when lower is.
    floor : float
        Least difference on the compared scale that counts as one unit of distance.
    points_to : str or None
        The ring type this evidence points to when strong.
    """

    name: str
    line: str
    calibration: str = "null"
    kind: str = "share"
    direction: int = +1
    floor: float = _LOGIT_FLOOR
    points_to: str | None = None


SIGNALS: tuple[Signal, ...] = (
    Signal("shared_identifiers", "linkage", calibration="direct", kind="value"),  # see _linkage
    Signal("linked_members", "linkage", calibration="shops"),  # see _shop_links
    Signal("target_concentration", "coordination", calibration="surprise"),
    Signal("shared_targets", "coordination", calibration="surprise"),
    Signal("repeat_purchases", "coordination"),
    Signal("lockstep", "lockstep", calibration="surprise"),
    Signal("silent_orders", "behaviour"),
    Signal("off_price_orders", "behaviour", points_to="brushing"),
    Signal("fast_confirmation", "behaviour", kind="value", direction=-1, floor=math.log(2.0), points_to="brushing"),
    Signal("five_star_reviews", "behaviour", points_to="brushing"),
    Signal("low_star_reviews", "behaviour", points_to="malicious_buyers"),
    Signal("templated_reviews", "linkage"),  # one author behind several accounts, like a shared device
    Signal("waybill_reuse", "behaviour", points_to="brushing"),
    Signal("missing_waybill", "behaviour", points_to="brushing"),
    Signal("empty_parcels", "behaviour", points_to="brushing"),
    Signal("refunds", "behaviour", points_to="malicious_buyers"),
    Signal("account_age", "accounts", kind="value", direction=-1, floor=math.log(2.0)),
    Signal("low_credit", "accounts", kind="value", direction=-1, floor=1.0),
    Signal("unverified_accounts", "accounts"),
)
_BY_NAME = {s.name: s for s in SIGNALS}
# Per-order signals: the mean of a per-order quantity over the group's orders to its targets.
_PER_ORDER = (
    "repeat_purchases", "silent_orders", "off_price_orders", "fast_confirmation", "five_star_reviews",
    "low_star_reviews", "waybill_reuse", "missing_waybill", "empty_parcels", "refunds", "account_age",
)

# Per-order signals of how an order is placed (chat, price paid, item chosen): decided once per
# sitting (one account, one shop, one day), they count sittings as independent observations.
# What follows each order (ratings, refunds, parcels, confirmation) counts per order.
_PER_SITTING = ("repeat_purchases", "silent_orders", "off_price_orders")
# Signals whose shop norm counts each customer once: how often an account repeats an item
# grows with how often it buys, so one heavy regular's orders would set a small shop's norm.
_PER_CUSTOMER_NORM = ("repeat_purchases",)


# ---------------------------------------------------------------------------
# The population: every order and buyer once, as integer codes and arrays.


@dataclass
class Population:
    """The data set as arrays, orders sorted by buyer, time and id.

    Built once by :func:`prepare`; every ring and every null group is measured
    on it. ``per_order`` holds one float array per order-level quantity (NaN
    where unknown); ``available`` names the signals the input columns allow.
    """

    buyer_ids: np.ndarray
    seller_ids: np.ndarray
    o_buyer: np.ndarray
    o_seller: np.ndarray
    o_time: np.ndarray
    indptr: np.ndarray
    seller_orders: np.ndarray
    seller_buyers: np.ndarray
    buyer_shops: np.ndarray
    t_span: int
    per_order: dict[str, np.ndarray] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    seller_sum: dict[str, np.ndarray] = field(default_factory=dict)
    seller_known: dict[str, np.ndarray] = field(default_factory=dict)
    # Per-order weights of the shops' norms where one customer's orders are one observation.
    norm_weight: dict[str, np.ndarray] = field(default_factory=dict)
    shrink: dict[str, float] = field(default_factory=dict)
    per_customer: float = 1.0
    text_code: np.ndarray | None = None
    text_users: np.ndarray | None = None
    refund_reason: tuple[np.ndarray, np.ndarray] | None = None
    buyer_credit: np.ndarray | None = None
    credit_scale: float = 1.0
    buyer_unverified: np.ndarray | None = None
    ident_buyer: np.ndarray | None = None
    ident_code: np.ndarray | None = None
    ident_users: np.ndarray | None = None
    ident_kind: np.ndarray | None = None
    ident_key: pa.Array | None = None  # Arrow strings: ten million Python strs would take ~0.8 GB
    ident_prior: np.ndarray | None = None
    household: float = 2.0
    linked_at: np.ndarray | None = None  # sorted buyer * n_sellers + seller: linked to another customer there
    shop_linked: np.ndarray | None = None  # per seller, customers linked to another of its customers
    available: tuple[str, ...] = ()

    @property
    def n_buyers(self) -> int:
        """Buyers with at least one order."""
        return len(self.buyer_ids)

    @property
    def n_orders(self) -> int:
        return len(self.o_buyer)

    @functools.cached_property
    def _buyer_index(self) -> pa.Array:
        return pa.array(self.buyer_ids, pa.string())

    @functools.cached_property
    def _shared_identifiers_by_buyer(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of identifiers held by two or more buyers (the only ones that can join members),
        grouped by buyer code, each buyer's in their own order: ``(indptr, rows)``."""
        shared = np.flatnonzero(self.ident_users[self.ident_code] >= 2)
        buyer = self.ident_buyer[shared]
        indptr = np.zeros(self.n_buyers + 1, np.int64)
        np.cumsum(np.bincount(buyer, minlength=self.n_buyers), out=indptr[1:])
        return indptr, shared[np.argsort(buyer, kind="stable")]

    @functools.cached_property
    def o_sitting(self) -> np.ndarray:
        """Per order, a label of its sitting: the buyer's orders at one shop on one day
        (orders are sorted by buyer and time, so a buyer's day is one run of rows)."""
        day = (self.o_time - self.o_time.min()) // DAY
        new_day = np.ones(self.n_orders, bool)
        new_day[1:] = (self.o_buyer[1:] != self.o_buyer[:-1]) | (day[1:] != day[:-1])
        return (np.cumsum(new_day) - 1) * len(self.seller_ids) + self.o_seller

    def buyer_codes(self, ids: Iterable[str]) -> np.ndarray:
        """Codes of buyer ids; ``-1`` for ids that placed no order."""
        ids = list(ids)
        if len(ids) * 16 < self.n_buyers:
            # A few ids (one ring's members): binary search in the sorted ids. A hash lookup
            # hashes all buyer ids on every call (~0.4 s at 3M buyers, once per trimmed ring).
            query = np.array(ids, dtype=object)
            pos = np.minimum(np.searchsorted(self.buyer_ids, query), self.n_buyers - 1)
            return np.where(self.buyer_ids[pos] == query, pos, -1)
        pos, ok = _lookup(pa.array(ids, pa.string()), self._buyer_index)
        return np.where(ok, pos, -1)

    def buyer_mask(self, ids: Iterable[str]) -> np.ndarray:
        """Boolean mask over buyer codes of the given ids (ids without orders are ignored)."""
        mask = np.zeros(self.n_buyers, bool)
        codes = self.buyer_codes(ids)
        mask[codes[codes >= 0]] = True
        return mask


def _filled(table: pa.Table | None, column: str) -> bool:
    return table is not None and column in table.column_names and table[column].null_count < table.num_rows


def _col(table: pa.Table, name: str) -> np.ndarray:
    """A numeric or boolean column as float64, NaN where null."""
    arr = table[name]
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int8())
    return arr.to_numpy(zero_copy_only=False).astype(np.float64)


def _seconds(table: pa.Table, name: str) -> np.ndarray:
    """A timestamp column as float seconds since the epoch, NaN where null."""
    return pc.cast(table[name], pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6


def _typical(values: np.ndarray, *keys: np.ndarray | None) -> np.ndarray:
    """Per order, the median of ``values`` over orders sharing the most specific key
    with at least 3 known values (item, else seller, else all orders)."""
    known = np.isfinite(values)
    ref = np.full(values.shape, np.nanmedian(values) if known.any() else np.nan)
    for key in keys:
        if key is None:
            continue
        frame = pd.DataFrame({"k": key[known], "v": values[known]})
        stats = frame[frame["k"] >= 0].groupby("k")["v"].agg(["median", "count"])
        med = stats.loc[stats["count"] >= 3, "median"]  # too few parcels say nothing
        per = pd.Series(key).map(med).to_numpy(dtype=np.float64, na_value=np.nan)
        ref = np.where(np.isfinite(per), per, ref)
    return ref


def _lookup(values: pa.Array | pa.ChunkedArray, known: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``values`` in ``known`` (hash lookup in Arrow) and which were found."""
    pos = pc.fill_null(pc.index_in(values, value_set=known), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.maximum(pos, 0), pos >= 0


def _first_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which rows hold the first occurrence of their ``(a, b)`` pair (non-negative integer keys).

    The pair is packed into one integer and hashed once when that fits (a
    two-column ``DataFrame.duplicated`` hashes each column, then the tuples).
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    size = int(b.max(initial=0)) + 1
    if (int(a.max(initial=0)) + 1) * size < 2**62:
        return ~pd.Series(a * size + b).duplicated().to_numpy()
    return ~pd.DataFrame({"a": a, "b": b}).duplicated().to_numpy()


def _shop_links(pop: Population, links: np.ndarray, pair_buyer: np.ndarray, pair_seller: np.ndarray) -> None:
    """Which customers of each shop share a linking identifier with another customer of the same shop.

    The baseline of ``linked_members``: honest households and colleagues
    also shop together, so a ring's linked members are compared with how
    often the same shops' other customers are linked to one another.
    ``links`` marks the identifier codes that bind (shared, not a crowd).
    """
    use = links[pop.ident_code]
    code, buyer = pop.ident_code[use], pop.ident_buyer[use]
    n_b, n_s = pop.n_buyers, len(pop.seller_ids)
    # Every (identifier, shop, customer) of the customers' linking identifiers: a customer is linked
    # to another of the shop's customers when one of its identifiers has two customers there.
    # Linear in the data, where pairs of linked customers grow with the square of a crowd.
    by_buyer = np.argsort(pair_buyer, kind="stable")
    indptr = np.zeros(n_b + 1, np.int64)
    np.cumsum(np.bincount(pair_buyer, minlength=n_b), out=indptr[1:])
    at, counts = _ranges(indptr, buyer)
    seller = pair_seller[by_buyer[at]]
    _, where, users = np.unique(np.repeat(code, counts) * n_s + seller, return_inverse=True, return_counts=True)
    shared = users[where] >= 2
    pop.linked_at = distinct(np.repeat(buyer, counts)[shared] * n_s + seller[shared])
    pop.shop_linked = np.bincount(pop.linked_at % n_s, minlength=n_s).astype(np.float64)


def prepare(
    orders: pa.Table,
    *,
    buyers: pa.Table | None = None,
    items: pa.Table | None = None,
    identifiers: pa.Table | None = None,
) -> Population:
    """Arrays of the data set that every signal is computed from.

    Parameters
    ----------
    orders : pa.Table
        The ``orders`` projection: at least ``order_id, buyer_id, seller_id,
        created_at``; other columns of :data:`graph.schema.ORDER_SCHEMA`
        (``waybill_key`` rather than ``tracking_no``) enable more signals.
    buyers, items : pa.Table, optional
        The ``buyers`` and ``items`` projections.
    identifiers : pa.Table, optional
        The ``buyer_identifiers`` projection (``buyer_id, kind, key``).

    Returns
    -------
    Population

    Raises
    ------
    EmptyGraphError
        When there is no order.
    """
    if orders.num_rows == 0:
        raise EmptyGraphError("the store holds no orders: run 'ringwatch ingest' first")
    n = orders.num_rows
    raw_buyer, buyer_ids = encode(orders["buyer_id"], sort=True)
    raw_seller, seller_ids = encode(orders["seller_id"], sort=True)
    raw_time = pc.cast(orders["created_at"], pa.int64()).to_numpy(zero_copy_only=False) // 1_000_000
    # Orders by buyer, then time, then input order (the store reads them by order id). The wide
    # table is never sorted: per-order arrays are computed in input order and permuted.
    perm = np.lexsort((raw_time, raw_buyer))

    def col(name: str) -> np.ndarray:
        return _col(orders, name)[perm]

    def codes_of(name: str) -> np.ndarray:
        return encode(orders[name])[0][perm]

    o_buyer, o_seller = raw_buyer[perm], raw_seller[perm]
    o_time = raw_time.astype(np.int64)[perm]
    n_buyers, n_sellers = len(buyer_ids), len(seller_ids)
    indptr = np.zeros(n_buyers + 1, np.int64)
    np.cumsum(np.bincount(o_buyer, minlength=n_buyers), out=indptr[1:])
    first_of_pair = _first_of(o_seller, o_buyer)
    pop = Population(
        buyer_ids=buyer_ids.to_numpy(zero_copy_only=False),
        seller_ids=seller_ids.to_numpy(zero_copy_only=False),
        o_buyer=o_buyer,
        o_seller=o_seller,
        o_time=o_time,
        indptr=indptr,
        seller_orders=np.bincount(o_seller, minlength=n_sellers),
        seller_buyers=np.bincount(o_seller[first_of_pair], minlength=n_sellers),
        buyer_shops=np.bincount(o_buyer[first_of_pair], minlength=n_buyers),
        t_span=int(o_time.max() - o_time.min()) + 1,
    )
    n_pairs = int(first_of_pair.sum())
    avail = ["target_concentration", "shared_targets", "lockstep"]
    per = pop.per_order

    def share(name: str, hit: np.ndarray, known: np.ndarray) -> None:
        per[name] = np.where(known, hit.astype(np.float64), np.nan)
        avail.append(name)

    o_item = None
    if _filled(orders, "item_id"):
        o_item = codes_of("item_id")
        known = o_item >= 0
        # A repeat: the same account bought this item before (orders are in time order per buyer).
        repeat = np.zeros(n, bool)
        repeat[known] = ~_first_of(o_buyer[known], o_item[known])
        share("repeat_purchases", repeat, known)

    if _filled(orders, "chat_messages"):
        chat = col("chat_messages")
        share("silent_orders", chat == 0, np.isfinite(chat))

    price = col("item_price") if _filled(orders, "item_price") else np.full(n, np.nan)
    if _filled(items, "price") and o_item is not None:
        pos, listed = _lookup(orders["item_id"], items["item_id"])  # an item listed twice: its first row
        by_item = np.where(listed, _col(items, "price")[pos], np.nan)[perm]
        price = np.where(np.isnan(price), by_item, price)
    if _filled(orders, "amount") and np.isfinite(price).any():
        qty = col("quantity") if _filled(orders, "quantity") else np.ones(n)
        qty = np.where(np.isfinite(qty) & (qty >= 1), qty, 1.0)
        expected, amount = price * qty, col("amount")
        known = np.isfinite(expected) & np.isfinite(amount) & (expected > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = amount / expected
        share("off_price_orders", (ratio * OFF_PRICE_FACTOR < 1) | (ratio > OFF_PRICE_FACTOR), known)

    if _filled(orders, "delivered_at") and _filled(orders, "confirmed_at"):
        hours = (_seconds(orders, "confirmed_at") - _seconds(orders, "delivered_at"))[perm] / HOUR
        per["fast_confirmation"] = np.where(np.isfinite(hours), np.log1p(np.clip(hours, 0, None)), np.nan)
        avail.append("fast_confirmation")

    if _filled(orders, "rating"):
        rating = col("rating")
        share("five_star_reviews", rating == 5, np.isfinite(rating))
        share("low_star_reviews", rating <= 2, np.isfinite(rating))

    if _filled(orders, "review_text"):
        # Near-identical texts: the same words once case, spaces, punctuation, emoji and digits are dropped.
        raw, texts = encode(orders["review_text"])  # normalise each distinct text once
        norm = pc.replace_substring_regex(pc.utf8_lower(texts), r"[\s\p{P}\p{S}\d]+", "")
        norm = pc.if_else(pc.equal(norm, ""), pa.scalar(None, pa.string()), norm)
        norm_code = np.append(encode(norm)[0], -1)  # raw -1 (no text) -> -1
        pop.text_code = norm_code[raw][perm]
        # How many accounts wrote each text: a stock phrase thousands write says nothing about one author.
        wrote = pop.text_code >= 0
        pop.text_users = _distinct(pop.text_code[wrote], int(norm_code.max(initial=-1)) + 1, o_buyer[wrote])
        avail.append("templated_reviews")

    shipped = None
    if _filled(orders, "status"):
        shipped = orders["status"].to_pandas().isin(SHIPPED_STATUSES).to_numpy(dtype=bool)[perm]
    elif _filled(orders, "shipped_at"):
        shipped = orders["shipped_at"].is_valid().to_numpy(zero_copy_only=False)[perm]
    waybill = next((c for c in ("waybill_key", "tracking_no") if _filled(orders, c)), None)
    if waybill is not None:
        codes = codes_of(waybill)
        has = codes >= 0
        # Reuse: one waybill on orders of different shops, or shipped on different days
        # (a shop sending several orders in one parcel the same day is combined shipping).
        when = _seconds(orders, "shipped_at")[perm] if _filled(orders, "shipped_at") else np.full(n, np.nan)
        same_day = DAY
        if not np.isfinite(when).any():  # no ship times: orders placed within a few days may travel together
            when, same_day = o_time.astype(np.float64), 3 * DAY
        when = np.where(np.isfinite(when), when, o_time)
        bills = pd.DataFrame({"w": codes[has], "s": o_seller[has], "t": when[has]}).groupby("w")
        spread_out = (bills["s"].nunique() > 1) | (bills["t"].max() - bills["t"].min() > same_day)
        reused = np.zeros(n, bool)
        reused[has] = spread_out.reindex(codes[has]).to_numpy(dtype=bool)
        share("waybill_reuse", reused, has)
        if shipped is not None:
            share("missing_waybill", codes < 0, shipped)

    if _filled(orders, "parcel_weight_g"):
        weight = col("parcel_weight_g")
        ref = _typical(weight, o_seller, o_item)
        # Virtual goods weigh nothing whoever buys them: only items that usually have weight count.
        share("empty_parcels", weight < LIGHT_PARCEL_RATIO * ref, np.isfinite(weight) & (ref > 0))

    refund = None
    if _filled(orders, "status"):
        refund = (orders["status"].to_pandas() == "refunded").to_numpy(dtype=bool, na_value=False)[perm]
    if _filled(orders, "refund_reason"):
        codes, labels = encode(orders["refund_reason"])
        refund = (codes >= 0)[perm] | (False if refund is None else refund)
        pop.refund_reason = (codes[perm], labels.to_numpy(zero_copy_only=False))
    if refund is not None:
        share("refunds", refund, np.ones(n, bool))

    if buyers is not None and buyers.num_rows:
        pos, ok = _lookup(buyers["buyer_id"], pa.array(pop.buyer_ids, pa.string()))

        def per_buyer(values: np.ndarray) -> np.ndarray:
            out = np.full(n_buyers, np.nan)
            out[pos[ok]] = values[ok]
            return out

        if _filled(buyers, "registered_at"):
            age_days = (o_time - per_buyer(_seconds(buyers, "registered_at"))[o_buyer]) / DAY
            per["account_age"] = np.where(np.isfinite(age_days), np.log1p(np.clip(age_days, 0, None)), np.nan)
            avail.append("account_age")
        if _filled(buyers, "credit_level"):
            pop.buyer_credit = per_buyer(_col(buyers, "credit_level"))
            q1, q3 = np.nanpercentile(pop.buyer_credit, [25, 75])
            # Credit scales differ by platform: one unit of distance is half the buyers' spread.
            pop.credit_scale = max(float(q3 - q1) / 1.349 * 0.5, 1e-9)
            avail.append("low_credit")
        if _filled(buyers, "real_name_verified"):
            pop.buyer_unverified = 1.0 - per_buyer(_col(buyers, "real_name_verified"))
            avail.append("unverified_accounts")

    if identifiers is not None and identifiers.num_rows:
        ident = identifiers.filter(pc.is_in(identifiers["kind"], pa.array(LINK_KINDS)))
        ident = ident.filter(pc.is_valid(ident["key"]))
        pos, ok = _lookup(ident["buyer_id"], pa.array(pop.buyer_ids, pa.string()))
        if ok.any():
            # Codes of (kind, key) in order of first appearance (the projection is read in a fixed
            # order), from integer codes of each column: no per-row joined strings (gigabytes at 10M).
            kind_code, kind_names = encode(ident["kind"])
            key_code, keys = encode(ident["key"])
            code, n_codes = _dense(kind_code[ok], key_code[ok])
            at = np.flatnonzero(ok)[np.unique(code, return_index=True)[1]]  # first row of each code
            uniq_keys = pc.cast(keys.take(key_code[at]), pa.string())
            first = _first_of(pos[ok], code)
            pop.ident_buyer = pos[ok][first].astype(np.int64)
            pop.ident_code = code[first]
            pop.ident_users = np.bincount(pop.ident_code, minlength=n_codes)
            names = kind_names.to_numpy(zero_copy_only=False)
            pop.ident_kind = names[kind_code[at]]  # a handful of shared str objects, not one per identifier
            pop.ident_key = uniq_keys
            priors = np.array([KIND_PRIORS.get(k, UNKNOWN_KIND_PRIOR) for k in names], np.float64)
            pop.ident_prior = priors[kind_code[at]]
            # How many accounts one person or household holds here: the 90th percentile of
            # users of the identifiers that link anyone (crowds excluded).
            links = (pop.ident_users >= 2) & (pop.ident_prior / np.maximum(pop.ident_users - 1, 1) > LINK_MIN_WEIGHT)
            if links.any():
                pop.household = max(2.0, float(np.quantile(pop.ident_users[links], 0.9)))
                _shop_links(pop, links, o_buyer[first_of_pair], o_seller[first_of_pair])
                avail.append("linked_members")
            avail.append("shared_identifiers")

    # Population reference (mean share or median value) and robust spread of each
    # per-order number: a ring's mean over n orders is that uncertain / sqrt(n).
    for name, x in per.items():
        if not np.isfinite(x).any():
            continue
        if _BY_NAME[name].kind == "share":
            pop.reference[name] = float(np.nanmean(x))
        else:
            q1, q2, q3 = np.nanpercentile(x, [25, 50, 75])
            pop.reference[name], pop.spread[name] = float(q2), float(q3 - q1) / 1.349
        known = np.isfinite(x)
        w = np.ones(int(known.sum()))
        if name in _PER_CUSTOMER_NORM:
            pair, _ = _dense(o_buyer[known], o_seller[known])
            w = 1.0 / np.bincount(pair)[pair]
            pop.norm_weight[name] = np.zeros(n)
            pop.norm_weight[name][known] = w
            pop.reference[name] = float(np.average(x[known], weights=w))
        pop.seller_sum[name] = np.bincount(o_seller[known], weights=x[known] * w, minlength=n_sellers)
        pop.seller_known[name] = np.bincount(o_seller[known], weights=w, minlength=n_sellers)
        pop.shrink[name] = _shop_shrink(x[known], o_seller[known], n_sellers)
    pop.per_customer = n / max(n_pairs, 1)
    if pop.buyer_credit is not None:
        pop.reference["low_credit"] = float(np.nanmedian(pop.buyer_credit)) / pop.credit_scale
        pop.spread["low_credit"] = 2.0  # the scaled credit's spread, by construction of credit_scale
    if pop.buyer_unverified is not None:
        pop.reference["unverified_accounts"] = float(np.nanmean(pop.buyer_unverified))
    pop.available = tuple(s.name for s in SIGNALS if s.name in avail)
    return pop


def _shop_shrink(x: np.ndarray, seller: np.ndarray, n_sellers: int) -> float:
    """How many typical orders' worth of the data set's average a shop's baseline borrows.

    One-way analysis of variance of the per-order quantity between shops: the
    within-shop variance over the between-shop variance of the shops' true
    means (the empirical-Bayes prior strength). Where shops differ little
    (five-star shares) a small shop borrows much, at most :data:`SHRINK`;
    where shops differ by nature (virtual goods never ship a waybill) a
    shop's own few orders set its norm.
    """
    n_i = np.bincount(seller, minlength=n_sellers).astype(np.float64)
    s_i = np.bincount(seller, weights=x, minlength=n_sellers)
    q_i = np.bincount(seller, weights=x * x, minlength=n_sellers)
    has = n_i > 0
    n_i, s_i, q_i = n_i[has], s_i[has], q_i[has]
    shops, total = len(n_i), float(n_i.sum())
    if shops < 2 or total <= shops:
        return SHRINK
    mean_i = s_i / n_i
    grand = float(s_i.sum()) / total
    msb = float((n_i * (mean_i - grand) ** 2).sum()) / (shops - 1)
    msw = float((q_i - n_i * mean_i**2).sum()) / (total - shops)
    n0 = (total - float((n_i**2).sum()) / total) / (shops - 1)
    between = (msb - msw) / max(n0, 1e-12)
    if between <= 0:
        return SHRINK
    # Shops uniform inside and different from one another: each shop's own orders are its norm.
    return float(min(SHRINK, max(msw / between, 1e-6)))


# ---------------------------------------------------------------------------
# Small vectorised helpers.


def _dense(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes (in order of first appearance) of the row-wise tuples of non-negative integer keys.

    The keys are packed into one integer and hashed once when that fits in
    63 bits, else combined pairwise.
    """
    code = np.zeros(len(keys[0]), np.int64)
    radix = 1
    for k in keys:
        k = np.asarray(k, np.int64)
        size = int(k.max(initial=0)) + 1
        if radix * size >= 2**62:
            code = pd.factorize(code)[0].astype(np.int64)
            radix = int(code.max(initial=0)) + 1
        code = code * size + k
        radix *= size
    if len(code) >= _SORT_DENSE_ROWS and len(code) <= radix and radix * len(code) < 2**62:
        return _dense_by_sort(code)
    code, uniq = pd.factorize(code)
    return code.astype(np.int64), len(uniq)


# From this many rows, over a key space at least as large, sorting (key, row) pairs beats
# hashing the keys (numpy's SIMD sort; 1.5M rows: 0.13 s against 0.19-0.27 s).
_SORT_DENSE_ROWS = 500_000


def _dense_by_sort(code: np.ndarray) -> tuple[np.ndarray, int]:
    """``pd.factorize`` of non-negative integer keys (codes in order of first appearance) by sorting.

    Sorting ``key * n + row`` puts each key's rows together in row order, so the
    first row of each run is the key's first appearance; the keys are then
    ranked by that row. Needs ``max(key) * n`` to fit in 63 bits.
    """
    n = len(code)
    if n == 0:
        return np.zeros(0, np.int64), 0
    key, row = np.divmod(np.sort(code * n + np.arange(n, dtype=np.int64)), n)
    starts = np.ones(n, bool)
    np.not_equal(key[1:], key[:-1], out=starts[1:])
    first = row[starts]  # first row of each distinct key, keys ascending
    u = len(first)
    rank = np.empty(u, np.int64)
    rank[np.sort(first * u + np.arange(u, dtype=np.int64)) % u] = np.arange(u, dtype=np.int64)
    out = np.empty(n, np.int64)
    out[row] = rank[np.cumsum(starts) - 1]
    return out, u


def _owner(code: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """For dense codes of (group, ...) tuples, the group of each code."""
    out = np.zeros(n, np.int64)
    out[code] = group
    return out


def _distinct(code: np.ndarray, n: int, other: np.ndarray) -> np.ndarray:
    """Per code, how many distinct values of ``other`` its rows hold."""
    code, other = np.asarray(code, np.int64), np.asarray(other, np.int64)
    size = int(other.max(initial=0)) + 1
    if max(n, 1) * size < 2**62:  # the usual case: one packed key, sorted (no hashing)
        return np.bincount(distinct(code * size + other) // size, minlength=n)
    pair, _ = _dense(code, other)
    first = np.unique(pair, return_index=True)[1]
    return np.bincount(code[first], minlength=n)


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``log C(n, k)`` elementwise (0 where k <= 0 or k >= n)."""
    lg = np.vectorize(math.lgamma, otypes=[np.float64])
    n = np.asarray(n, np.float64)
    k = np.clip(np.asarray(k, np.float64), 0, n)
    return lg(n + 1) - lg(k + 1) - lg(n - k + 1)


def poisson_surprise(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Lower bound, in nats, of ``-log P(X >= observed)`` for ``X ~ Poisson(expected)`` (Chernoff).

    0 when ``observed <= expected``.

    Examples
    --------
    >>> poisson_surprise(np.array([10.0, 1.0]), np.array([1.0, 2.0])).round(2).tolist()
    [14.03, 0.0]
    """
    o = np.asarray(observed, np.float64)
    e = np.maximum(np.asarray(expected, np.float64), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = o * np.log(np.where(o > 0, o / e, 1.0)) - o + e
    return np.where(o > e, s, 0.0)


# ---------------------------------------------------------------------------
# Measuring groups: rings and their null groups in one vectorised pass.


@dataclass
class _Measured:
    """Every available signal for every group, plus what explanations and members need."""

    values: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    surprise: dict[str, np.ndarray]
    baseline: dict[str, np.ndarray]  # per-order signals of rings with targets: the targets' other customers
    info: dict[str, np.ndarray]
    rows: pd.DataFrame  # real rings only: g, buyer, order, target (for members and times)
    targets: pd.DataFrame  # real rings only: g, seller, orders
    link: pd.DataFrame  # real rings only: g, b, c, n (members sharing), spec
    trials: dict[str, np.ndarray]  # independent observations behind each value (per-order signals: sittings)


def _ranges(indptr: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``indptr[k]:indptr[k + 1]`` of each key, concatenated, and each key's count."""
    start, counts = indptr[keys], indptr[keys + 1] - indptr[keys]
    return np.repeat(start - np.cumsum(counts) + counts, counts) + np.arange(counts.sum()), counts


def _expand(pop: Population, mg: np.ndarray, mb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, order index) rows for membership pairs (group, buyer)."""
    order, counts = _ranges(pop.indptr, mb)
    return np.repeat(mg, counts), order


def _identifier_rows(pop: Population, mg: np.ndarray, mb: np.ndarray) -> pd.DataFrame:
    """``g, b, c``: every identifier of every member that another buyer also holds, rows in member
    order (a merge of the members with the identifier rows on buyer, without hashing every
    identifier row each time)."""
    indptr, rows = pop._shared_identifiers_by_buyer
    at, counts = _ranges(indptr, mb)
    return pd.DataFrame({"g": np.repeat(mg, counts), "b": np.repeat(mb, counts), "c": pop.ident_code[rows[at]]})


@dataclass
class _TargetRows:
    """Orders of every group member (one row per group and order) and the groups' target shops."""

    g: np.ndarray
    order: np.ndarray
    buyer: np.ndarray
    seller: np.ndarray
    time: np.ndarray
    target: np.ndarray  # row is an order at one of its group's targets
    gs: np.ndarray  # row -> (group, seller) code
    n_gs: int
    gs_group: np.ndarray
    gs_seller: np.ndarray
    gs_orders: np.ndarray
    gs_buyers: np.ndarray
    is_target: np.ndarray  # per (group, seller)


def _target_rows(pop: Population, mg: np.ndarray, mb: np.ndarray, G: int) -> _TargetRows:
    """Expand members to their orders and find each group's target shops: at least two
    members ordered there, and most members did or the group placed most of its orders."""
    size = np.bincount(mg, minlength=G)
    g, order = _expand(pop, mg, mb)
    buyer, seller, time = pop.o_buyer[order], pop.o_seller[order], pop.o_time[order]
    gs, n_gs = _dense(g, seller)
    gs_group = _owner(gs, g, n_gs)
    gs_seller = _owner(gs, seller, n_gs)
    gs_orders = np.bincount(gs, minlength=n_gs)
    gs_buyers = _distinct(gs, n_gs, buyer)
    # A sub-group meeting at one shop far beyond chance (configuration model: each member's
    # shops drawn in proportion to the shops' customers), beyond the choice among the shops used.
    visits = np.bincount(mg, weights=pop.buyer_shops[mb], minlength=G)
    chance = visits[gs_group] * pop.seller_buyers[gs_seller] / max(float(pop.seller_buyers.sum()), 1.0)
    shops_used = np.bincount(gs_group, minlength=G)[gs_group]
    met = poisson_surprise(gs_buyers, chance) >= np.log(np.maximum(shops_used, 1) / FAMILY_ERROR)
    is_target = (gs_buyers >= 2) & (
        (gs_buyers * 2 >= size[gs_group]) | (gs_orders * 2 >= pop.seller_orders[gs_seller]) | met
    )
    return _TargetRows(g, order, buyer, seller, time, is_target[gs], gs, n_gs, gs_group, gs_seller,
                       gs_orders, gs_buyers, is_target)


def _measure(pop: Population, mg: np.ndarray, mb: np.ndarray, G: int, R: int) -> _Measured:
    """Signals for groups ``0..G-1`` (members ``mg, mb``); the first ``R`` are the real rings."""
    values: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    trials: dict[str, np.ndarray] = {}
    surprise: dict[str, np.ndarray] = {}
    baseline: dict[str, np.ndarray] = {}
    info: dict[str, np.ndarray] = {}
    avail = set(pop.available)
    size = np.bincount(mg, minlength=G).astype(np.float64)

    t = _target_rows(pop, mg, mb, G)
    g, order, buyer, seller, time, target = t.g, t.order, t.buyer, t.seller, t.time, t.target
    gs, n_gs, gs_group, gs_seller, gs_orders, gs_buyers, is_target = (
        t.gs, t.n_gs, t.gs_group, t.gs_seller, t.gs_orders, t.gs_buyers, t.is_target
    )
    n_rows = np.bincount(g, minlength=G).astype(np.float64)
    has_target = np.bincount(gs_group[is_target], minlength=G) > 0
    focus = target | ~has_target[g]
    n_focus = np.bincount(g, weights=focus, minlength=G)
    n_sellers = np.bincount(gs_group, minlength=G)

    # Concentration: members order from their targets far more per head than the shops'
    # other customers do (shrunk toward the data set's orders per customer and shop).
    t_orders = np.bincount(g, weights=target, minlength=G)
    tgt = is_target & (gs_group < R)
    ts, tg_ = gs_seller[tgt], gs_group[tgt]
    others = np.maximum(pop.seller_orders[ts] - gs_orders[tgt], 0)
    other_buyers = np.maximum(pop.seller_buyers[ts] - gs_buyers[tgt], 0)
    per_head = (others + SHRINK * pop.per_customer) / (other_buyers + SHRINK)
    expected = np.bincount(tg_, weights=gs_buyers[tgt] * per_head, minlength=G)[:R]
    t_pool = np.bincount(tg_, weights=pop.seller_buyers[ts], minlength=G)[:R]
    k_targets = np.bincount(tg_, minlength=G)[:R]
    members_at = np.bincount(tg_, weights=gs_buyers[tgt], minlength=G)[:R]
    # The busiest day at the targets is left out: a gift order or a flash sale is one event, not a pattern.
    at = target & (g < R)
    gd, n_gd = _dense(g[at], (time[at] - pop.o_time.min()) // DAY)
    busiest = np.zeros(R)
    np.maximum.at(busiest, _owner(gd, g[at], n_gd), np.bincount(gd, minlength=n_gd))
    repeated = t_orders[:R] - busiest
    # Pay for the search: any n of the targets' customers, any k of the shops the members used.
    search = _log_choose(t_pool, np.minimum(members_at, size[:R])) + _log_choose(n_sellers[:R], k_targets)
    values["target_concentration"] = t_orders / np.maximum(n_rows, 1)
    counts["target_concentration"] = n_rows
    surprise["target_concentration"] = np.where(
        k_targets > 0, poisson_surprise(repeated, expected + PSEUDO_COUNT) - search, 0.0
    )
    t_all = np.bincount(tg_, weights=pop.seller_orders[ts], minlength=G)[:R]
    info["target_dominance"] = np.where(t_all > 0, t_orders[:R] / np.maximum(t_all, 1), 0.0)
    info["per_member"] = np.where(members_at > 0, t_orders[:R] / np.maximum(members_at, 1), 0.0)
    info["per_other"] = np.where(members_at > 0, expected / np.maximum(members_at, 1), 0.0)
    info["n_targets"] = k_targets
    info["n_sellers"] = n_sellers[:R]
    fg, ft, fb = g[focus], time[focus], buyer[focus]

    # Pool of buyers a lockstep group could have been drawn from: the buyers of its focus shops.
    fsel = (gs_group < R) & (is_target | ~has_target[gs_group])
    pool = np.bincount(gs_group[fsel], weights=pop.seller_buyers[gs_seller[fsel]], minlength=G)[:R]
    active = np.bincount(gs_group[fsel], weights=gs_buyers[fsel], minlength=G)[:R]
    lock = _lockstep(pop, fg, ft, fb, gs[focus], n_gs, G, R, _log_choose(pool, np.minimum(active, size[:R])))
    values["lockstep"], surprise["lockstep"] = lock.pop("observed_all"), lock.pop("surprise")
    counts["lockstep"] = n_focus
    info.update({f"lockstep_{k}": v for k, v in lock.items()})

    # How orders are placed (chat, price, item) is decided once per sitting (a company's gift
    # order of sixty parcels), so those signals count sittings, not orders, as their independent observations.
    for name in _PER_ORDER:
        if name not in avail:
            continue
        x = pop.per_order[name][order]
        known = focus & np.isfinite(x)
        if name == "repeat_purchases":
            known &= target  # buying one item again and again counts toward a target, not as a household habit
        n_known = np.bincount(g[known], minlength=G).astype(np.float64)
        total = np.bincount(g[known], weights=x[known], minlength=G)
        values[name] = np.where(n_known > 0, total / np.maximum(n_known, 1), np.nan)
        counts[name] = n_known
        if name in _PER_SITTING:
            trials[name] = _distinct(g[known], G, pop.o_sitting[order[known]]).astype(np.float64)
        # The same shops' other customers: what an order at these shops usually looks like.
        mine = known & target & (g < R)
        w = pop.norm_weight[name][order[mine]] if name in pop.norm_weight else np.ones(int(mine.sum()))
        ring_sum = np.bincount(gs[mine], weights=x[mine] * w, minlength=n_gs)[tgt]
        ring_cnt = np.bincount(gs[mine], weights=w, minlength=n_gs)[tgt]
        base_sum = np.bincount(tg_, weights=pop.seller_sum[name][ts] - ring_sum, minlength=G)[:R]
        base_cnt = np.bincount(tg_, weights=pop.seller_known[name][ts] - ring_cnt, minlength=G)[:R]
        ref = pop.reference.get(name, np.nan)
        k = pop.shrink.get(name, SHRINK)
        pooled = (base_sum + k * ref) / (base_cnt + k)
        # Each of the ring's orders is compared with its own shop's other orders (a virtual shop's
        # orders with that shop's, not with a larger physical shop's among the targets).
        shop_rate = (pop.seller_sum[name][ts] - ring_sum + k * ref) / (pop.seller_known[name][ts] - ring_cnt + k)
        w_sum = np.bincount(tg_, weights=ring_cnt, minlength=G)[:R]
        own = np.bincount(tg_, weights=ring_cnt * shop_rate, minlength=G)[:R] / np.maximum(w_sum, 1e-12)
        baseline[name] = np.where(k_targets > 0, np.where(w_sum > 0, own, pooled), np.nan)

    if "templated_reviews" in avail:
        tc = pop.text_code[order]
        has = focus & (tc >= 0)
        hg = g[has]
        gt, n_gt = _dense(hg, tc[has])
        writers = _distinct(gt, n_gt, buyer[has])[gt]
        # The same text written by two or more members, weighed by the share of all its writers
        # inside the group: a stock phrase thousands of honest buyers write binds no one.
        shared = np.where(writers >= 2, writers / np.maximum(pop.text_users[tc[has]], 1), 0.0)
        n_has = np.bincount(hg, minlength=G).astype(np.float64)
        values["templated_reviews"] = np.where(
            n_has > 0, np.bincount(hg, weights=shared, minlength=G) / np.maximum(n_has, 1), np.nan
        )
        counts["templated_reviews"] = n_has

    if "low_credit" in avail:
        values["low_credit"], counts["low_credit"] = _member_mean(pop.buyer_credit / pop.credit_scale, mg, mb, G)
    if "unverified_accounts" in avail:
        values["unverified_accounts"], counts["unverified_accounts"] = _member_mean(pop.buyer_unverified, mg, mb, G)

    link = pd.DataFrame({"g": [], "b": [], "c": [], "n": [], "spec": []})
    unit = buyer
    if "shared_identifiers" in avail:
        ident_rows = _identifier_rows(pop, mg, mb)
        values["shared_identifiers"], link, info["link_cohesion"], units = _linkage(pop, ident_rows, mg, G)
        unit = _unit_of(pop.n_buyers, units, g, buyer)
        counts["shared_identifiers"] = size
        if "linked_members" in avail:
            # Members sharing a binding identifier with another member, against the
            # targets' other customers linked to another customer of the same shop.
            linked = link.drop_duplicates(["g", "b"])["g"].to_numpy(np.int64)
            values["linked_members"] = np.bincount(linked, minlength=G) / np.maximum(size, 1)
            counts["linked_members"] = size
            n_s = len(pop.seller_ids)
            mine = target & (g < R)
            _, first_row = np.unique(_dense(g[mine], buyer[mine], seller[mine])[0], return_index=True)
            rows_at = np.flatnonzero(mine)[first_row]
            hit = np.isin(buyer[rows_at] * n_s + seller[rows_at], pop.linked_at)
            ring_linked = np.bincount(gs[rows_at], weights=hit, minlength=n_gs)[tgt]
            base_sum = np.bincount(tg_, weights=pop.shop_linked[ts] - ring_linked, minlength=G)[:R]
            base_cnt = np.bincount(tg_, weights=pop.seller_buyers[ts] - gs_buyers[tgt], minlength=G)[:R]
            overall = pop.shop_linked.sum() / max(float(pop.seller_buyers.sum()), 1.0)
            baseline["linked_members"] = np.where(
                k_targets > 0, (np.maximum(base_sum, 0) + SHRINK * overall) / (np.maximum(base_cnt, 0) + SHRINK), np.nan
            )
        # Members receiving parcels at one address with another member (neighbours at a pickup
        # point, one household): what they order together follows from the place (see _lines).
        info["place_share"], info["crowd_place_share"] = _place_share(pop, ident_rows, mg, G)
        link = link[link["g"] < R]
    shared = _shared_targets(pop, g, unit, buyer, seller, target, G, R, t_pool, n_sellers[:R], k_targets)
    values["shared_targets"], counts["shared_targets"], surprise["shared_targets"] = shared.pop("values"), shared.pop("counts"), shared.pop("surprise")
    info.update(shared)

    real = g < R
    rows = pd.DataFrame({"g": g[real], "buyer": buyer[real], "order": order[real], "target": target[real]})
    targets = pd.DataFrame({"g": gs_group[tgt], "seller": gs_seller[tgt], "orders": gs_orders[tgt]})
    return _Measured(values, counts, surprise, baseline, info, rows, targets, link, {**counts, **trials})


def _shared_targets(pop, g, unit, buyer, seller, target, G: int, R: int, pool, n_sellers, k_targets) -> dict[str, np.ndarray]:
    """Members who each ordered from several of the group's target shops, against chance.

    A pool of accounts working for several small shops (sellers brushing for
    each other, a click farm's clients) visits the same few shops account
    after account, though each only once or twice. Under a configuration
    model (an account's shops drawn in proportion to how many customers each
    shop has), a member present at one target visits another with
    probability ``(its shops - 1) * (the targets' customers) / (all
    account-shop pairs)``. Observed: visits to targets beyond each
    household's first, at targets another household also visited; the
    accounts joined by shared identifiers (``unit``) count as one: a
    household's accounts sharing its favourite shops is its habit, separate
    households converging on the same few shops is not.
    The surprise pays for choosing the members among the targets' customers
    and the targets among the shops the members used.
    """
    at = target
    gb, n_gb = _dense(g[at], buyer[at])
    gb_group, gb_buyer = _owner(gb, g[at], n_gb), _owner(gb, buyer[at], n_gb)
    shops_at = _distinct(gb, n_gb, seller[at])
    present = np.bincount(gb_group, minlength=G).astype(np.float64)
    several = np.bincount(gb_group, weights=shops_at >= 2, minlength=G)
    visit, _ = _dense(g[at], unit[at], seller[at])
    first = np.unique(visit, return_index=True)[1]
    vg, vu, vs = g[at][first], unit[at][first], seller[at][first]
    shop, n_shop = _dense(vg, vs)
    shared = np.bincount(shop, minlength=n_shop)[shop] >= 2
    gu, n_gu = _dense(vg[shared], vu[shared])
    observed = np.bincount(_owner(gu, vg[shared], n_gu), weights=np.bincount(gu, minlength=n_gu) - 1, minlength=G)
    other_shops = np.bincount(gb_group, weights=np.maximum(pop.buyer_shops[gb_buyer] - 1, 0), minlength=G)[:R]
    n_pairs = max(float(pop.seller_buyers.sum()), 1.0)
    expected = other_shops * pool / n_pairs
    search = _log_choose(pool, np.minimum(present[:R], pool)) + _log_choose(n_sellers, k_targets)
    surprise = np.where(k_targets >= 2, poisson_surprise(observed[:R], expected) - search, 0.0)
    return {
        "values": np.where(present > 0, several / np.maximum(present, 1), 0.0),
        "counts": present,
        "surprise": surprise,
        "shared_observed": observed[:R],
        "shared_expected": expected,
    }


def _member_mean(x: np.ndarray, mg: np.ndarray, mb: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    v = x[mb]
    ok = np.isfinite(v)
    n = np.bincount(mg[ok], minlength=G).astype(np.float64)
    s = np.bincount(mg[ok], weights=v[ok], minlength=G)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan), n


def _lockstep(pop, fg, ft, fb, fgs, n_gs: int, G: int, R: int, search: np.ndarray) -> dict[str, np.ndarray]:
    """Orders placed in the same window as another member's order at the same shop.

    Rows: group ``fg``, time ``ft``, buyer ``fb`` and (group, shop) code ``fgs`` (of ``n_gs``).

    The group's single busiest window is left out (a flash-sale crowd or a
    gift order acts together once). Chance: each of the group's other orders
    at that shop falls in the window with probability ``width / span``. The
    surprise is taken at the window width where it is largest.
    """
    out = {
        "observed_all": np.zeros(G), "surprise": np.full(R, -np.inf), "observed": np.zeros(R),
        "expected": np.zeros(R), "windows": np.zeros(R, np.int64), "width": np.full(R, "", dtype=object),
    }
    if len(fg) == 0:
        out["surprise"][:] = 0.0
        return out
    t0 = ft.min()
    for width, label in LOCKSTEP_WINDOWS:
        w = (ft - t0) // width
        cell, n_cell = _dense(fgs, w)
        together = _distinct(cell, n_cell, fb)[cell] >= 2
        gw, n_gw = _dense(fg, w)
        per_gw = np.bincount(gw, minlength=n_gw)
        gw_group = _owner(gw, fg, n_gw)
        top = np.full(G, -1, np.int64)
        rank = np.lexsort((np.arange(n_gw), -per_gw, gw_group))  # per group: busiest window first
        first = np.r_[True, gw_group[rank][1:] != gw_group[rank][:-1]]
        top[gw_group[rank][first]] = rank[first]
        keep = gw != top[fg]
        n_keep = np.bincount(fg[keep], minlength=G).astype(np.float64)
        hits = np.bincount(fg[keep], weights=together[keep], minlength=G)
        kept_gs = fgs[keep]
        m = np.bincount(kept_gs, minlength=n_gs).astype(np.float64)[kept_gs]
        p = 1.0 - np.power(max(1.0 - width / pop.t_span, 0.0), np.maximum(m - 1, 0))
        exp = np.bincount(fg[keep], weights=p, minlength=G)
        windows = np.bincount(gw_group[distinct(gw[together])], minlength=G) if together.any() else np.zeros(G, np.int64)
        s = poisson_surprise(hits[:R], exp[:R] + PSEUDO_COUNT) - search - math.log(len(LOCKSTEP_WINDOWS))
        obs = hits / np.maximum(n_keep, 1)
        better = s > out["surprise"]
        out["surprise"] = np.where(better, s, out["surprise"])
        out["observed"] = np.where(better, obs[:R], out["observed"])
        out["expected"] = np.where(better, exp[:R] / np.maximum(n_keep[:R], 1), out["expected"])
        out["windows"] = np.where(better, windows[:R], out["windows"])
        out["width"] = np.where(better, label, out["width"])
        out["observed_all"] = np.maximum(out["observed_all"], obs)
    return out


def _linkage(pop: Population, rows: pd.DataFrame, mg: np.ndarray, G: int) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, tuple]:
    """Mean over members of how strongly an identifier shared with another member binds them.

    A member's binding is ``prior[kind] * share`` for its best identifier
    shared with another member: the kind's prior (identity linkage's
    :data:`~graph.detect.identity.KIND_PRIORS`: a payment account or device
    says more than an address, an IP little) times the share of the
    identifier's users inside the ring. Identifiers too common to link
    anyone (``prior / (users - 1) <= LINK_MIN_WEIGHT``: a parcel station, a
    carrier's NAT) bind nothing. 1 = every member shares a payment account
    with ring members only.

    Also returns each group's cohesion: the chance that two members drawn at
    random (with replacement) are joined by a chain of such identifiers
    within a household-sized unit (see ``_cohesion``; 1 = one household),
    and the linked members (group, buyer) with the unit (chain) joining each. ``rows`` are the
    members' identifiers (:func:`_identifier_rows` of ``mg`` and their buyers).
    """
    empty = pd.DataFrame({"g": [], "b": [], "c": [], "n": [], "spec": []})
    solo = 1.0 / np.maximum(np.bincount(mg, minlength=G), 1)  # every member its own component
    none = (np.zeros(0, np.int64),) * 3
    if rows.empty:
        return np.zeros(G), empty, solo, none
    gc, n_gc = _dense(rows["g"].to_numpy(), rows["c"].to_numpy())
    users_in = np.bincount(gc, minlength=n_gc)
    code = rows["c"].to_numpy()
    users = pop.ident_users[code]
    prior = pop.ident_prior[code]
    links = (users_in[gc] >= 2) & (prior / np.maximum(users - 1, 1) > LINK_MIN_WEIGHT)
    rows = rows[links]
    if rows.empty:
        return np.zeros(G), empty, solo, none
    rows = rows.assign(n=users_in[gc[links]], spec=prior[links] * users_in[gc[links]] / users[links])
    best = rows.groupby(["g", "b"], sort=False)["spec"].max()
    total = np.bincount(best.index.get_level_values(0).to_numpy(), weights=best.to_numpy(), minlength=G)
    size = np.maximum(np.bincount(mg, minlength=G), 1)
    cohesion, units = _cohesion(rows, G, size, pop.household)
    return total / size, rows.reset_index(drop=True), cohesion, units


def _unit_of(n_buyers: int, units: tuple, g: np.ndarray, buyer: np.ndarray) -> np.ndarray:
    """For each row ``(g, buyer)``, the buyer, or for a member linked to others the code
    ``n_buyers + unit`` of the unit (household, device pool) joining them (see ``_linkage``)."""
    unit_g, unit_b, unit = units
    if len(unit) == 0:
        return buyer
    key = unit_g * n_buyers + unit_b
    order = np.argsort(key)
    want = g.astype(np.int64) * n_buyers + buyer
    pos = np.minimum(np.searchsorted(key[order], want), len(key) - 1)
    return np.where(key[order][pos] == want, n_buyers + unit[order][pos], buyer)


def _place_share(pop: Population, rows: pd.DataFrame, mg: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the share of members receiving parcels at an address another member also uses,
    and the share receiving at such an address too common to bind anyone.

    Any shared address counts, a pickup point or parcel station included: too
    common to bind accounts, it still explains why neighbours order together.
    A household's own address already joins its accounts into one unit.
    """
    rows = rows[pop.ident_kind[rows["c"].to_numpy()] == "address"]
    if rows.empty:
        return np.zeros(G), np.zeros(G)
    gc, n_gc = _dense(rows["g"].to_numpy(), rows["c"].to_numpy())
    shared = rows[np.bincount(gc, minlength=n_gc)[gc] >= 2]
    code = shared["c"].to_numpy()
    crowd = shared[pop.ident_prior[code] / np.maximum(pop.ident_users[code] - 1, 1) <= LINK_MIN_WEIGHT]
    size = np.maximum(np.bincount(mg, minlength=G), 1)
    return tuple(
        np.bincount(r.drop_duplicates(["g", "b"])["g"].to_numpy(np.int64), minlength=G) / size for r in (shared, crowd)
    )


def _cohesion(
    rows: pd.DataFrame, G: int, size: np.ndarray, household: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per group, ``sum(n_c * min(n_c, household)) / n^2`` over components of members joined by
    shared identifiers: the chance that two members drawn at random belong to one household-sized
    unit (a chain of twenty accounts rotating devices is not one household). Also the linked
    members (group, buyer) and the component each belongs to."""
    member, n_member = _dense(rows["g"].to_numpy(), rows["b"].to_numpy())
    ident, n_ident = _dense(rows["g"].to_numpy(), rows["c"].to_numpy())
    graph = igraph.Graph(n=n_member + n_ident, edges=edge_list(member, n_member + ident))
    comp = np.asarray(graph.connected_components().membership, np.int64)[:n_member]
    group = _owner(member, rows["g"].to_numpy(np.int64), n_member)
    n_c = np.bincount(comp, minlength=comp.max(initial=-1) + 1).astype(np.float64)
    comp_group = _owner(comp, group, len(n_c))
    linked = np.bincount(group, minlength=G).astype(np.float64)
    squares = np.bincount(comp_group, weights=n_c * np.minimum(n_c, household), minlength=G) + (size - linked)
    member_b = _owner(member, rows["b"].to_numpy(np.int64), n_member)
    return squares / size.astype(np.float64) ** 2, (group, member_b, comp)


# ---------------------------------------------------------------------------
# Calibration and combination.


def strength_from_z(z: np.ndarray, start: float = 3.0) -> np.ndarray:
    """Map a distance from the null (in robust spreads) to a 0..1 strength: 0 up to ``start``, 1 two spreads beyond."""
    return np.clip((np.asarray(z, dtype=np.float64) - start) / 2.0, 0.0, 1.0)


def z_threshold(n_tests: int, alpha: float = FAMILY_ERROR) -> float:
    """One-sided normal quantile that ``n_tests`` chance readings exceed with probability ``alpha`` (Bonferroni).

    Every signal is read on every group the detectors proposed: with
    thousands of households and a dozen signals, three-spread coincidences
    are expected, so a signal starts to count only beyond this distance
    (never below three spreads).

    Examples
    --------
    >>> round(z_threshold(1), 2), round(z_threshold(40_000), 2)
    (3.0, 4.71)
    """
    return max(3.0, statistics.NormalDist().inv_cdf(1.0 - alpha / max(int(n_tests), 1)))


def combine_lines(lines: np.ndarray) -> np.ndarray:
    """Ordered weighted average of line strengths (rows: rings, columns: lines).

    The strongest line counts 0.30, the second 0.50, the third 0.20: one line
    alone scores at most 0.3, and a flag (0.5) needs a second line of at least 0.4.

    Examples
    --------
    >>> combine_lines(np.array([[1.0, 0, 0, 0, 0], [1.0, 1.0, 0, 0, 0]])).round(2).tolist()
    [0.3, 0.8]
    """
    ordered = -np.sort(-np.asarray(lines, dtype=np.float64), axis=1)
    w = np.zeros(ordered.shape[1])
    w[: len(LINE_WEIGHTS)] = LINE_WEIGHTS[: ordered.shape[1]]
    return ordered @ w


def _nan_quantile(a: np.ndarray, q: float) -> np.ndarray:
    """Row-wise linear-interpolation quantile ignoring NaN (NaN for rows with no value)."""
    srt = np.sort(a, axis=1)  # NaN sorts last
    n = np.isfinite(a).sum(axis=1)
    pos = q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    rows = np.arange(a.shape[0])
    val = srt[rows, lo] + (srt[rows, hi] - srt[rows, lo]) * (pos - lo)
    return np.where(n > 0, val, np.nan)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _share_distance(
    q_count: np.ndarray, n: np.ndarray, p0: np.ndarray, tau2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Signed deviance distance of ``q_count`` successes in ``n`` from the rate ``p0``, and the log-odds gap.

    ``z = sign * sqrt(2 * n_eff * KL(q || p0))`` follows the binomial tail far
    better than a normal approximation of the log-odds when ``p0`` is small
    (17 one-star ratings out of 17 against a 2% rate is not a 4-sigma event).
    ``q`` carries half an observation of continuity correction; the honest
    groups' own heterogeneity ``tau2`` (log-odds scale) shrinks ``n`` by the
    design effect ``1 + n tau2 p0 (1 - p0)``.
    """
    q = (q_count + 0.5) / (n + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = q * np.log(q / p0) + (1.0 - q) * np.log((1.0 - q) / (1.0 - p0))
    n_eff = (n + 1.0) / (1.0 + (n + 1.0) * tau2 * p0 * (1.0 - p0))
    z = np.sign(q - p0) * np.sqrt(np.maximum(2.0 * n_eff * kl, 0.0))
    return z, _logit(q) - _logit(p0)


def _strength(
    sig: Signal, z: np.ndarray, gap: np.ndarray, start: float, share_gap: np.ndarray | None = None
) -> np.ndarray:
    """Significance (``z`` beyond ``start``) times effect size (the gap beyond the signal's floor).

    The gate keeps a large group's small but "significant" difference (a
    parcel station's crowd a little more silent than average) from counting;
    for shares the rate must also exceed the baseline by :data:`MIN_SHARE_GAP`
    (a pattern in 3% of a 300-account block's orders does not describe it).
    """
    gate = np.clip((sig.direction * gap - sig.floor) / sig.floor, 0.0, 1.0)
    if share_gap is not None:
        gate = gate * np.clip(sig.direction * share_gap / MIN_SHARE_GAP, 0.0, 1.0)
    out = strength_from_z(sig.direction * z, start) * gate
    return np.where(np.isfinite(z) & np.isfinite(gap), out, np.nan)


def _null_strength(
    sig: Signal, v: np.ndarray, n: np.ndarray, R: int, k: int, sigma: float, start: float
) -> tuple[np.ndarray, np.ndarray]:
    """Strength of each ring's value against its ``k`` null groups, and the null's median (raw scale).

    The centre is the null groups' median; their spread less their own
    sampling error is the honest groups' real heterogeneity ``tau2``, which
    widens the ring's own sampling error; the strength starts at ``start``
    spreads (:func:`z_threshold`) and needs an effect beyond the signal's floor.
    """
    ring_v, ring_n = v[:R], n[:R]
    null_v, null_n = v[R:].reshape(R, k), n[R:].reshape(R, k)
    raw_median = _nan_quantile(null_v, 0.5)
    enough = np.isfinite(null_v).sum(axis=1) >= 4
    pooled = np.nanmedian(v[R:]) if np.isfinite(v[R:]).any() else 0.0
    null_n = np.where(np.isfinite(null_v), null_n, np.nan)
    if sig.kind == "share":
        n_typ = np.nan_to_num(_nan_quantile(null_n, 0.5), nan=1.0)
        eps = 0.5 / (n_typ + 1.0)
        p0 = np.clip(np.where(enough, raw_median, pooled), eps, 1.0 - eps)
        null_scaled = _logit((null_v * null_n + 0.5) / (null_n + 1.0))
        null_se2 = _nan_quantile(1.0 / ((null_n + 1.0) * (p0 * (1.0 - p0))[:, None]), 0.5)
    else:
        center = np.where(enough, raw_median, pooled)
        null_scaled = null_v
        null_se2 = _nan_quantile(sigma**2 / np.maximum(null_n, 1.0), 0.5)
    iqr = _nan_quantile(null_scaled, 0.75) - _nan_quantile(null_scaled, 0.25)
    tau2 = np.where(enough, np.maximum((np.nan_to_num(iqr) / 1.349) ** 2 - np.nan_to_num(null_se2), 0.0), 0.0)
    if sig.kind == "share":
        z, gap = _share_distance(ring_v * ring_n, ring_n, p0, tau2)
        return _strength(sig, z, gap, start, ring_v - p0), raw_median
    gap = ring_v - center
    z = gap / np.sqrt(tau2 + sigma**2 / np.maximum(ring_n, 1.0) + 1e-12)
    return _strength(sig, z, gap, start), raw_median


def _baseline_strength(
    sig: Signal, v: np.ndarray, n: np.ndarray, base: np.ndarray, sigma: float, start: float
) -> np.ndarray:
    """Strength of a ring's orders at its targets against the same shops' other orders."""
    if sig.kind == "share":
        p0 = np.clip(np.nan_to_num(base, nan=0.5), 1e-6, 1.0 - 1e-6)
        z, gap = _share_distance(v * n, n, p0, np.zeros(len(v)))
        return _strength(sig, z, gap, start, v - p0)
    gap = v - base
    z = gap / np.maximum(sigma / np.sqrt(np.maximum(n, 1.0)), 1e-12)
    return _strength(sig, z, gap, start)


def _reference_strength(sig: Signal, v: np.ndarray, n: np.ndarray, ref: float, sigma: float) -> np.ndarray:
    """Strength against the whole population's reference (no null groups, no heterogeneity):
    a loose, cheap reading used only to screen rings."""
    if sig.kind == "share":
        p0 = np.full(len(v), min(max(ref, 1e-6), 1 - 1e-6))
        z, gap = _share_distance(v * n, n, p0, np.zeros(len(v)))
        return _strength(sig, z, gap, 3.0, v - p0)
    gap = v - ref
    z = gap / np.maximum(sigma / np.sqrt(np.maximum(n, 1.0)), 1e-12)
    return _strength(sig, z, gap, 3.0)


def _lines(
    strengths: dict[str, np.ndarray],
    R: int,
    cohesion: np.ndarray | None = None,
    place: np.ndarray | None = None,
    crowd_place: np.ndarray | None = None,
) -> np.ndarray:
    """Line strengths: the noisy-OR of their signals, made independent of one another.

    Accounts bound by shared identifiers may be one person or one household;
    that person's favourite shops and shopping times then follow from the
    link, so coordination and lockstep count as separate lines only to the
    extent the members are *not* linked (times ``1 - linkage * explained``).
    ``explained`` follows the group's cohesion, the chance that two members
    drawn at random are joined by shared identifiers: a household is fully
    cohesive; twenty accounts sharing devices two by two are not, and what
    they do together is not one person's habit. A household and a couple of
    acquaintances are still ordinary, so the link explains everything until
    the members form more than :data:`LINKED_UNITS` separately linked units
    (``explained = min(1, LINKED_UNITS * cohesion)``). A shared delivery
    address explains the same way, whoever else uses it: the lines are
    further multiplied by ``1 - place``, the share of members receiving at an
    address another member uses (neighbours collecting a weekly group buy at
    one pickup point order together because of the place). A linked
    group needs behaviour for its second line; unlinked accounts acting in
    concert (thin exports, hired click-farm accounts) do not. Signals that
    count each linked unit once (:data:`PER_UNIT`: separate households
    converging on the same few shops) are left out of that discount but
    for ``crowd_place``, the share of members at an address too common to
    bind (a pickup point's neighbours are separate units). A supporting
    line is capped at the second strongest main line (it corroborates a
    case, it never makes one).
    """
    lines = np.zeros((R, len(LINES)))
    per_unit = np.zeros((R, len(LINES)))
    binding = np.zeros(R)
    for name, st in strengths.items():
        li = LINES.index(_BY_NAME[name].line)
        into = per_unit if name in PER_UNIT else lines
        into[:, li] = 1.0 - (1.0 - into[:, li]) * (1.0 - np.nan_to_num(st))
        if _BY_NAME[name].line == "linkage" and name not in UNBINDING:
            binding = 1.0 - (1.0 - binding) * (1.0 - np.nan_to_num(st))
    cohesion = np.ones(R) if cohesion is None else np.nan_to_num(cohesion[:R], nan=1.0)
    unlinked = 1.0 - binding * np.minimum(1.0, LINKED_UNITS * cohesion)
    if place is not None:
        unlinked *= 1.0 - np.clip(np.nan_to_num(place[:R]), 0.0, 1.0)
    for line in LINKED_LINES:
        lines[:, LINES.index(line)] *= unlinked
    if crowd_place is not None:
        per_unit *= 1.0 - np.clip(np.nan_to_num(crowd_place[:R]), 0.0, 1.0)[:, None]
    lines = 1.0 - (1.0 - lines) * (1.0 - per_unit)
    main = [i for i, line in enumerate(LINES) if line not in SUPPORTING_LINES]
    second = -np.sort(-lines[:, main], axis=1)[:, 1]
    for line in SUPPORTING_LINES:
        li = LINES.index(line)
        lines[:, li] = np.minimum(lines[:, li], second)
    return lines


def _reference_lines(pop: Population, m: _Measured, R: int) -> tuple[np.ndarray, list[str]]:
    """Line strengths and types judged against population references (cheap, loose).

    Signals that only random groups can calibrate (templated texts) are left
    out here.
    """
    strengths = {}
    for name, v in m.values.items():
        sig = _BY_NAME[name]
        if sig.calibration == "surprise":
            strengths[name] = np.clip(m.surprise[name] / SURPRISE_FULL, 0.0, 1.0)
        elif sig.calibration == "direct":
            strengths[name] = np.clip(v[:R], 0.0, 1.0)
        elif sig.calibration == "shops":
            base = m.baseline[name]
            st = _baseline_strength(sig, v[:R], m.counts[name][:R], base, 0.0, 3.0)
            strengths[name] = np.where(np.isfinite(base), np.nan_to_num(st), 0.0)
        elif name in pop.reference:
            strengths[name] = _reference_strength(sig, v[:R], m.trials[name][:R], pop.reference[name], pop.spread.get(name, 0.0))
    return _lines(strengths, R, m.info.get("link_cohesion"), m.info.get("place_share"), m.info.get("crowd_place_share")), _types(strengths, R)


def _null_members(
    pop: Population, mg: np.ndarray, mb: np.ndarray, R: int, k: int, exclude: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random groups matching each ring's size and members' activity.

    Null group ``R + r * k + j`` replaces every member of ring ``r`` by a random
    buyer with about as many orders (same power-of-two bucket), drawn from
    buyers not in ``exclude``. A bucket with fewer than :data:`MIN_POOL` such
    buyers borrows its neighbours' (rings are often the most active
    accounts), and as a last resort its own excluded buyers.
    """
    bucket = np.floor(np.log2(np.maximum(np.diff(pop.indptr), 1))).astype(np.int64)
    pools: list[np.ndarray] = []
    for b in range(int(bucket.max()) + 1):
        pool = np.flatnonzero(~exclude & (bucket == b))
        if len(pool) < MIN_POOL:
            pool = np.flatnonzero(~exclude & (np.abs(bucket - b) <= 1))
        if len(pool) < MIN_POOL:
            pool = np.flatnonzero(bucket == b)
        pools.append(pool)
    slot_bucket = np.tile(bucket[mb], k)
    slot_group = R + np.tile(mg, k) * k + np.repeat(np.arange(k), len(mg))
    draws = rng.random(len(slot_bucket))
    picked = np.empty(len(slot_bucket), np.int64)
    for b in np.unique(slot_bucket):
        sel = slot_bucket == b
        picked[sel] = pools[b][(draws[sel] * len(pools[b])).astype(np.int64)]
    frame = pd.DataFrame({"g": slot_group, "b": picked}).drop_duplicates().sort_values(["g", "b"], kind="stable")
    return frame["g"].to_numpy(np.int64), frame["b"].to_numpy(np.int64)


# ---------------------------------------------------------------------------
# The result.


@dataclass
class Evidence:
    """What :func:`evaluate` found about each kept ring.

    Position ``i`` in every array and the ``ring`` column ``i`` of the tables
    describe ``rings[index[i]]`` of the list given to :func:`evaluate`.

    Attributes
    ----------
    index : np.ndarray
        Positions of the kept rings in the evaluated list.
    rings : list[Ring]
        The kept rings as measured: members the ring's activity does not
        include (no order at its targets) are trimmed.
    scores : np.ndarray
        0..1 per ring.
    types : list[str]
        ``brushing`` or ``malicious_buyers`` per ring.
    top_signals : list[list[str]]
        Up to three signal names carrying most of each score.
    lines : pd.DataFrame
        Strength of each line of evidence per ring (columns :data:`LINES`).
    signals : pd.DataFrame
        ``ring, signal, value, strength, weight, explanation``: value in the
        unit the explanation names, weight = share of the ring's score the
        signal carries. Detector rows (``identity`` ...) carry no weight.
    targets : list[list[str]]
        Target seller ids per ring, most orders first.
    members : pd.DataFrame
        ``ring, buyer_id, member_score`` for every member buyer.
    identifiers : pd.DataFrame
        ``ring, kind, key, member_score, code``: identifiers shared by two or
        more members and used mostly by the ring (member_score = share of its
        users inside the ring; code = the identifier's code in the population).
    n_orders, n_sellers : np.ndarray
        Orders the members placed and distinct sellers they placed them with.
    first_order_at, last_order_at : np.ndarray
        Epoch seconds of the members' first and last orders.
    summaries : list[str]
        One plain-language sentence per ring.
    """

    index: np.ndarray
    rings: list[Ring]
    scores: np.ndarray
    types: list[str]
    top_signals: list[list[str]]
    lines: pd.DataFrame
    signals: pd.DataFrame
    targets: list[list[str]]
    members: pd.DataFrame
    identifiers: pd.DataFrame
    n_orders: np.ndarray
    n_sellers: np.ndarray
    first_order_at: np.ndarray
    last_order_at: np.ndarray
    summaries: list[str]

    @classmethod
    def empty(cls) -> Evidence:
        none = np.zeros(0, np.int64)
        return cls(
            index=none, rings=[], scores=np.zeros(0), types=[], top_signals=[], lines=pd.DataFrame(columns=list(LINES)),
            signals=pd.DataFrame(columns=["ring", "signal", "value", "strength", "weight", "explanation"]),
            targets=[], members=pd.DataFrame(columns=["ring", "buyer_id", "member_score"]),
            identifiers=pd.DataFrame(columns=["ring", "kind", "key", "member_score", "code"]),
            n_orders=none, n_sellers=none, first_order_at=none, last_order_at=none, summaries=[],
        )


def evaluate(
    pop: Population,
    rings: Sequence[Ring],
    *,
    exclude: np.ndarray | None = None,
    min_score: float = 0.0,
    n_null: int = 32,
    null_budget: int = 1_500_000,
    seed: int = 0,
    n_tested: int | None = None,
) -> Evidence:
    """Measure, calibrate, type, score and explain rings.

    Parameters
    ----------
    pop : Population
        From :func:`prepare`.
    rings : sequence of Ring
        Assembled rings (:func:`graph.rings.assemble`).
    exclude : np.ndarray of bool, optional
        Buyers (by code) that may not serve in null groups: those a detector
        proposed. Defaults to the rings' members.
    min_score : float, default 0.0
        Rings scoring below this, or with fewer than two lines of evidence of
        strength :data:`MIN_LINE`, are left out of the result (not explained).
    n_null : int, default 32
        Null groups per ring (fewer, but at least 12, when more than
        ``null_budget`` order rows would be measured).
    null_budget : int, default 1_500_000
        Most (group, order) rows measured for the null groups.
    seed : int, default 0
        Seed of the null groups' draws.
    n_tested : int, optional
        How many groups the detectors proposed (default: ``len(rings)``); with
        the number of signals it sets where a signal starts to count
        (:func:`z_threshold`).

    Returns
    -------
    Evidence
        For the rings scoring at least ``min_score``; ``Evidence.index`` maps
        them back to positions in ``rings``.

    Examples
    --------
    >>> ev = evaluate(prepare(orders), assemble(candidates))  # doctest: +SKIP
    >>> ev.scores, ev.types, ev.top_signals  # doctest: +SKIP
    """
    if exclude is None:
        exclude = pop.buyer_mask(b for r in rings for b in r.buyers)

    R = len(rings)
    if R == 0:
        return Evidence.empty()
    mg, mb = _members(pop, rings)
    ring_rows = int(np.diff(pop.indptr)[mb].sum())
    start = z_threshold(max(n_tested or R, R) * len(pop.available))
    k = int(max(12, min(n_null, null_budget // max(ring_rows, 1))))
    ng, nb = _null_members(pop, mg, mb, R, k, exclude, np.random.default_rng(seed))
    m = _measure(pop, np.concatenate([mg, ng]), np.concatenate([mb, nb]), R + R * k, R)

    strengths: dict[str, np.ndarray] = {}
    null_median: dict[str, np.ndarray] = {}
    against_shops: dict[str, np.ndarray] = {}
    for name, v in m.values.items():
        sig = _BY_NAME[name]
        if sig.calibration == "surprise":
            strengths[name] = np.clip(m.surprise[name] / SURPRISE_FULL, 0.0, 1.0)
            null_median[name] = np.full(R, np.nan)
        elif sig.calibration == "direct":
            null_median[name] = np.nan_to_num(_nan_quantile(v[R:].reshape(R, k), 0.5))
            strengths[name] = np.clip(v[:R] - null_median[name], 0.0, 1.0)
        elif sig.calibration == "shops":
            base = m.baseline[name]
            st = _baseline_strength(sig, v[:R], m.counts[name][:R], base, 0.0, start)
            strengths[name] = np.where(np.isfinite(base), np.nan_to_num(st), 0.0)
            null_median[name] = base
            against_shops[name] = np.isfinite(base)
        else:
            strengths[name], null_median[name] = _null_strength(
                sig, v, m.trials[name], R, k, pop.spread.get(name, 0.0), start
            )
            if name in m.baseline:
                # A ring with targets is compared with the same shops' other customers.
                base = m.baseline[name]
                at_shops = _baseline_strength(sig, v[:R], m.trials[name][:R], base, pop.spread.get(name, 0.0), start)
                has = np.isfinite(base)
                strengths[name] = np.where(has, at_shops, strengths[name])
                null_median[name] = np.where(has, base, null_median[name])
                against_shops[name] = has

    lines = _lines(strengths, R, m.info.get("link_cohesion"), m.info.get("place_share"), m.info.get("crowd_place_share"))
    scores = np.clip(combine_lines(lines), 0.0, 1.0)
    # One line of evidence alone (a household sharing a laptop) does not make a ring.
    n_lines = (lines >= MIN_LINE).sum(axis=1)
    keep = np.flatnonzero((scores >= min_score) & (n_lines >= 2))
    if not len(keep):
        return Evidence.empty()
    weights = _weights(strengths, lines, scores)
    types = _types(strengths, R)

    # From here on only the kept rings: position i describes rings[keep[i]].
    pos = np.full(R, -1, np.int64)
    pos[keep] = np.arange(len(keep))
    rows = m.rows[pos[m.rows["g"].to_numpy()] >= 0]
    rows = rows.assign(g=pos[rows["g"].to_numpy()])
    link = m.link[pos[m.link["g"].to_numpy(np.int64)] >= 0] if not m.link.empty else m.link
    link = link.assign(g=pos[link["g"].to_numpy(np.int64)]) if not link.empty else link
    tg = m.targets[pos[m.targets["g"].to_numpy()] >= 0]
    tg = tg.assign(g=pos[tg["g"].to_numpy()]).sort_values(["g", "orders", "seller"], ascending=[True, False, True])
    targets = _targets_by_group(pop, tg, len(keep))
    kept_rings = [rings[i] for i in keep]
    sub = {name: a[keep] for name, a in strengths.items()}
    signals, top = _explain(
        pop, kept_rings, keep, m, sub, {n: w[keep] for n, w in weights.items()},
        {n: a[keep] for n, a in null_median.items()}, {n: a[keep] for n, a in against_shops.items()},
        targets, rows, link,
    )
    g = rows["g"].to_numpy()
    times = pop.o_time[rows["order"].to_numpy()]
    first = np.full(len(keep), np.iinfo(np.int64).max)
    last = np.full(len(keep), np.iinfo(np.int64).min)
    np.minimum.at(first, g, times)
    np.maximum.at(last, g, times)
    n_orders = np.bincount(g, minlength=len(keep)).astype(np.int64)
    kept_types = [types[i] for i in keep]
    return Evidence(
        index=keep,
        rings=kept_rings,
        scores=scores[keep],
        types=kept_types,
        top_signals=top,
        lines=pd.DataFrame(lines[keep], columns=list(LINES)),
        signals=signals,
        targets=targets,
        members=_member_scores(pop, kept_rings, rows, link),
        identifiers=_binding_identifiers(pop, link),
        n_orders=n_orders,
        n_sellers=m.info["n_sellers"][keep].astype(np.int64),
        first_order_at=first,
        last_order_at=last,
        summaries=[
            _summary(r, t, float(sc), tp, tgt, int(n))
            for r, t, sc, tp, tgt, n in zip(kept_rings, kept_types, scores[keep], top, targets, n_orders, strict=True)
        ],
    )


def _membership(pop: Population, rings: Sequence[Ring]) -> tuple[np.ndarray, np.ndarray]:
    """(ring position, buyer code) of every member, in the rings' order; code -1 for a member without orders."""
    mg = np.repeat(np.arange(len(rings)), [r.n_buyers for r in rings]).astype(np.int64)
    return mg, pop.buyer_codes(b for r in rings for b in r.buyers)


def _members(pop: Population, rings: Sequence[Ring]) -> tuple[np.ndarray, np.ndarray]:
    """Membership pairs (ring position, buyer code); members without orders are left out."""
    mg, mb = _membership(pop, rings)
    return mg[mb >= 0], mb[mb >= 0]


@dataclass
class Screened:
    """Rings worth calibrating, from :func:`screen`.

    Attributes
    ----------
    rings : list[Ring]
        Trimmed rings that have two members with orders and could show two
        lines of evidence.
    targets : list[list[str]]
        Each ring's target sellers.
    concentrated : np.ndarray of bool
        Rings whose orders concentrate on their targets beyond chance after
        the search (concentration strength at least 0.5).
    behaving : np.ndarray of bool
        Rings whose orders look fake or abusive on this loose reading.
    types : list[str]
        Each ring's type on this loose reading.
    periods : np.ndarray
        ``(first, last)`` epoch seconds of each ring's orders at its targets
        (of all its orders when it has none).
    n_screened_out : int
        Rings dropped by the screen.
    buyer_evidence : np.ndarray
        Per buyer code, the highest score (:func:`combine_lines`) of the
        loose reading of any proposed ring holding it, screened out or not
        (0 for buyers in none): what the groups a buyer was proposed in show,
        for ranking buyers that no published ring holds.
    """

    rings: list[Ring]
    targets: list[list[str]]
    concentrated: np.ndarray
    behaving: np.ndarray
    types: list[str]
    periods: np.ndarray
    n_screened_out: int
    buyer_evidence: np.ndarray


def _targets_by_group(pop: Population, tg: pd.DataFrame, n: int) -> list[list[str]]:
    """Target seller ids of groups ``0..n-1`` from rows ``g, seller`` sorted by group
    (each group's runs of rows in their order; no pandas groupby per group)."""
    targets: list[list[str]] = [[] for _ in range(n)]
    g = tg["g"].to_numpy(np.int64)
    if not len(g):
        return targets
    names = pop.seller_ids[tg["seller"].to_numpy(np.int64)].tolist()
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    for a, b in zip(starts.tolist(), np.r_[starts[1:], len(g)].tolist(), strict=True):
        targets[int(g[a])] = [str(x) for x in names[a:b]]
    return targets


def screen(pop: Population, rings: Sequence[Ring]) -> Screened:
    """Trim members outside each ring's activity and keep the rings worth calibrating.

    A member who never ordered from the ring's target shops is dropped:
    identifiers attach it (a household sharing an address with one member),
    the ring's activity does not. Then every ring is judged cheaply against
    population references (no null groups); rings that could not show two
    lines of evidence, and rings without two members who ordered, are
    dropped. This keeps the costly calibration proportional to the plausible
    rings, not to the thousands of households identity linkage proposes.

    Parameters
    ----------
    pop : Population
    rings : sequence of Ring

    Returns
    -------
    Screened
    """
    rings, mg, mb = _trim(pop, rings)
    R = len(rings)
    m = _measure(pop, mg, mb, R, R)
    lines, types = _reference_lines(pop, m, R)
    buyer_evidence = np.zeros(len(pop.buyer_ids))
    np.maximum.at(buyer_evidence, mb, combine_lines(lines)[mg])
    # Could show two lines: the second strongest reaches half of MIN_LINE on this loose reading.
    ok = (np.bincount(mg, minlength=R) >= 2) & (-np.sort(-lines, axis=1)[:, 1] >= MIN_LINE / 2)
    behaving = lines[:, LINES.index("behaviour")] >= MIN_LINE
    tg = m.targets.sort_values(["g", "orders", "seller"], ascending=[True, False, True])
    targets = _targets_by_group(pop, tg, R)
    conc = m.surprise["target_concentration"] >= SURPRISE_FULL / 2
    has_target = np.bincount(m.targets["g"].to_numpy(np.int64), minlength=R) > 0
    rows = m.rows[m.rows["target"].to_numpy() | ~has_target[m.rows["g"].to_numpy()]]
    times = pop.o_time[rows["order"].to_numpy()]
    periods = np.zeros((R, 2))
    if len(rows):
        span = pd.DataFrame({"g": rows["g"].to_numpy(), "t": times}).groupby("g")["t"].agg(["min", "max"])
        periods[span.index.to_numpy()] = span.to_numpy()
    keep = np.flatnonzero(ok)
    return Screened(
        rings=[rings[i] for i in keep],
        targets=[targets[i] for i in keep],
        concentrated=conc[keep],
        behaving=behaving[keep],
        types=[types[i] for i in keep],
        periods=periods[keep],
        n_screened_out=R - len(keep),
        buyer_evidence=buyer_evidence,
    )


def trim_to_evidence(pop: Population, ev: Evidence, min_strength: float = STRONG_SIGNAL) -> list[Ring]:
    """Drop members whose own orders show none of their ring's strong behavioural anomalies.

    For each ring, its per-order behaviour and account signals with strength
    at least ``min_strength`` (one-star ratings, refunds, silent orders, fast
    confirmation ...) are the abuse. A member took part when its own orders
    at the targets, all those signals combined (Stouffer's z of each against
    the population), are beyond chance at one-sided 5% (:data:`MEMBER_Z`;
    a ring without targets: its orders at shops two or more members used):
    one one-star rating is (they are rare), one silent order is not (half of
    all orders are). A household that also shops at the attacked store took
    no part, nor did a member with no order at the targets. Rings
    without such signals are left whole; rings left with fewer than two
    members are dropped.

    Returns
    -------
    list[Ring]
        The evidence's rings, trimmed.
    """
    strong = ev.signals[(ev.signals["strength"] >= min_strength)]
    by_links = np.zeros(len(ev.rings), bool)
    by_links[strong.loc[strong["signal"] == "linked_members", "ring"].to_numpy(np.int64)] = True
    abuse = strong["signal"].map(lambda n: n in pop.per_order and _BY_NAME[n].line in ("behaviour", "accounts"))
    strong = strong.loc[abuse.to_numpy(bool)]
    by_links[strong["ring"].to_numpy(np.int64)] = False  # the abuse itself shows who took part
    if by_links.any():
        ev = dataclasses.replace(ev, rings=_trim_to_core(pop, ev, by_links))
    if strong.empty:
        return list(ev.rings)
    mg, mb = _members(pop, ev.rings)
    g, order = _expand(pop, mg, mb)
    n_s = len(pop.seller_ids)
    seller_code = pd.Series(np.arange(n_s), index=pd.Index(pop.seller_ids))
    target_at = [g_ * n_s + int(seller_code[t]) for g_, targets in enumerate(ev.targets) for t in targets]
    # A ring without target shops is judged on the shops two or more of its members used.
    gs, n_gs = _dense(g, pop.o_seller[order])
    together = _distinct(gs, n_gs, pop.o_buyer[order])[gs] >= 2
    untargeted = np.array([not t for t in ev.targets], bool)
    at = np.where(untargeted[g], together, np.isin(g * n_s + pop.o_seller[order], np.array(target_at, np.int64)))
    frame = pd.DataFrame({"g": g, "b": pop.o_buyer[order]})[at]
    order = order[at]
    gi = frame["g"].to_numpy()
    checked = np.zeros(len(ev.rings), bool)
    z_sum, n_sig = None, None
    for name, grp in strong.groupby("signal"):
        sig = _BY_NAME[name]
        rings_with = np.zeros(len(ev.rings), bool)
        rings_with[grp["ring"].to_numpy(np.int64)] = True
        checked |= rings_with
        x = pop.per_order[name][order]
        use = rings_with[gi] & np.isfinite(x)
        counts = frame.assign(x=np.where(use, x, 0.0), n=use).groupby(["g", "b"])[["x", "n"]].sum()
        xs, ns = counts["x"].to_numpy(), counts["n"].to_numpy(np.float64)
        ref = pop.reference.get(name, 0.0)
        if sig.kind == "share":
            p0 = np.full(len(counts), min(max(ref, 1e-6), 1 - 1e-6))
            z = _share_distance(xs, ns, p0, np.zeros(len(counts)))[0]
        else:
            spread = max(pop.spread.get(name, 1.0), 1e-9)
            z = sig.direction * (xs / np.maximum(ns, 1) - ref) / (spread / np.sqrt(np.maximum(ns, 1)))
        z = pd.Series(np.where(ns > 0, z, 0.0), index=counts.index)
        seen = pd.Series((ns > 0).astype(np.float64), index=counts.index)
        z_sum = z if z_sum is None else z_sum.add(z, fill_value=0.0)
        n_sig = seen if n_sig is None else n_sig.add(seen, fill_value=0.0)
    # Stouffer: the member's evidence over all its ring's strong signals at once.
    best = z_sum / np.sqrt(np.maximum(n_sig, 1.0))
    part = best >= MEMBER_Z
    took_part: dict[int, set[str]] = {}
    for ring_i, b in part[part.to_numpy()].index:
        took_part.setdefault(int(ring_i), set()).add(str(pop.buyer_ids[b]))
    out = []
    for i, ring in enumerate(ev.rings):
        if checked[i]:
            # Members with no order at the targets show none of the abuse either.
            keep = [b for b in ring.buyers if b in took_part.get(i, set())]
            if len(keep) < 2:
                continue
            if len(keep) < ring.n_buyers:
                ring = dataclasses.replace(ring, buyers=keep, support={b: ring.support.get(b, 1) for b in keep})
        out.append(ring)
    return out


def keep_underpowered_whole(whole: Evidence, trimmed: Sequence[Ring], after: Evidence) -> list[Ring]:
    """Undo :func:`trim_to_evidence` where its per-member test lacked power.

    Bystanders are a ring's minority, and cutting them can only sharpen its
    evidence. When the test cut most of a ring, the rest score lower than the
    whole (``after`` measures ``trimmed``), and the whole shows two or more
    strong behavioural signals, its accounts had an order or two each (a tier
    sprint of recruited accounts), and the accounts cut would set the shops'
    norm: the ring stays whole. So does a ring whose case stands on two strong
    lines besides the behaviour, each shown by most of the ring (linked
    accounts returning to one shop, with receipt confirmed fast): a test of
    that one signal on two or three orders per member cannot say who took
    part. A group buy at a pickup point (silent orders only) is still cut, and
    so is a crowd whose linked or returning accounts are a minority.
    """
    source = {b: k for k, r in enumerate(whole.rings) for b in r.buyers}
    score_after = dict(zip(after.index.tolist(), after.scores.tolist(), strict=True))
    sig = whole.signals
    behaviour = sig["signal"].isin([s.name for s in SIGNALS if s.line == "behaviour"])
    kinds_of_abuse = sig[behaviour & (sig["strength"] >= STRONG_SIGNAL)].groupby("ring")["signal"].nunique()
    # Two strong lines besides the behaviour tested per member make the case without it, each
    # for most of the ring: a share held by a minority (a quarter of a crowd linked) is that
    # minority's case, and the trim kept the minority.
    shares = {s.name for s in SIGNALS if s.kind == "share"}
    held = sig[(sig["strength"] >= STRONG_SIGNAL) & (~sig["signal"].isin(shares) | (sig["value"] >= MOST))]
    line_of = held["signal"].map({s.name: s.line for s in SIGNALS})
    others = whole.lines.drop(columns=["behaviour", *SUPPORTING_LINES])
    for line in others.columns:
        shown = held.loc[line_of == line, "ring"].unique()
        others[line] = others[line].where(np.isin(np.arange(len(others)), shown), 0.0)
    stands_without = ((others >= STRONG_SIGNAL).sum(axis=1) >= 2).to_numpy()
    out = []
    for i, ring in enumerate(trimmed):
        k = source[ring.buyers[0]]
        underpowered = (
            ring.n_buyers * 2 < whole.rings[k].n_buyers
            and score_after.get(i, 0.0) < whole.scores[k]
            and (kinds_of_abuse.get(k, 0) >= 2 or stands_without[k])
        )
        out.append(whole.rings[k] if underpowered else ring)
    return out


def _trim_to_core(pop: Population, ev: Evidence, which: np.ndarray) -> list[Ring]:
    """In the rings marked ``which`` (the case rests on how many members are linked), drop the
    unlinked members who ordered from the targets more often than any linked member: they are
    the shop's regulars, not accounts run at the linked core's pace."""
    out = list(ev.rings)
    picked = np.flatnonzero(which)
    rings = [out[i] for i in picked]
    mg, mb = _members(pop, rings)
    _, rows, _, _ = _linkage(pop, _identifier_rows(pop, mg, mb), mg, len(rings))
    linked = set(zip(rows["g"].to_numpy(np.int64).tolist(), rows["b"].to_numpy(np.int64).tolist(), strict=True))
    g, order = _expand(pop, mg, mb)
    code_of = {str(x): k for k, x in enumerate(pop.seller_ids)}
    target_codes = np.array([code_of.get(t, -1) for k in picked for t in ev.targets[k]], np.int64)
    target_group = np.repeat(np.arange(len(picked)), [len(ev.targets[k]) for k in picked])
    at = np.isin(g * len(pop.seller_ids) + pop.o_seller[order], target_group * len(pop.seller_ids) + target_codes)
    n_at = pd.DataFrame({"g": g[at], "b": pop.o_buyer[order][at]}).groupby(["g", "b"]).size()
    pace: dict[int, int] = {}
    for (gi, b), n in n_at.items():
        if (gi, b) in linked:
            pace[gi] = max(pace.get(gi, 0), int(n))
    for j, ring in enumerate(rings):
        if j not in pace:
            continue
        codes = pop.buyer_codes(ring.buyers)
        keep = [b for b, c in zip(ring.buyers, codes.tolist(), strict=True)
                if (j, c) in linked or n_at.get((j, c), 0) <= pace[j]]
        if len(keep) < ring.n_buyers:
            out[picked[j]] = dataclasses.replace(ring, buyers=keep, support={b: ring.support.get(b, 1) for b in keep})
    return out


def _trim(pop: Population, rings: Sequence[Ring]) -> tuple[list[Ring], np.ndarray, np.ndarray]:
    """Drop members who never ordered from their ring's target shops (rings without targets stay
    whole). Also returns the trimmed rings' membership pairs, as :func:`_members` would."""
    ring_of, codes = _membership(pop, rings)
    ordered = codes >= 0
    mg, mb = ring_of[ordered], codes[ordered]
    t = _target_rows(pop, mg, mb, len(rings))
    # The rows are the members' orders, member after member.
    member = np.repeat(np.arange(len(mb)), np.diff(pop.indptr)[mb])
    hit = np.zeros(len(codes), bool)
    hit[ordered] = np.bincount(member, weights=t.target, minlength=len(mb)) > 0
    has_target = np.bincount(t.gs_group[t.is_target], minlength=len(rings)) > 0
    keep = hit | ~has_target[ring_of]  # members without orders cannot have ordered from the targets
    sizes = np.bincount(ring_of, minlength=len(rings))
    starts = np.r_[0, np.cumsum(sizes)]
    out = list(rings)
    for i in np.flatnonzero(np.bincount(ring_of[keep], minlength=len(rings)) < sizes).tolist():
        ring = rings[i]
        kept = [x for x, k in zip(ring.buyers, keep[starts[i] : starts[i + 1]].tolist(), strict=True) if k]
        out[i] = dataclasses.replace(ring, buyers=kept, support={x: ring.support.get(x, 1) for x in kept})
    return out, mg[keep[ordered]], mb[keep[ordered]]


def _weights(strengths: dict[str, np.ndarray], lines: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Share of the score each signal carries: its line's weighted part, split by ``-log(1 - s)``."""
    R = len(scores)
    rank = np.argsort(-lines, axis=1, kind="stable")
    rank_w = np.zeros_like(lines)
    for p, w in enumerate(LINE_WEIGHTS[: lines.shape[1]]):
        rank_w[np.arange(R), rank[:, p]] = w
    part = rank_w * lines
    mass = {n: -np.log1p(-np.clip(np.nan_to_num(s), 0.0, 1 - 1e-9)) for n, s in strengths.items()}
    line_mass = np.zeros_like(lines)
    for n, ms in mass.items():
        line_mass[:, LINES.index(_BY_NAME[n].line)] += ms
    out = {}
    for n, ms in mass.items():
        li = LINES.index(_BY_NAME[n].line)
        share = np.where(line_mass[:, li] > 0, ms / np.maximum(line_mass[:, li], 1e-12), 0.0)
        out[n] = np.where(scores > 0, share * part[:, li] / np.maximum(scores, 1e-12), 0.0)
    return out


def _types(strengths: dict[str, np.ndarray], R: int) -> list[str]:
    """``malicious_buyers`` when abuse evidence toward the targets is present and outweighs
    the evidence of boosting; else ``brushing`` (volume that boosts a shop)."""
    toward = {"brushing": np.zeros(R), "malicious_buyers": np.zeros(R)}
    for sig in SIGNALS:
        if sig.points_to is not None and sig.name in strengths:
            st = np.nan_to_num(strengths[sig.name])
            toward[sig.points_to] = 1 - (1 - toward[sig.points_to]) * (1 - st)
    mal, brush = toward["malicious_buyers"], toward["brushing"]
    return ["malicious_buyers" if (a > 0 and a > b) else "brushing" for a, b in zip(mal, brush, strict=True)]


def _member_scores(pop: Population, rings: Sequence[Ring], rows: pd.DataFrame, link: pd.DataFrame) -> pd.DataFrame:
    """How much each member takes part: the share of its orders at the targets, the
    specificity of what it shares with other members, and how many angles saw it."""
    part = rows.groupby(["g", "buyer"], sort=True)["target"].mean().rename("target").to_frame()
    part["link"] = 0.0
    if not link.empty:
        best = link.groupby(["g", "b"])["spec"].max().rename_axis(["g", "buyer"])
        part["link"] = best.reindex(part.index).fillna(0.0).to_numpy()
    gi = part.index.get_level_values(0).to_numpy(np.int64)
    ids = pop.buyer_ids[part.index.get_level_values(1).to_numpy(np.int64)].astype(str)
    seen = np.array([rings[g].support.get(b, 1) / max(len(rings[g].candidates), 1) for g, b in zip(gi, ids, strict=True)])
    target = part["target"].to_numpy(np.float64)
    score = 1.0 - (1.0 - target) * (1.0 - part["link"].to_numpy(np.float64)) * (1.0 - 0.5 * seen)
    members = pd.DataFrame({"ring": gi, "buyer_id": ids, "member_score": np.round(np.clip(score, 0, 1), 6)})
    # Members without orders (known from the buyers table only) still belong to their ring.
    have = set(zip(members["ring"].tolist(), members["buyer_id"].tolist(), strict=True))
    missing = [(g, b) for g, r in enumerate(rings) for b in r.buyers if (g, b) not in have]
    if missing:
        extra = pd.DataFrame({"ring": [g for g, _ in missing], "buyer_id": [b for _, b in missing], "member_score": 0.0})
        members = pd.concat([members, extra], ignore_index=True)
    return members.sort_values(["ring", "buyer_id"], kind="stable").reset_index(drop=True)


def binding_users(pop: Population, ev: Evidence) -> pd.DataFrame:
    """Buyers outside a ring who use one of its binding identifiers (``Evidence.identifiers``).

    Returns ``buyer_id, ring, share`` (share = the identifier's users inside
    the ring), one row per buyer and ring with the highest share.
    """
    empty = pd.DataFrame({"buyer_id": [], "ring": [], "share": []})
    idf = ev.identifiers
    if idf.empty or pop.ident_code is None:
        return empty
    wanted = pd.DataFrame({"c": idf["code"].to_numpy(np.int64), "ring": idf["ring"].to_numpy(np.int64),
                           "share": idf["member_score"].to_numpy(np.float64)})
    users = pd.DataFrame({"c": pop.ident_code, "b": pop.ident_buyer})
    is_wanted = np.zeros(len(pop.ident_users), bool)
    is_wanted[wanted["c"].to_numpy()] = True
    users = users[is_wanted[pop.ident_code]].merge(wanted, on="c")
    users = users.assign(buyer_id=pop.buyer_ids[users["b"].to_numpy(np.int64)].astype(str))
    members = set(zip(ev.members["ring"].to_numpy(np.int64).tolist(), ev.members["buyer_id"].tolist(), strict=True))
    outside = [(r, b) not in members for r, b in zip(users["ring"].tolist(), users["buyer_id"].tolist(), strict=True)]
    users = users[np.asarray(outside, bool)]
    if users.empty:
        return empty
    users = users.sort_values(["buyer_id", "ring", "share"], ascending=[True, True, False], kind="stable")
    return users.drop_duplicates(["buyer_id", "ring"])[["buyer_id", "ring", "share"]].reset_index(drop=True)


def _binding_identifiers(pop: Population, link: pd.DataFrame) -> pd.DataFrame:
    if link.empty:
        return pd.DataFrame({"ring": [], "kind": [], "key": [], "member_score": [], "code": []})
    lk = link.drop_duplicates(["g", "c"])
    share = lk["n"].to_numpy() / pop.ident_users[lk["c"].to_numpy(np.int64)]
    keep = share >= 0.5  # used mostly by the ring: it binds the ring rather than a neighbourhood
    lk = lk[keep]
    codes = lk["c"].to_numpy(np.int64)
    out = pd.DataFrame({
        "ring": lk["g"].to_numpy(np.int64),
        "kind": pop.ident_kind[codes].astype(str),
        "key": pop.ident_key.take(codes).to_numpy(zero_copy_only=False).astype(str),
        "member_score": np.round(share[keep], 6),
        "code": codes,
    })
    return out.sort_values(["ring", "kind", "key"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# Plain-language explanations.


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if math.isfinite(x) else "n/a"


def _duration(hours: float) -> str:
    if not math.isfinite(hours):
        return "n/a"
    return f"{hours * 60:.0f} min" if hours < 1 else (f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days")


def _explain(pop, rings, index, m: _Measured, strengths, weights, null_median, against_shops, targets, rows, link):
    """One row per (ring, signal) with its number and a sentence an analyst can check.

    ``rings``, ``strengths`` ... describe the kept rings; ``index`` their
    positions among all measured groups.
    """
    R = len(rings)
    link_text = _link_descriptions(pop, link)
    reasons = _top_refund_reason(pop, rows)
    info = {name: a[index] for name, a in m.info.items()}
    counts = {name: a[index] for name, a in m.counts.items()}
    values = {name: a[index] for name, a in m.values.items()}
    n_rows = counts["target_concentration"]

    def sentence(name: str, r: int, v: float, null: float) -> tuple[float, str]:
        n = int(counts[name][r])
        k = len(targets[r])
        shops = f"{k} target shop{'s' if k != 1 else ''}"
        basis = "the same shops' other customers" if name in against_shops and against_shops[name][r] else "similar random groups"
        vs = f" ({basis}: {_pct(null)})"
        if name == "target_concentration":
            return v, (
                f"{_pct(v)} of the ring's {int(n_rows[r])} orders went to {shops}: {info['per_member'][r]:.1f} orders "
                f"per member against {info['per_other'][r]:.1f} per other customer; the ring placed "
                f"{_pct(info['target_dominance'][r])} of the shops' orders"
            )
        if name == "shared_targets":
            return v, (
                f"{_pct(v)} of the ring's {n} members at its {shops} ordered from two or more of them: "
                f"{int(info['shared_observed'][r])} visits beyond each account's first (accounts sharing identifiers "
                f"counted as one), where accounts that active would make {info['shared_expected'][r]:.1f}"
            )
        if name == "lockstep":
            w = info["lockstep_width"][r] or "hour"
            return v, (
                f"{_pct(info['lockstep_observed'][r])} of the ring's orders to its targets were placed in the same {w} "
                f"as another member's order at the same shop, over {int(info['lockstep_windows'][r])} separate {w}s "
                f"(chance predicts {_pct(info['lockstep_expected'][r])}; the busiest {w} left out)"
            )
        if name == "linked_members":
            return v, (
                f"{_pct(v)} of the ring's {n} members share an identifier (device, phone, payment, address, IP) "
                f"used by few accounts with another member; of the same shops' other customers {_pct(null)} "
                f"share one with another customer of the shop"
            )
        if name == "shared_identifiers":
            return v, link_text.get(r, "no member shares an identifier with another member")
        if name == "fast_confirmation":
            return math.expm1(v), (
                f"receipt was confirmed a typical {_duration(math.expm1(v))} after delivery over {n} orders "
                f"({basis}: {_duration(math.expm1(null))})"
            )
        if name == "account_age":
            return math.expm1(v), (
                f"accounts were a typical {math.expm1(v):.0f} days old when ordering ({basis}: {math.expm1(null):.0f} days)"
            )
        if name == "low_credit":
            c = v * pop.credit_scale
            return c, f"members' mean credit level is {c:.1f} (similar random groups: {null * pop.credit_scale:.1f})"
        if name == "refunds":
            why = f"; most common reason: \"{reasons[r]}\"" if r in reasons else ""
            return v, f"{_pct(v)} of the ring's {n} orders to its targets were refunded{why}" + vs
        text = {
            "repeat_purchases": f"{_pct(v)} of the ring's {n} orders repeat an item the same account had already bought",
            "silent_orders": f"{_pct(v)} of the ring's {n} orders had no chat with the seller",
            "off_price_orders": f"{_pct(v)} of the ring's {n} orders paid less than half or more than twice the listed price",
            "five_star_reviews": f"{_pct(v)} of the ring's {n} ratings were five stars",
            "low_star_reviews": f"{_pct(v)} of the ring's {n} ratings of its targets were one or two stars",
            "templated_reviews": (
                f"{_pct(v)} of the ring's {n} reviews repeat a text another member also wrote, "
                "weighed by the share of the text's writers inside the ring"
            ),
            "waybill_reuse": f"{_pct(v)} of the ring's {n} waybills were also used on another order",
            "missing_waybill": f"{_pct(v)} of the ring's {n} shipped orders carry no waybill",
            "empty_parcels": f"{_pct(v)} of the ring's {n} parcels weighed under a fifth of what the same item usually weighs",
            "unverified_accounts": f"{_pct(v)} of the ring's {n} accounts are not real-name verified",
        }[name]
        return v, text + vs

    out = []
    for name, st in strengths.items():
        v, med = values[name].tolist(), null_median[name].tolist()
        st, wt = np.nan_to_num(st).tolist(), weights[name].tolist()
        for r in np.flatnonzero(np.isfinite(values[name])).tolist():
            shown, text = sentence(name, r, v[r], med[r])
            out.append((r, name, shown, st[r], wt[r], text))
    for r, ring in enumerate(rings):
        for method, st in ring.strengths.items():
            out.append((r, method, float(st), float(st), 0.0, _method_text(method, st)))
    frame = pd.DataFrame(out, columns=["ring", "signal", "value", "strength", "weight", "explanation"])
    for col in ("value", "strength", "weight"):
        frame[col] = frame[col].astype(np.float64).round(6)
    frame = frame.sort_values(["ring", "weight", "strength", "signal"], ascending=[True, False, False, True], kind="stable")
    top: list[list[str]] = [[] for _ in range(R)]
    for r, grp in frame[frame["weight"] >= 0.05].groupby("ring", sort=True):
        top[int(r)] = grp["signal"].head(3).tolist()
    return frame.reset_index(drop=True), top


def _method_text(method: str, s: float) -> str:
    return {
        "identity": f"proposed by identity linkage: members bound by shared identifiers (detector strength {s:.2f})",
        "dense_block": f"proposed by dense-block peeling (FRAUDAR): members order from the same shops far more densely than in random graphs (detector strength {s:.2f})",
        "synchrony": f"proposed by synchrony: members order in lockstep across repeated windows (detector strength {s:.2f})",
        "shop": f"proposed by the shop-side view: the target shops' customers come back, or are shared between shops, far beyond chance (detector strength {s:.2f})",
    }.get(method, f"proposed by {method} (detector strength {s:.2f})")


def _link_descriptions(pop: Population, link: pd.DataFrame) -> dict[int, str]:
    """Per ring: how many members share which kinds of identifiers, and how specific the best one is."""
    if link.empty:
        return {}
    idents = link.drop_duplicates(["g", "c"])
    codes = idents["c"].to_numpy(np.int64)
    idents = idents.assign(kind=pop.ident_kind[codes], users=pop.ident_users[codes])
    per_kind = idents.groupby(["g", "kind"], sort=True).size()
    fewest = idents.groupby("g")["users"].min()
    linked = link.groupby("g")["b"].nunique()
    kinds: dict[int, list[str]] = {}
    for (g, kind), n in per_kind.items():
        kinds.setdefault(int(g), []).append(f"{n} {kind}{'s' if n != 1 and not kind.endswith('s') else ''}")
    out = {}
    for g, n_linked in linked.items():
        users = int(fewest[g])
        out[int(g)] = (
            f"{n_linked} members share {', '.join(kinds[int(g)])} with other members; "
            f"the most specific is used by {users} account{'s' if users != 1 else ''} in all"
        )
    return out


def _top_refund_reason(pop: Population, rows: pd.DataFrame) -> dict[int, str]:
    if pop.refund_reason is None:
        return {}
    codes, labels = pop.refund_reason
    rows = rows.assign(reason=codes[rows["order"].to_numpy()])
    rows = rows[rows["reason"] >= 0]
    if rows.empty:
        return {}
    counts = rows.groupby(["g", "reason"]).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "reason"], ascending=[True, False, True]).drop_duplicates("g")
    return {int(g): str(labels[c]) for g, c in zip(counts["g"], counts["reason"], strict=True)}


def _summary(ring: Ring, rtype: str, score: float, top: list[str], targets: list[str], n_orders: int) -> str:
    kind = "brushing ring" if rtype == "brushing" else "group of coordinated malicious buyers"
    tgt = ""
    if targets:
        tgt = f" targeting {', '.join(targets[:3])}" + (f" and {len(targets) - 3} more" if len(targets) > 3 else "")
    why = f"; strongest signals: {', '.join(s.replace('_', ' ') for s in top)}" if top else ""
    return f"Possible {kind}: {ring.n_buyers} accounts, {n_orders} orders{tgt} (score {score:.2f}){why}."
