"""Rendering a detection run for people and tools: CSV, JSON, HTML and PDF reports.

Start with :func:`export_run` (what ``ringwatch export`` calls). The pieces
are reusable: :func:`write_csv` for any spreadsheet-safe CSV,
:class:`Masker` for personal data, :func:`ring_report_html` for one ring's
report, :func:`load_rules` / :func:`merge_windows` for penalty rule sets.
"""

from graph.report.csvsafe import neutralise, write_csv
from graph.report.export import ExportResult, export_run, report_name
from graph.report.html import ring_report_html
from graph.report.mask import Masker
from graph.report.pdf import html_to_pdf
from graph.report.penalty import RuleSet, assess, load_rules, merge_windows

__all__ = [
    "ExportResult",
    "Masker",
    "RuleSet",
    "assess",
    "export_run",
    "html_to_pdf",
    "load_rules",
    "merge_windows",
    "neutralise",
    "report_name",
    "ring_report_html",
    "write_csv",
]
