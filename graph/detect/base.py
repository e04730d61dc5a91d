"""What every detector returns: candidate groups and per-buyer scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Candidate"]


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
