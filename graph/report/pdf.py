"""PDF reports: the HTML report printed by headless Chromium.

Chromium was chosen over WeasyPrint because it is already on every machine
that runs the browser tests, renders the report exactly as an analyst's
browser shows it (inline SVG, CJK text through fontconfig's Noto CJK), and
needs no extra Python packages or native libraries. Each report is printed
by its own short-lived browser with a throw-away profile, no network (DNS
resolves nothing, background services off) and a time limit; the report's
Content-Security-Policy already forbids fetching or running anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graph.errors import PdfError
from graph.progress import ProgressFn, report

__all__ = ["BROWSERS", "QUIET_FLAGS", "find_browser", "html_to_pdf"]

BROWSERS: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# How RingWatch starts Chromium anywhere (reports, browser tests, benchmarks): no sandbox
# (containers and root cannot start it; our pages run no untrusted script) and no calls home.
QUIET_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_FLAGS: tuple[str, ...] = (
    "--headless",
    *QUIET_FLAGS,
    "--disable-extensions",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes the renderer
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing to fetch, ever
    "--no-pdf-header-footer",
    "--print-to-pdf-no-header",  # the same, for Chromium before 120
)


def find_browser(browser: str | None = None) -> str | None:
    """The Chromium executable to print with: ``browser`` if given, else the first of :data:`BROWSERS` on PATH."""
    if browser:
        return shutil.which(browser) or (browser if Path(browser).is_file() else None)
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    return None


def _print_one(browser: str, html: Path, pdf: Path, timeout: float) -> Path:
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ringwatch-chromium-") as profile:
        partial = Path(profile) / "out.pdf"
        cmd = [browser, *_FLAGS, f"--user-data-dir={profile}/p", f"--print-to-pdf={partial}", html.resolve().as_uri()]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            # Chromium forks helpers: end the whole process group it leads, not just the main process.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PdfError(f"{browser} did not print {html.name} within {timeout:.0f} s") from exc
        if not partial.is_file() or partial.read_bytes()[:5] != b"%PDF-":
            tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"{browser} could not print {html.name} (exit {proc.returncode}): {' | '.join(tail)}")
        shutil.move(str(partial), pdf.with_suffix(".pdf.tmp"))
    os.replace(pdf.with_suffix(".pdf.tmp"), pdf)
    return pdf


def html_to_pdf(
    jobs: Sequence[tuple[Path, Path]],
    *,
    browser: str | None = None,
    timeout: float = 120.0,
    workers: int = 2,
    on_progress: ProgressFn | None = None,
) -> list[Path]:
    """Print HTML files to PDF files.

    Parameters
    ----------
    jobs : sequence of (html, pdf) paths
        Each HTML file and the PDF to write (replaced only when printed completely).
    browser : str, optional
        Chromium executable; default the first of :data:`BROWSERS` on PATH.
    timeout : float, default 120
        Seconds one file may take.
    workers : int, default 2
        Browsers printing at once.
    on_progress : callable, optional
        ``on_progress("pdf", done, total)``.

    Returns
    -------
    list of pathlib.Path
        The PDFs written, in the order of ``jobs``.

    Raises
    ------
    graph.errors.PdfError
        No Chromium was found, or it failed on a file.
    """
    if not jobs:
        return []
    exe = find_browser(browser)
    if exe is None:
        raise PdfError(
            "PDF reports need Chromium: install it (Debian/Ubuntu: apt-get install chromium; "
            "./dev test installs it) or leave pdf out of --format"
        )
    done = 0
    report(on_progress, "pdf", 0, len(jobs))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, os.cpu_count() or 1, len(jobs)))) as pool:
        futures = [pool.submit(_print_one, exe, Path(h), Path(p), timeout) for h, p in jobs]
        written = []
        for future in futures:
            written.append(future.result())
            done += 1
            report(on_progress, "pdf", done, len(jobs))
    return written
