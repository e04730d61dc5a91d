"""Who holds a batch lock, and whether that process still lives (shared by every store)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

__all__ = ["new_holder", "holder_is_alive", "describe_holder"]


def new_holder(run_id: str) -> dict[str, Any]:
    """The lock holder record of this process."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
    }


def holder_is_alive(holder: dict[str, Any]) -> bool:
    """False only when the holder ran on this host and its process is gone.

    A holder on another host cannot be checked from here, so it counts as alive.
    """
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def describe_holder(holder: dict[str, Any]) -> str:
    return (
        f"host {holder.get('host')}, pid {holder.get('pid')}, started {holder.get('started_at')}, "
        f"run {holder.get('run_id')}"
    )
