"""The buyers, sellers and items files: every entity of the world, also those without orders."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import bytes_text, mix, take
from .clock import DAY, DAYS, END, START
from .lexicon import CAT_NAMES
from .tally import Tally
from .texts import phone_text
from .world import World

__all__ = ["buyers_table", "items_table", "sellers_table"]


def buyers_table(w: World, tally: Tally, rng: np.random.Generator) -> pa.Table:
    """Every buyer, registered before its first order; the phones written join the tally."""
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
    text = phone_text(w, phone, masked, mix(np.arange(nb), phone, 2))
    has = form < 0.92
    tally.see_phones(phone[has], masked[has])
    return pa.table({
        "buyer_id": bytes_text(w.buyer_ids),
        "registered_at": pa.array(reg),
        "real_name_verified": pa.array(verified),
        "credit_level": pa.array(credit),
        "phone": pc.if_else(pa.array(has), text, pa.scalar(None, pa.string())),
    })


def sellers_table(w: World) -> pa.Table:
    return pa.table({"seller_id": bytes_text(w.seller_ids), "name": w.seller_names,
                     "category": take(CAT_NAMES, w.seller_cat),
                     "registered_at": pa.array(w.seller_reg)})


def items_table(w: World) -> pa.Table:
    return pa.table({"item_id": bytes_text(w.item_ids), "seller_id": bytes_text(w.seller_ids[w.item_seller]),
                     "title": w.item_titles, "price": pa.array(w.item_cents / 100).cast(pa.decimal128(12, 2)),
                     "category": take(CAT_NAMES, w.item_cat)})
