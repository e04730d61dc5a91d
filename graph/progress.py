"""Progress as a callback: library code reports, only ``app/`` renders.

A callback is ``on_progress(stage, done, total)``; ``total`` is ``None`` when
unknown. Library functions accept ``on_progress=None`` and call
:func:`report`, which does nothing when no callback was given.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressFn", "report"]

ProgressFn = Callable[[str, int, int | None], None]


def report(on_progress: ProgressFn | None, stage: str, done: int, total: int | None = None) -> None:
    """Forward a progress step to the callback, if any."""
    if on_progress is not None:
        on_progress(stage, done, total)
