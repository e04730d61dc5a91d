"""A seller's penalty exposure under a platform's brushing rules, kept as data.

Platforms publish rules of the form "1st or 2nd offence: under 96 fake
trades corrected without points, 96 or more 12 points; ... each offending
item demoted in search for 30 days from each finding". A report estimates
what a ring's target seller faces if the platform confirmed the ring's
orders as fake trades. The numbers live in a TOML rule set
(``graph/report/rules/default.toml`` is the example of DOMAIN.md); users pass
their own file through ``settings.rules_file``.

Example
-------
>>> from datetime import date
>>> rules = load_rules()
>>> rules.points(fake_trades=120, offence=3)
48
>>> w = merge_windows([date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 10)], days=30)
>>> [(x.start.isoformat(), x.end.isoformat(), x.days) for x in w]
[('2026-01-01', '2026-02-08', 39)]
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from graph.errors import ConfigError
from graph.settings import get_settings

__all__ = [
    "configured_rules",
    "DEFAULT_RULES",
    "Tier",
    "RuleSet",
    "Window",
    "Exposure",
    "load_rules",
    "merge_windows",
    "peak_count",
    "assess",
]

DEFAULT_RULES = Path(__file__).parent / "rules" / "default.toml"


@dataclass(frozen=True)
class Tier:
    """Points for offences ``first``..``last`` (``last`` None: and every later one)."""

    first: int
    last: int | None
    below_threshold: int
    at_or_above_threshold: int

    def covers(self, offence: int) -> bool:
        return offence >= self.first and (self.last is None or offence <= self.last)


@dataclass(frozen=True)
class RuleSet:
    """A platform's brushing penalty rules.

    Attributes
    ----------
    name, source : str
        What the rules are and where they come from (shown in reports).
    path : str
        The file they were read from.
    threshold : int
        Fake trades at which the heavier penalty of a tier applies.
    tiers : tuple of Tier
        Points by offence number, contiguous from the first offence, the last one open-ended.
    large_scale_min_fake_trades, large_scale_within_days, large_scale_points : int
        "Large-scale brushing in a short period": this many fake trades within
        this many days costs ``large_scale_points`` whatever the offence number.
    demotion_days : int
        Search demotion per finding, in days.
    """

    name: str
    source: str
    path: str
    threshold: int
    tiers: tuple[Tier, ...]
    large_scale_min_fake_trades: int
    large_scale_within_days: int
    large_scale_points: int
    demotion_days: int

    def tier(self, offence: int) -> Tier:
        """The tier of an offence number (1 = first offence)."""
        for tier in self.tiers:
            if tier.covers(offence):
                return tier
        raise ValueError(f"offence number must be 1 or more, not {offence}")

    def points(self, fake_trades: int, offence: int, *, large_scale: bool = False) -> int:
        """Points for ``fake_trades`` at offence number ``offence``."""
        tier = self.tier(offence)
        points = tier.at_or_above_threshold if fake_trades >= self.threshold else tier.below_threshold
        return max(points, self.large_scale_points) if large_scale else points


def _take(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}: missing `{key}`")
        return default
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: `{key}` must be {kind.__name__}, not {value!r}")
    if kind is int and value < 0:
        raise ConfigError(f"{where}: `{key}` must not be negative")
    return value


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read a rule set from TOML (default: the example rules shipped with RingWatch).

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or breaks the layout of ``default.toml``;
        the message names the file and the key.
    """
    file = Path(path) if path is not None else DEFAULT_RULES
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the penalty rules {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    where = str(file)
    _no_unknown(data, {"name", "source", "fake_trades", "tiers", "large_scale", "demotion"}, where)
    fake = _take(data, "fake_trades", dict, where)
    _no_unknown(fake, {"threshold"}, f"{where} [fake_trades]")
    large = _take(data, "large_scale", dict, where)
    _no_unknown(large, {"min_fake_trades", "within_days", "points"}, f"{where} [large_scale]")
    demotion = _take(data, "demotion", dict, where)
    _no_unknown(demotion, {"days"}, f"{where} [demotion]")
    tiers = []
    for i, raw in enumerate(_take(data, "tiers", list, where), start=1):
        at = f"{where} [[tiers]] #{i}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{at}: must be a table")
        _no_unknown(raw, {"first", "last", "below_threshold", "at_or_above_threshold"}, at)
        tiers.append(
            Tier(
                first=_take(raw, "first", int, at),
                last=_take(raw, "last", int, at, None),
                below_threshold=_take(raw, "below_threshold", int, at),
                at_or_above_threshold=_take(raw, "at_or_above_threshold", int, at),
            )
        )
    # Tiers must cover offence 1, 2, 3 ... without gaps or overlaps, the last one open-ended.
    expected = 1
    for n, tier in enumerate(tiers):
        is_last = n == len(tiers) - 1
        if (
            tier.first != expected
            or (tier.last is None) != is_last
            or (tier.last is not None and tier.last < tier.first)
        ):
            raise ConfigError(
                f"{where}: tiers must cover offences 1, 2, 3 ... in order without gaps, "
                f"only the last one without `last` (tier #{n + 1} starts at {tier.first}, expected {expected})"
            )
        expected = (tier.last or 0) + 1
    if not tiers:
        raise ConfigError(f"{where}: at least one [[tiers]] entry is needed")
    within = _take(large, "within_days", int, f"{where} [large_scale]")
    days = _take(demotion, "days", int, f"{where} [demotion]")
    if within < 1 or days < 1:
        raise ConfigError(f"{where}: large_scale.within_days and demotion.days must be at least 1")
    return RuleSet(
        name=_take(data, "name", str, where, file.stem),
        source=_take(data, "source", str, where, ""),
        path=str(file),
        threshold=_take(fake, "threshold", int, f"{where} [fake_trades]"),
        tiers=tuple(tiers),
        large_scale_min_fake_trades=_take(large, "min_fake_trades", int, f"{where} [large_scale]"),
        large_scale_within_days=within,
        large_scale_points=_take(large, "points", int, f"{where} [large_scale]"),
        demotion_days=days,
    )


def configured_rules(rules: RuleSet | str | Path | None = None) -> RuleSet:
    """The rule set to use: ``rules`` itself or the file it names, else ``settings.rules_file``, else the example."""
    if isinstance(rules, RuleSet):
        return rules
    if rules is None:
        rules = get_settings().rules_file
    return load_rules(rules)


@dataclass(frozen=True)
class Window:
    """A search-demotion window: ``start`` to ``end``, both days included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def merge_windows(findings: Iterable[date], days: int) -> list[Window]:
    """Demotion windows of ``days`` days from each finding, overlapping or touching ones merged.

    A finding on day ``d`` demotes days ``d`` .. ``d + days - 1``. Findings on
    1, 2 and 10 January with 30 days each give one window, 1 January to
    8 February: 39 days.
    """
    merged: list[Window] = []
    for start in sorted(set(findings)):
        end = start + timedelta(days=days - 1)
        if merged and start <= merged[-1].end + timedelta(days=1):
            last = merged[-1]
            merged[-1] = Window(last.start, max(last.end, end))
        else:
            merged.append(Window(start, end))
    return merged


def peak_count(times: Sequence[datetime], days: int) -> int:
    """The most timestamps that fall within any span of ``days`` days."""
    ordered = sorted(times)
    span = timedelta(days=days)
    best, left = 0, 0
    for right, t in enumerate(ordered):
        while t - ordered[left] >= span:
            left += 1
        best = max(best, right - left + 1)
    return best


@dataclass(frozen=True)
class Exposure:
    """What one seller faces if the ring's orders with it were confirmed as fake trades.

    Attributes
    ----------
    seller_id : str
    fake_trades : int
        The ring's orders with this seller.
    threshold : int
        The rule set's fake-trade threshold.
    offence : int
        Offence number this finding would be (earlier confirmed findings + 1).
    peak : int
        Most fake trades within the rule set's "short period".
    large_scale : bool
        ``peak`` reaches the rule set's large-scale line.
    points : int
        Penalty points under the rule set (0 = corrected without points).
    items : tuple of str
        Offending items (each demoted in search).
    findings : tuple of date
        Finding days the demotion windows start from (earlier ones and this one).
    windows : tuple of Window
        Merged search-demotion windows.
    """

    seller_id: str
    fake_trades: int
    threshold: int
    offence: int
    peak: int
    large_scale: bool
    points: int
    items: tuple[str, ...]
    findings: tuple[date, ...]
    windows: tuple[Window, ...]

    @property
    def demotion_days(self) -> int:
        """Days of search demotion in all windows together."""
        return sum(w.days for w in self.windows)


def assess(
    rules: RuleSet,
    *,
    seller_id: str,
    trade_times: Sequence[datetime],
    items: Iterable[str] = (),
    earlier_findings: Iterable[date] = (),
    finding: date,
) -> Exposure:
    """Estimate a seller's exposure for one ring.

    Parameters
    ----------
    rules : RuleSet
    seller_id : str
    trade_times : sequence of datetime
        When each of the ring's orders with this seller was placed (the fake-trade candidates).
    items : iterable of str
        Item ids of those orders.
    earlier_findings : iterable of date
        Days of earlier confirmed findings against this seller, one per
        finding; each counts as one offence.
    finding : date
        The day this finding would be made.
    """
    earlier = sorted(earlier_findings)  # one entry per earlier confirmed ring, so days may repeat
    peak = peak_count(trade_times, rules.large_scale_within_days)
    large = rules.large_scale_min_fake_trades > 0 and peak >= rules.large_scale_min_fake_trades
    offence = len(earlier) + 1
    return Exposure(
        seller_id=seller_id,
        fake_trades=len(trade_times),
        threshold=rules.threshold,
        offence=offence,
        peak=peak,
        large_scale=large,
        points=rules.points(len(trade_times), offence, large_scale=large),
        items=tuple(sorted({i for i in items if i})),
        findings=tuple(sorted({*earlier, finding})),
        windows=tuple(merge_windows([*earlier, finding], rules.demotion_days)),
    )
