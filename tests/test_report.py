"""`shopstream report` on real stack data, opened by headless Chromium (Debian's chromium + chromedriver).

One hour of events goes through the real producer into Kafka, then both paths: the stream's own
transforms into bronze and the hourly batch into the warehouse, mart and ledger; the local
real-time consumer into OpenSearch (indices under a prefix of this module). The page is checked
in the browser: every chart is drawn with the expected marks, nothing is logged to the console,
no request leaves the page, and every number shown equals what the mart and OpenSearch hold
(read here with SQL and searches of the test's own, not with the report's code).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shopstream.dimensions import DIMENSIONS, SERIES_VIS
from tests.batch_helpers import REPO, ingest, produce

pytestmark = pytest.mark.slow

CHROMEDRIVER = "/usr/bin/chromedriver"
NETWORK_SCHEMES = {"http", "https", "ws", "wss", "ftp"}
# the documents' field behind each mart dimension (what the test searches; the report uses the
# dashboards' visualizations)
OS_FIELDS = {
    ("users", "gender"): ("gender",),
    ("users", "region"): ("address",),
    ("users", "email_domain"): ("email_domain",),
    ("orders", "first_category"): ("first_category",),
    ("orders", "second_category"): ("first_category", "second_category"),
    ("orders", "region"): ("user_region",),
    ("orders", "gender"): ("user_gender",),
}
MART = {"users": ("signups_hourly", "signups"), "orders": ("orders_hourly", "orders")}


@dataclass
class Pipeline:
    settings: Any
    hour: datetime
    prefix: str
    acked: dict[str, int]


@pytest.fixture(scope="module")
def pipeline(stack, spark, tmp_path_factory) -> Iterator[Pipeline]:  # type: ignore[no-untyped-def]
    from shopstream import batch
    from shopstream.realtime.consumer import run
    from shopstream.realtime.opensearch import client
    from shopstream.realtime.options import RunOptions

    lake = str(tmp_path_factory.mktemp("lake"))
    settings = stack.model_copy(update={"lake": stack.lake.model_copy(update={"root": lake})})
    hour = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=int(uuid.uuid4().int % 8000))
    seed = uuid.uuid4().int % 1_000_000
    summary = produce(settings, 1500, hour + timedelta(minutes=1), seed=seed, step="2s")
    ingest(spark, settings)
    batch.run_hour(settings, hour)
    prefix = f"rp{uuid.uuid4().hex[:8]}-"
    run(
        settings,
        RunOptions(index_prefix=prefix, group_id=f"{prefix}group", idle_exit=3.0, progress=False),
    )
    client(settings).indices.refresh(index=f"{prefix}*")
    yield Pipeline(settings, hour, prefix, {e: int(summary["acked"][e]) for e in ("users", "orders")})
    c = client(settings)
    c.indices.delete(index=f"{prefix}*", ignore_unavailable=True, allow_no_indices=True)
    for t in c.indices.get_index_template(name=f"{prefix}*").get("index_templates", []):
        c.indices.delete_index_template(name=t["name"])


def _report(
    p: Pipeline, start: datetime, end: datetime, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", "report", "--from", f"{start:%Y-%m-%dT%H}", "--to",
         f"{end:%Y-%m-%dT%H}", "--out", str(out), "--index-prefix", p.prefix, *extra],
        capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from shopstream.report.browser import FLAGS, chromium

    assert Path(CHROMEDRIVER).exists(), "apt-get install chromium chromium-driver (.ci/run does)"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a driver or a browser
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium()
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.add_argument("--window-size=1280,2000")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _open(driver: Any, page: Path) -> tuple[list[str], list[str]]:
    """Load the page; return the console errors and warnings, and every request to the network."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(page.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    requests = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.split(":", 1)[0] in NETWORK_SCHEMES:  # (the browser's own chrome:// pages are not)
                requests.append(url)
    return errors, requests


def _count(driver: Any, css: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({json.dumps(css)}).length"))


def _mart(p: Pipeline, entity: str, dimension: str) -> dict[str, int]:
    from shopstream import mart

    table, measure = MART[entity]
    with mart.connect(p.settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"select value, {measure} from {table} where hour_start = %s and dimension = %s",
            (p.hour, dimension),
        )
        return {v: int(n) for v, n in cur.fetchall()}


def _opensearch(p: Pipeline, entity: str, fields: tuple[str, ...]) -> dict[str, int]:
    from shopstream.realtime.opensearch import client

    def terms(i: int) -> dict[str, Any]:
        body: dict[str, Any] = {"terms": {"field": fields[i], "size": 500}}
        if i + 1 < len(fields):
            body["aggs"] = {"t": terms(i + 1)}
        return body

    res = client(p.settings).search(
        index=f"{p.prefix}shopstream-{entity}-*",
        body={
            "size": 0,
            "query": {"range": {"created_at": {"gte": p.hour.isoformat(), "lt": (p.hour + timedelta(hours=1)).isoformat()}}},
            "aggs": {"t": terms(0)},
        },
    )  # fmt: skip
    out: dict[str, int] = {}

    def walk(node: dict[str, Any], keys: tuple[str, ...]) -> None:
        for b in node["t"]["buckets"]:
            if "t" in b:
                walk(b, (*keys, b["key"]))
            else:
                out["/".join((*keys, b["key"]))] = b["doc_count"]

    walk(res["aggregations"], ())
    return out


def _cells(driver: Any, css: str, attrs: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    found = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => [arguments[1].map(a => e.getAttribute(a)), e.textContent])",
        css,
        list(attrs),
    )
    return {tuple(keys): int(text.replace(",", "")) for keys, text in found}


def test_the_page_shows_both_paths_exactly_and_renders_offline(pipeline: Pipeline, browser: Any, tmp_path: Path) -> None:  # fmt: skip
    from scipy.stats import chisquare

    from shopstream import ledger
    from shopstream.contract import load_contract

    p = pipeline
    out, png = tmp_path / "report.html", tmp_path / "report.png"
    res = _report(p, p.hour, p.hour, out, "--screenshot", str(png))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == str(out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    errors, requests = _open(browser, out)
    assert errors == [] and requests == []

    # every chart is drawn: one per series, dimension and ledger; bars = values x (2 paths + contract)
    n_series = len(SERIES_VIS)
    assert _count(browser, "figure.chart") == n_series + len(DIMENSIONS) + 2
    assert _count(browser, "figure.chart svg") == _count(browser, "figure.chart")
    contract = load_contract()
    for dim in DIMENSIONS:
        sel = f'figure[data-chart="{dim.entity}/{dim.name}"] g.mark-rect path'
        assert _count(browser, sel) == 3 * len(dim.expected(contract)), dim.name
    for entity, measure in SERIES_VIS:  # one hour: one point per path
        assert (
            _count(browser, f'figure[data-chart="{entity}/{measure}-per-hour"] g.mark-symbol.role-mark path')
            == 2
        )
    for entity in ("users", "orders"):
        stages = {e.stage for e in ledger.latest(p.settings, p.hour, entity)}
        assert _count(browser, f'figure[data-chart="{entity}/ledger"] g.mark-rect path') == len(stages)

    # the numbers equal the mart's and OpenSearch's, and both paths saw every produced event
    shown = _cells(
        browser, "td[data-path][data-dimension]", ("data-path", "data-entity", "data-dimension", "data-value")
    )
    for dim in DIMENSIONS:
        batch, realtime = (
            _mart(p, dim.entity, dim.name),
            _opensearch(p, dim.entity, OS_FIELDS[(dim.entity, dim.name)]),
        )
        for path, truth in (("batch", batch), ("realtime", realtime)):
            mine = {k[3]: n for k, n in shown.items() if k[:3] == (path, dim.entity, dim.name)}
            assert {v: n for v, n in mine.items() if n} == truth, (path, dim.name)
        assert batch == realtime, dim.name
        assert sum(batch.values()) == p.acked[dim.entity]
        # the p-value shown is scipy's chisquare on the same counts
        keys = list(dim.expected(contract))
        n = sum(batch.values())
        expected_p = chisquare(
            [batch.get(k, 0) for k in keys], [n * dim.expected(contract)[k] for k in keys]
        ).pvalue
        text = browser.execute_script(
            "return document.querySelector(arguments[0]).textContent",
            f'li[data-fit="batch"][data-entity="{dim.entity}"][data-dimension="{dim.name}"]',
        )
        assert f"p={expected_p:.3g}" in text, (text, expected_p)
    totals = _cells(browser, "td[data-total]", ("data-total", "data-path"))
    for entity in ("users", "orders"):
        assert totals[(entity, "batch")] == totals[(entity, "realtime")] == p.acked[entity]
    shown_ledger = _cells(browser, "td[data-ledger]", ("data-ledger",))
    for entity in ("users", "orders"):
        for e in ledger.latest(p.settings, p.hour, entity):
            assert shown_ledger[(f"{entity}/{p.hour:%Y-%m-%dT%H}/{e.stage}",)] == e.row_count


def test_a_period_without_data_says_so(pipeline: Pipeline, browser: Any, tmp_path: Path) -> None:
    empty = datetime(2019, 6, 1, 3, tzinfo=UTC)
    out = tmp_path / "empty.html"
    res = _report(pipeline, empty, empty + timedelta(hours=5), out)
    assert res.returncode == 0, res.stderr
    errors, requests = _open(browser, out)
    assert errors == [] and requests == []
    assert _count(browser, '[data-empty="period"]') == 1
    assert _count(browser, "figure.chart") == 0 and _count(browser, "svg") == 0


def test_a_24_hour_report_and_its_time(pipeline: Pipeline) -> None:
    from shopstream import report

    start = pipeline.hour - timedelta(hours=12)
    t0 = time.perf_counter()
    written = report.write(
        pipeline.settings, start, start + timedelta(hours=23), None, index_prefix=pipeline.prefix
    )
    seconds = time.perf_counter() - t0
    t = written.data.timings
    print(
        f"\n24-hour report: {seconds:.2f} s total, read {t['read']:.2f} s, "
        f"{int(t['chart_count'])} charts {t['charts']:.2f} s, {written.size / 1024:.0f} KiB"
    )
    assert written.path.exists() and t["chart_count"] == len(SERIES_VIS) + len(DIMENSIONS) + 2


def test_bad_periods_are_one_line_usage_errors(pipeline: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "never.html"
    res = _report(pipeline, pipeline.hour, pipeline.hour - timedelta(hours=1), out)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not out.exists()


def test_mart_ratios_prints_the_dashboards_numbers(pipeline: Pipeline) -> None:
    """`mart ratios` runs the Redash query files: every value's count and share of the hour."""
    p = pipeline
    res = subprocess.run(
        [sys.executable, "-m", "shopstream", "mart", "ratios", "--from", f"{p.hour:%Y-%m-%dT%H}", "--to",
         f"{p.hour:%Y-%m-%dT%H}"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in res.stdout.splitlines() if "│" in line]
    printed = {(r[0], int(r[1].replace(",", ""))) for r in rows if len(r) == 3}
    for dim in DIMENSIONS:
        truth = _mart(p, dim.entity, dim.name)
        assert {(v, n) for v, n in truth.items()} <= printed, dim.name
        total = sum(truth.values())
        for v, n in truth.items():
            # the same value and count can occur in another dimension's table (e.g. a region of
            # sign-ups and of orders): one of the rows that match must carry this dimension's share
            shares = [
                float(r[2]) for r in rows if len(r) == 3 and r[0] == v and int(r[1].replace(",", "")) == n
            ]
            want = round(100 * n / total, 2)
            assert any(s == pytest.approx(want, abs=0.005) for s in shares), (dim.name, v, n, want, shares)
