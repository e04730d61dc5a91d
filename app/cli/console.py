"""What every command shares: logging setup, progress rendering, result output.

Results go to stdout, messages and progress to stderr. With ``--log-json``
logs (and progress) are JSON lines on stderr, for schedulers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graph.progress import ProgressFn

__all__ = ["state", "setup_logging", "progress", "emit", "out", "err"]

out = Console()
err = Console(stderr=True)


class _State:
    log_json: bool = False
    debug: bool = False


state = _State()


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields are kept."""

    _skip = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._skip})
        if record.exc_info and state.debug:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(*, log_json: bool, debug: bool) -> None:
    state.log_json, state.debug = log_json, debug
    handler = logging.StreamHandler(sys.stderr)
    if log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else (logging.INFO if log_json else logging.WARNING))
    # Driver chatter (e.g. the neo4j driver's retry warnings) stays out of the user's logs.
    for noisy in ("neo4j", "urllib3", "numba", "streamlit"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@contextlib.contextmanager
def progress(description: str = "") -> Iterator[ProgressFn]:
    """A progress callback rendered as rich bars on stderr, or JSON log lines with --log-json."""
    if state.log_json or not err.is_terminal:
        log = logging.getLogger("ringwatch.progress")
        last: dict[str, float] = {}

        def to_log(stage: str, done: int, total: int | None) -> None:
            now = time.monotonic()
            if total is None or done >= total or now - last.get(stage, 0) > 2:
                last[stage] = now
                log.info(stage, extra={"stage": stage, "done": done, "total": total})

        yield to_log
        return

    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def to_bar(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(f"{description}{stage}", total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield to_bar


def emit(result: Any, *, as_json: bool, human: str | None = None) -> None:
    """Print a command's result: JSON equal to the library result, or a human summary."""
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    elif human is not None:
        out.print(human, highlight=False, markup=False)
