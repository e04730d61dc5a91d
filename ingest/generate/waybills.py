"""Tracking numbers (运单号) as carriers allocate them: in shipping order, per carrier.

Honest parcels and planted blocks of empty-parcel waybills share one
allocator, so consecutive numbers happen honestly too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import vocab as V
from .arrays import as_text, join
from .clock import DAY

__all__ = ["Waybills"]


class Waybills:
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
                s = pc.utf8_lpad(as_text(number[m]), digits, "0")
                out = pc.replace_with_mask(out, pa.array(m), join(prefix, s) if prefix else s)
        return out
