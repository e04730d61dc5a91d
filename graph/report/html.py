"""Ring reports as self-contained HTML: one page per ring and an index per batch.

Templates live in ``graph/report/templates`` and are rendered with Jinja2
autoescaping on for every template: whatever came from buyers or sellers
(names, addresses, review texts, refund reasons, ids) is escaped, and no
template marks data ``|safe``. Pages carry their CSS inline, draw pictures
as inline SVG and declare a Content-Security-Policy that forbids fetching
or running anything, so a report opens offline and cannot phone home.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2

from graph.report.context import RunData, load_run, ring_context, run_metadata
from graph.report.penalty import RuleSet, configured_rules
from graph.store.base import GraphStore

__all__ = ["environment", "render_ring", "render_index", "ring_report_html", "index_context"]

_TEMPLATES = Path(__file__).parent / "templates"


def _ts(value: Any, zone: bool = True) -> str:
    """A timestamp as ``2026-03-01 12:00 UTC`` (without `` UTC`` when ``zone`` is false); strings are parsed as ISO 8601."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC" if zone else "%Y-%m-%d %H:%M")
    return str(value)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "–"


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value * 100:.0f}%"


def _duration(seconds: float) -> str:
    """``45 min``, ``3.5 hours``, ``12.0 days``."""
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _RowEnvironment(jinja2.Environment):
    """Looks ``row.name`` up as a dict key first: report rows are dicts, and Jinja's default
    tries ``getattr`` first, an AttributeError per cell (a tenth of an export's time).

    Same answers as the default: a dict attribute of that name (``items``, ``keys`` ...) still wins.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@functools.cache
def environment() -> jinja2.Environment:
    """The shared Jinja environment: autoescape on for every template, undefined names raise."""
    env = _RowEnvironment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,  # every template, whatever its name: reports are full of data from buyers
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the code: no file check per page
    )
    env.filters.update(ts=_ts, day=_day, num=_num, pct=_pct, ordinal=_ordinal, duration=_duration)
    return env


def render_ring(context: dict[str, Any]) -> str:
    """Render one ring's report from :func:`graph.report.context.ring_context`."""
    return environment().get_template("ring.html.j2").render(**context)


def index_context(data: RunData, links: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What the batch summary shows; ``links`` maps ring id to ``{"html": ..., "pdf": ...}`` file names."""
    rings = [{**r, **{"html": None, "pdf": None, **links.get(r["ring_id"], {})}} for r in data.rings]
    return {
        "rings": rings,
        "by_type": sorted(Counter(r["ring_type"] for r in data.rings).items()),
        "changes": sorted(Counter(r["change"] for r in data.rings).items()),
        "words": {
            "consistent": "groups of accounts with signals consistent with brushing or with coordinated malicious buying"
        },
        "run": run_metadata(data),
    }


def render_index(context: dict[str, Any]) -> str:
    """Render the batch summary from :func:`index_context`."""
    return environment().get_template("index.html.j2").render(**context)


def ring_report_html(
    store: GraphStore,
    ring_id: str,
    *,
    run_id: str | None = None,
    mask: bool = True,
    rules: RuleSet | str | Path | None = None,
) -> str:
    """One ring's report as an HTML string (for the explorer's download button).

    Parameters
    ----------
    store : GraphStore
    ring_id : str
    run_id : str, optional
        Default: the latest run.
    mask : bool, default True
        Mask personal data; False only on an analyst's explicit request (the report says so).
    rules : RuleSet or path, optional
        Penalty rules; default ``settings.rules_file``, else the shipped example.

    Raises
    ------
    graph.errors.ExportError
        No run, or the ring is not in it.
    """
    data = load_run(store, rules=configured_rules(rules), run_id=run_id, ring_ids=[ring_id], mask=mask)
    return render_ring(ring_context(data, ring_id))
