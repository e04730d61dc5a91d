"""When things happen: the period, local hour weights, order times and courier hours.

All times are epoch seconds; the marketplace runs on Asia/Shanghai time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import join

__all__ = ["DAY", "DAYS", "DOUBLE_11", "DOUBLE_12", "END", "FARM_W", "HOUR", "HOUR_W", "START", "TZ", "WORK_W", "YEAR",
           "business_hours", "day_weights", "iso_local", "local_times"]

TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991
START = int(datetime(2025, 9, 1, tzinfo=TZ).timestamp())  # a Monday
DAYS = 104  # orders are placed from Sep 1 to Dec 13 (local)
END = START + (DAYS + 1) * 86400  # the export is taken at Dec 15 00:00 local
HOUR, DAY, YEAR = 3600, 86400, 365 * 86400
DOUBLE_11, DOUBLE_12 = 71, 102  # day numbers of Nov 11 and Dec 12

# Local hour-of-day weights of honest ordering (evening peak, quiet small hours).
HOUR_W = np.array([2.2, 1.2, .6, .35, .25, .3, .7, 1.5, 2.6, 3.6, 4.5, 4.6,
                   4.1, 4.0, 4.4, 4.5, 4.3, 4.0, 4.1, 5.1, 6.6, 7.6, 7.1, 4.6])
WORK_W = np.where((np.arange(24) >= 9) & (np.arange(24) <= 18), 1.0, 0.05)
FARM_W = np.where((np.arange(24) >= 10) & (np.arange(24) <= 23), 1.0, 0.1)


def day_weights() -> np.ndarray:
    """Each day's share of honest orders: weekends, the National Day holiday, Double 11 and Double 12."""
    w = np.ones(DAYS)
    dow = np.arange(DAYS) % 7
    w[dow >= 5] *= 1.15
    w[30:37] *= 0.8  # National Day holiday: people travel
    w[61:71] *= 1.3  # Double 11 pre-sale
    w[DOUBLE_11] *= 9.0
    w[DOUBLE_11 + 1] *= 1.6
    w[DOUBLE_12] *= 3.0
    return w / w.sum()


def local_times(rng: np.random.Generator, days: np.ndarray, hour_w: np.ndarray) -> np.ndarray:
    """Epoch seconds at the given day numbers, hour drawn from local hour weights."""
    cdf = np.cumsum(hour_w) / hour_w.sum()
    hours = np.searchsorted(cdf, rng.random(len(days)), side="right")
    return START + days.astype(np.int64) * DAY + hours * HOUR + rng.integers(0, HOUR, len(days))


def iso_local(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """ISO 8601 local time with the +08:00 offset, null where not valid."""
    local = pa.array(seconds + 8 * HOUR, pa.timestamp("s"), mask=None if valid is None else ~valid)
    return join(pc.utf8_replace_slice(local.cast(pa.string()), 10, 11, "T"), "+08:00")


def business_hours(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """Couriers scan parcels between 8:00 and 21:00 local: later times move to the next morning."""
    local = (ts + 8 * HOUR) % DAY
    early, late = local < 8 * HOUR, local >= 21 * HOUR
    morning = 8 * HOUR + rng.integers(0, 4 * HOUR, len(ts))
    return np.select([early, late], [ts - local + morning, ts - local + DAY + morning], ts)
