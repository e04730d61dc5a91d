"""What every detector returns: candidate groups and per-buyer scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Candidate", "epoch_seconds", "poisson_surprise"]


@dataclass
class Candidate:
    """A group of buyers one method finds suspicious together.

    Attributes
    ----------
    method : str
        The detector that found it: ``"identity"``, ``"dense_block"``, ``"synchrony"``.
    buyers : list[str]
        Member buyer ids, sorted.
    sellers : list[str]
        Sellers the group's orders concentrate on (may be empty), sorted.
    identifiers : list[tuple[str, str]]
        ``(kind, key)`` identifiers that bind the group (may be empty), sorted.
    strength : float
        0..1, how unusual the group is for this method, calibrated against the
        data set's own population (a rank or quantile), never a raw size.
    details : dict
        Method-specific numbers worth showing an analyst (density, windows ...).
    """

    method: str
    buyers: list[str]
    sellers: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    strength: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def poisson_surprise(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Chernoff bound on ``-ln P(X >= observed)`` for ``X ~ Poisson(expected)`` (0 when not above)."""
    o = np.asarray(observed, np.float64)
    e = np.maximum(np.asarray(expected, np.float64), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = o * np.log(np.where(o > 0, o / e, 1.0)) - o + e
    return np.where(o > e, bound, 0.0)


def epoch_seconds(created_at: pd.Series) -> np.ndarray:
    """Whole UTC seconds since the epoch (naive times are read as UTC)."""
    ts = pd.to_datetime(created_at, utc=True).dt.tz_convert(None)
    return ts.to_numpy().astype("datetime64[s]").astype(np.int64)
