"""Evidence panels of a ring, computed from its orders: pure pandas, no Streamlit.

Each function takes the ring's orders (``ORDER_SCHEMA`` columns as a pandas
frame) and returns a small frame the Ring page shows as it is. Nothing here
renders text: review texts, reasons and addresses stay data, shown through
``st.dataframe`` only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "ring_orders",
    "timeline",
    "busiest_hour",
    "amounts",
    "amount_summary",
    "rating_counts",
    "review_groups",
    "refunds",
    "refund_reasons",
    "waybill_checks",
    "account_ages",
    "AGE_BUCKETS",
]

LIGHT_PARCEL_G = 50.0  # an "empty parcel" weighs next to nothing
FAST_CONFIRM = pd.Timedelta(hours=24)  # receipt confirmed within a day of shipping
AGE_BUCKETS = ("< 7 days", "7–30 days", "1–6 months", "6–12 months", "> 1 year", "unknown")
# Timeline bin width by the span of the orders shown: (longest span, width), shortest first.
_BIN_WIDTHS = (
    (pd.Timedelta(hours=6), pd.Timedelta(minutes=5)),
    (pd.Timedelta(days=4), pd.Timedelta(hours=1)),
    (pd.Timedelta.max, pd.Timedelta(days=1)),
)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def ring_orders(orders: pd.DataFrame, sellers: list[str]) -> pd.DataFrame:
    """The orders between the ring's buyers and its sellers (all of the buyers' orders when it names none)."""
    if not sellers:
        return orders
    return orders[orders["seller_id"].isin(sellers)]


def timeline(orders: pd.DataFrame, *, top_sellers: int = 5) -> pd.DataFrame:
    """Orders per time bin and seller (``bin, bin_end, seller, orders``).

    The bin width follows the span, so a burst shows as a spike: 5 minutes
    up to 6 hours, an hour up to 4 days, a day beyond.
    """
    if orders.empty:
        return pd.DataFrame(
            {"bin": pd.Series(dtype="datetime64[us, UTC]"), "bin_end": pd.Series(dtype="datetime64[us, UTC]"), "seller": [], "orders": []}
        )
    created = orders["created_at"]
    span = created.max() - created.min()
    width = next(w for limit, w in _BIN_WIDTHS if span <= limit)
    top = orders["seller_id"].value_counts().head(top_sellers).index
    seller = orders["seller_id"].where(orders["seller_id"].isin(top), "other sellers")
    frame = pd.DataFrame({"bin": created.dt.floor(width), "seller": seller.astype(str)})
    counts = frame.groupby(["bin", "seller"], as_index=False).size().rename(columns={"size": "orders"})
    counts.insert(1, "bin_end", counts["bin"] + width)
    return counts


def busiest_hour(orders: pd.DataFrame) -> tuple[int, pd.Timestamp | None]:
    """The most orders placed within any 60 minutes, and when that hour started."""
    if orders.empty:
        return 0, None
    times = np.sort(orders["created_at"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]"))
    ends = np.searchsorted(times, times + np.timedelta64(1, "h"), side="left")
    counts = ends - np.arange(len(times))
    best = int(np.argmax(counts))
    return int(counts[best]), pd.Timestamp(times[best]).tz_localize("UTC")


def amounts(orders: pd.DataFrame) -> pd.DataFrame:
    """Paid amount against listed value (``item_price × quantity``) per order, with their ratio."""
    listed = orders["item_price"] * orders["quantity"].fillna(1)
    frame = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "buyer_id": orders["buyer_id"],
            "seller_id": orders["seller_id"],
            "amount": orders["amount"],
            "listed": listed,
        }
    ).dropna(subset=["amount", "listed"])
    frame = frame[frame["listed"] > 0]
    frame["ratio"] = frame["amount"] / frame["listed"]
    return frame.reset_index(drop=True)


def amount_summary(frame: pd.DataFrame) -> dict[str, float]:
    """How far amounts stray from listed value: share under half, share over double, median ratio."""
    if frame.empty:
        return {"orders": 0, "median_ratio": float("nan"), "under_half": 0.0, "over_double": 0.0}
    return {
        "orders": int(len(frame)),
        "median_ratio": float(frame["ratio"].median()),
        "under_half": float((frame["ratio"] < 0.5).mean()),
        "over_double": float((frame["ratio"] > 2.0).mean()),
    }


def rating_counts(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders per star rating (1..5), zero-filled."""
    counts = orders["rating"].dropna().astype(int).value_counts()
    stars = pd.Index(range(1, 6), name="stars")
    return pd.DataFrame({"stars": stars.astype(str) + "★", "orders": counts.reindex(stars, fill_value=0).to_numpy()})


def review_groups(orders: pd.DataFrame) -> pd.DataFrame:
    """Review texts grouped by their wording (case, spaces and punctuation ignored).

    Columns ``review_text`` (one example of the wording), ``orders``,
    ``buyers``, ``mean_rating``, ``templated`` (several buyers wrote the same
    words), most repeated first.
    """
    reviews = orders.dropna(subset=["review_text"])
    reviews = reviews[reviews["review_text"].str.strip() != ""]
    if reviews.empty:
        return pd.DataFrame(columns=["review_text", "orders", "buyers", "mean_rating", "templated"])
    wording = reviews["review_text"].str.lower().str.replace(_PUNCT, "", regex=True)
    grouped = reviews.assign(_wording=wording).groupby("_wording", sort=False).agg(
        review_text=("review_text", "first"),
        orders=("order_id", "size"),
        buyers=("buyer_id", "nunique"),
        mean_rating=("rating", "mean"),
    )
    grouped["templated"] = grouped["buyers"] >= 2
    return grouped.sort_values(["orders", "buyers"], ascending=False).reset_index(drop=True)


def refunds(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders per status, with their share."""
    status = orders["status"].fillna("unknown")
    counts = status.value_counts()
    return pd.DataFrame({"status": counts.index, "orders": counts.to_numpy(), "share": (counts / len(status)).to_numpy()})


def refund_reasons(orders: pd.DataFrame) -> pd.DataFrame:
    """Refund reasons as written, grouped (``refund_reason, orders, buyers``)."""
    refunded = orders.dropna(subset=["refund_reason"])
    refunded = refunded[refunded["refund_reason"].str.strip() != ""]
    if refunded.empty:
        return pd.DataFrame(columns=["refund_reason", "orders", "buyers"])
    grouped = refunded.groupby("refund_reason").agg(orders=("order_id", "size"), buyers=("buyer_id", "nunique"))
    return grouped.sort_values("orders", ascending=False).reset_index()


def _sequential(orders: pd.DataFrame) -> pd.Series:
    """Orders whose waybill number is one off another waybill of the same carrier."""
    digits = orders["tracking_no"].str.extract(r"(\d{6,})$", expand=False)
    frame = pd.DataFrame({"carrier": orders["carrier"].fillna(""), "n": pd.to_numeric(digits, errors="coerce")})
    frame = frame.dropna(subset=["n"])
    result = pd.Series(False, index=orders.index)
    if frame.empty:
        return result
    frame = frame.sort_values(["carrier", "n"])
    gap = frame.groupby("carrier")["n"].diff()
    seq = gap == 1
    seq = seq | seq.groupby(frame["carrier"]).shift(-1, fill_value=False)
    result.loc[seq[seq].index] = True
    return result


def waybill_checks(orders: pd.DataFrame) -> pd.DataFrame:
    """Logistics anomalies: reused, sequential, near-empty parcels, receipt confirmed very fast.

    Columns ``check``, ``orders``, ``share`` (of orders with a waybill),
    ``meaning``.
    """
    shipped = orders[orders["tracking_no"].notna()]
    n = len(shipped)
    key = shipped["waybill_key"].fillna(shipped["tracking_no"])
    reused = key.duplicated(keep=False)
    light = shipped["parcel_weight_g"] < LIGHT_PARCEL_G
    fast = (shipped["confirmed_at"] - shipped["shipped_at"]) < FAST_CONFIRM
    rows = [
        ("reused waybill", int(reused.sum()), "the same tracking number on several orders"),
        ("sequential waybills", int(_sequential(shipped).sum()), "tracking numbers one apart, as if printed in a batch"),
        (f"parcel under {LIGHT_PARCEL_G:g} g", int(light.sum()), "an empty or near-empty parcel (空包)"),
        ("confirmed within 24 h", int(fast.sum()), "receipt confirmed less than a day after shipping"),
    ]
    frame = pd.DataFrame(rows, columns=["check", "orders", "meaning"])
    frame.insert(2, "share", frame["orders"] / n if n else 0.0)
    return frame


def account_ages(buyers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Each buyer's account age at their first order in the ring, bucketed.

    ``buyers`` has ``buyer_id, registered_at`` (may miss buyers); the result has
    ``buyer_id, first_order_at, registered_at, age_days, bucket``.
    """
    first = orders.groupby("buyer_id", as_index=False)["created_at"].min().rename(columns={"created_at": "first_order_at"})
    frame = first.merge(buyers[["buyer_id", "registered_at"]], on="buyer_id", how="left")
    age = (frame["first_order_at"] - frame["registered_at"]).dt.total_seconds() / 86400
    frame["age_days"] = age
    edges = [-np.inf, 7, 30, 182, 365, np.inf]
    bucket = pd.cut(age, bins=edges, labels=list(AGE_BUCKETS[:-1]), right=False)
    frame["bucket"] = bucket.astype(object).where(age.notna(), AGE_BUCKETS[-1])
    return frame
