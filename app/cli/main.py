"""``ringwatch``: the command line. Exit codes: 0 success, 1 failed run, 2 bad usage."""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from typing import Annotated

import typer

from app.cli.console import err, setup_logging, state
from graph import __version__
from graph.errors import RingWatchError

# Subcommand name -> module defining ``command``. Modules import heavy libraries lazily.
COMMANDS: dict[str, str] = {
    "demo": "app.cli.cmd_demo",
    "generate": "app.cli.cmd_generate",
    "ingest": "app.cli.cmd_ingest",
    "detect": "app.cli.cmd_detect",
    "export": "app.cli.cmd_export",
    "batch": "app.cli.cmd_batch",
    "app": "app.cli.cmd_app",
}

cli = typer.Typer(
    name="ringwatch",
    help="Find brushing rings and coordinated malicious buyers in marketplace order exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"ringwatch {__version__}")
        raise typer.Exit(0)


@cli.callback()
def root(
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    setup_logging(log_json=log_json, debug=debug)


for _name, _module in COMMANDS.items():
    cli.command(_name)(importlib.import_module(_module).command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code. Usage errors (exit 2) and --help are Typer's own."""
    try:
        cli(args=argv, prog_name="ringwatch")  # standalone: exits by itself on success or bad usage
    except RingWatchError as exc:
        if state.log_json:
            logging.getLogger("ringwatch").error(str(exc), extra={"error": type(exc).__name__})
        else:
            err.print(f"error: {exc}", highlight=False, markup=False)
        if state.debug:
            traceback.print_exc()
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(1)


if __name__ == "__main__":
    main()
