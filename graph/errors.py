"""One error family. Every message says what went wrong and what to do."""

from __future__ import annotations

__all__ = [
    "RingWatchError",
    "ConfigError",
    "StoreUnavailable",
    "StoreError",
    "InputFileError",
    "RejectRateExceeded",
    "EmptyGraphError",
    "BatchLocked",
    "ExportError",
    "PdfError",
]


class RingWatchError(Exception):
    """Base of all errors RingWatch raises on purpose (CLI exit code 1)."""


class ConfigError(RingWatchError):
    """A setting, store URI or config file is wrong."""


class StoreUnavailable(RingWatchError):
    """The graph store cannot be reached or opened (message names the URI, never secrets)."""


class StoreError(RingWatchError):
    """The store refused an operation (schema too new, constraint broken ...)."""


class InputFileError(RingWatchError):
    """An input file cannot be read at all; nothing from it was loaded."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RejectRateExceeded(RingWatchError):
    """More rows were rejected than --max-reject-rate allows."""


class EmptyGraphError(RingWatchError):
    """Detection was asked to run on a store holding no orders."""


class BatchLocked(RingWatchError):
    """Another batch holds the store's lock."""


class ExportError(RingWatchError):
    """The store holds nothing to export yet, or an asked-for ring is not in the run."""


class PdfError(RingWatchError):
    """A PDF report could not be printed (no browser, or the browser failed)."""
