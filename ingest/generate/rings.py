"""Planted rings: each plan built by its tactic into a ring with its orders and truth record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import brushing, malicious
from .planter import Planted, Planter
from .plans import TACTICS, RingPlan
from .world import World

__all__ = ["Ring", "plant"]

_TACTICS: dict[str, Callable[[Planter, RingPlan], Planted]] = {tactic.__name__: tactic for tactic in (
    brushing.sock_puppet, brushing.click_farm, brushing.low_and_slow, brushing.empty_parcel, brushing.seller_swap,
    malicious.negative_review, malicious.refund_abuse, malicious.extortion)}
assert set(_TACTICS) == set(TACTICS)  # every planned tactic has its builder


@dataclass
class Ring:
    """A planted ring: its truth record and its orders (a frame)."""

    ring_id: str
    ring_type: str
    tactic: str
    buyers: np.ndarray
    targets: np.ndarray
    frame: dict[str, np.ndarray]
    pools: dict[str, np.ndarray] = field(default_factory=dict)


def plant(w: World, rng: np.random.Generator, plans: list[RingPlan]) -> tuple[list[Ring], Planter]:
    """Build every planned ring's orders (ring ``i`` is ``T{i + 1:04d}``); the planter keeps the waybill blocks."""
    planter = Planter(w, rng)
    rings = []
    for i, plan in enumerate(plans):
        f, buyers, targets, pools = _TACTICS[plan.tactic](planter, plan)
        f["ring"][:] = i
        rings.append(Ring(f"T{i + 1:04d}", plan.ring_type, plan.tactic, buyers, np.sort(targets), f, pools))
    return rings, planter
