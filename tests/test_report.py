"""Ring reports (issue 6): content, safety of untrusted text, masking, penalty rules, PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from graph.errors import ConfigError
from graph.report import export_run, merge_windows, ring_report_html, write_csv
from graph.report.csvsafe import neutralise
from graph.report.mask import mask_address, mask_ip, mask_name, mask_phone, scrub_text
from graph.report.penalty import DEFAULT_RULES, assess, load_rules
from graph.settings import override_settings
from tests.test_export import FORMULA, RAW_PHONE, SCRIPT, read_csv, sample_store

SECTIONS = (
    "Summary", "Why it was flagged", "The ring's graph", "Order timeline", "Shared identifiers", "Orders",
    "Reviews and refunds", "Analyst decisions and notes", "Penalty exposure of the target sellers", "Run",
)  # fmt: skip


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The sample store exported twice: masked (the default) and with mask=False."""
    base = tmp_path_factory.mktemp("reports")
    store = sample_store(base / "store.duckdb")
    export_run(store, base / "masked", formats=["html"])
    export_run(store, base / "raw", formats=["html", "csv"], mask=False)
    return store, base


def page(base, variant: str, name: str) -> str:
    return (base / variant / "reports" / name).read_text(encoding="utf-8")


def test_reports_of_published_rings_render_every_section(reports):
    _store, base = reports
    html = page(base, "masked", "R-1.html")
    for heading in SECTIONS:
        assert f">{heading}</h2>" in html, heading
    assert "R-1" in html and "Possible brushing ring" in html
    assert "Accounts share identifiers few other accounts use" in html  # signal in plain words
    assert "the most specific is used by 4 accounts" in html  # ... with its numbers
    assert "好店旗舰店" in html  # target seller's name, Chinese intact
    assert html.count("<svg") == 2  # graph and timeline
    assert "analyst-li" in html and "needs review" in html
    assert "2nd" in html  # R-0 against s1 was confirmed earlier: this would be a second offence
    assert "2026-03-05" in html  # the run's own time, not the wall clock
    assert "0.1.0" in html  # software version
    r2 = page(base, "masked", "R-2.html")
    assert "Possible coordinated malicious buyers" in r2 and "empty package" in r2
    assert "Not applicable" in r2  # victims of malicious buyers face no penalty
    index = page(base, "masked", "index.html")
    assert 'href="R-1.html"' in index and 'href="R-2.html"' in index
    assert index.index("R-1.html") < index.index("R-2.html")  # highest score first


def test_evidence_language_never_accuses(reports):
    _store, base = reports
    for name in ("R-1.html", "R-2.html", "index.html"):
        text = page(base, "masked", name).lower()
        assert "fraudster" not in text and "guilty" not in text
        assert "not a finding that any person acted wrongly" in text


def test_untrusted_text_comes_out_inert(reports):
    _store, base = reports
    for variant in ("masked", "raw"):
        html = page(base, variant, "R-1.html")
        assert "<script" not in html.lower()
        assert SCRIPT.replace("<", "&lt;").replace(">", "&gt;") in html
        assert "&lt;b&gt;dev-A&lt;/b&gt;" in html  # an analyst's note is data too
    raw = page(base, "raw", "R-1.html")
    assert "=HYPERLINK(&#34;http://x&#34;)" in raw  # unmasked receiver name: shown, escaped
    assert 'href="http' not in raw


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", FORMULA])
def test_spreadsheet_formulas_are_neutralised(cell, tmp_path):
    assert neutralise(cell) == "'" + cell
    write_csv(pa.table({"receiver_name": [cell], "n": [-1.5]}), tmp_path / "x.csv")
    rows = read_csv(tmp_path / "x.csv")
    assert rows == [["receiver_name", "n"], ["'" + cell, "-1.500000"]]  # numbers stay numbers


def test_csv_values_have_one_fixed_form(tmp_path):
    when = datetime(2026, 3, 1, 20, 15, 7, 123456, tzinfo=UTC)
    data = pa.table({"x": [0.5, -1e-9, None, float("nan")], "t": [when, None, when, when], "n": [1, None, 3, 4]})
    write_csv(data, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == (
        b"x,t,n\r\n0.500000,2026-03-01T20:15:07Z,1\r\n0.000000,,\r\n,2026-03-01T20:15:07Z,3\r\n,2026-03-01T20:15:07Z,4\r\n"
    )


def test_plain_text_is_left_alone():
    assert neutralise("张三") == "张三" and neutralise("a=b") == "a=b" and neutralise("") == ""


def test_html_references_nothing_external(reports):
    _store, base = reports
    pages = list((base / "masked" / "reports").glob("*.html")) + list((base / "raw" / "reports").glob("*.html"))
    assert len(pages) == 6
    link = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I)
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert not link.search(html), path
        assert "<link" not in html and "@import" not in html and "<script" not in html.lower(), path
        assert "default-src 'none'" in html  # and the page forbids fetching anything anyway


def test_masking_rules():
    assert mask_phone(RAW_PHONE) == "138****5678" and mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    masked = mask_address("浙江省杭州市西湖区文三路100号3单元")
    assert re.fullmatch(r"浙江省杭州市西湖区 #[0-9a-f]{6}", masked)
    assert mask_address("浙江省杭州市西湖区文三路100号3单元") == masked  # same address, same text
    assert mask_address("浙江省杭州市西湖区文三路102号") != masked
    assert mask_address("杭州市幸福小区3栋").startswith("杭州市 #")  # 小区 is an estate, not a district
    assert mask_ip("10.1.2.3") == "10.1.2.0/24"
    assert scrub_text(f"call {RAW_PHONE} from 10.1.2.3") == "call 138****5678 from 10.1.2.0/24"


def test_masking_is_on_unless_turned_off(reports):
    store, base = reports
    masked, raw = page(base, "masked", "R-1.html"), page(base, "raw", "R-1.html")
    assert RAW_PHONE not in masked and "10.1.2.3" not in masked and "张三" not in masked
    assert "Personal data is masked" in masked
    assert RAW_PHONE in raw and "张三" in raw and "NOT masked" in raw
    assert RAW_PHONE not in ring_report_html(store, "R-1")  # the explorer's download masks too
    assert RAW_PHONE in ring_report_html(store, "R-1", mask=False)


def test_demotion_windows_merge_as_the_rules_say():
    windows = merge_windows([date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 10)], days=30)
    assert [(w.start, w.end, w.days) for w in windows] == [(date(2026, 1, 1), date(2026, 2, 8), 39)]
    apart = merge_windows([date(2026, 1, 1), date(2026, 3, 1)], days=30)
    assert [w.days for w in apart] == [30, 30]


@pytest.mark.parametrize(
    ("fake_trades", "offence", "points"),
    [(95, 1, 0), (96, 1, 12), (95, 2, 0), (120, 2, 12), (95, 3, 12), (96, 3, 48), (10, 4, 48), (10, 9, 48)],
)
def test_points_follow_the_example_rule_set(fake_trades, offence, points):
    assert load_rules().points(fake_trades, offence) == points


def test_large_scale_brushing_in_a_short_period_costs_48_points():
    rules = load_rules()
    burst = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=20 * i) for i in range(rules.large_scale_min_fake_trades)]
    exposure = assess(rules, seller_id="s1", trade_times=burst, finding=date(2026, 1, 5))
    assert exposure.large_scale and exposure.points == 48 and exposure.offence == 1
    spread = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(rules.large_scale_min_fake_trades)]
    assert assess(rules, seller_id="s1", trade_times=spread, finding=date(2026, 1, 5)).points == 12  # >= 96, 1st
    assert not assess(rules, seller_id="s1", trade_times=spread, finding=date(2026, 1, 5)).large_scale


def test_a_users_rule_file_is_used(reports, tmp_path):
    store, _base = reports
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    mine = tmp_path / "strict.toml"
    mine.write_text(
        text.replace("threshold = 96", "threshold = 10").replace('name = "Example', 'name = "Strict'), encoding="utf-8"
    )
    with override_settings(rules_file=mine):
        export_run(store, tmp_path / "out", formats=["html"], ring_ids=["R-1"])
    html = (tmp_path / "out" / "reports" / "R-1.html").read_text(encoding="utf-8")
    assert "Strict marketplace rules" in html and "at or above 10" in html
    assert "<td class=\"num\">12</td>" in html  # 12 fake trades >= 10 at a 2nd offence: 12 points


def test_a_broken_rule_file_says_what_is_wrong(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[fake_trades]\nthreshold = 96\n[[tiers]]\nfirst = 2\nbelow_threshold = 0\nat_or_above_threshold = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="large_scale"):
        load_rules(bad)
    with pytest.raises(ConfigError, match="not valid TOML"):
        (tmp_path / "x.toml").write_text("threshold = = 1", encoding="utf-8")
        load_rules(tmp_path / "x.toml")


def test_pdf_has_pages_and_the_rings_evidence(reports, tmp_path):
    from graph.report.pdf import find_browser

    if find_browser() is None:
        pytest.skip("PDF reports need Chromium (apt-get install chromium; ./dev test installs it)")
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("reading the PDF needs pdftotext and pdfinfo (apt-get install poppler-utils)")
    store, _base = reports
    result = export_run(store, tmp_path / "out", formats=["pdf"], ring_ids=["R-1"])
    assert result.files == ("reports/R-1.pdf",)
    pdf = tmp_path / "out" / "reports" / "R-1.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "R-1" in text
    for signal in ("shared_identifiers", "five_star_reviews"):
        assert signal in text
    assert "好店旗舰店" in text  # Chinese renders (fonts-noto-cjk)
    assert RAW_PHONE not in text and "138****5678" in text
