"""Fault test: searches keep answering while one node of a 3-node cluster is killed (kill -9).

The project's script starts a real cluster on HTTP ports 9260-9262. 20,000 records (the real
CAIL2018 cases, replicated under new ids) go into an index of 3 primaries with 1 replica each.
A background loop searches through the search core while node 9261 is killed; the node is then
restarted and the cluster must return to green with every record still there. A cluster that
cannot start fails the test with the script's message; it is never skipped.

The figures are printed (`pytest -s`) and written to bench/results/es_fault.md.
"""

from __future__ import annotations

import platform
import subprocess
import threading
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import pytest

from conftest import cail_records
from indexing.engines.base import Record
from indexing.engines.elastic.engine import SEARCH_RETRIES, SEARCH_RETRY_PAUSE, ElasticEngine
from indexing.errors import CasedigestError
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from service.settings import Settings
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "scripts/elasticsearch.sh")
RESULTS = ROOT / "bench/results/es_fault.md"
BASE_PORT = 9260
PORTS = [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2]
VICTIM = BASE_PORT + 1  # never the first node, which the client lists first
ALIAS = "fault-test"
RECORDS = 20_000
BATCH = 2_000
LOOP_SECONDS = 45.0
LOOP_MAX_ITERATIONS = 5_000
KILL_AFTER = 5.0
GREEN_WITHIN = 90.0
COMMAND = "python -m pytest tests/test_elastic_cluster.py -q -s"

QUERIES = [
    "盗窃 手机", "故意伤害 轻伤", "贩卖 甲基苯丙胺", "醉酒驾驶 机动车", "交通肇事 逃逸", "信用卡 透支",
    "开设 赌场", "寻衅滋事", "抢劫 持刀", "滥伐 林木", "合同诈骗", "妨害公务 民警", '"非法吸收公众存款"',
    "容留 吸毒", "收受 贿赂", "被告人 供述", "掩饰 隐瞒 犯罪所得", "毒品 -贩卖", "诈骗 OR 盗窃", "",
]


def script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster_urls() -> Iterator[str]:
    try:
        started = script("cluster", str(len(PORTS)), "--base-port", str(BASE_PORT), timeout=600)
        if started.returncode != 0:
            pytest.fail(f"the 3-node cluster could not be started by {SCRIPT}:\n{started.stderr[-4000:]}",
                        pytrace=False)
        yield started.stdout.strip().splitlines()[-1]
    finally:
        for port in PORTS:
            script("stop", "--port", str(port), timeout=120)


def replicated_cases(n: int) -> list[Record]:
    """The real cases again and again, each round under new ids (`<id>-r<round>`)."""
    cases = cail_records()
    assert len(cases) == 4496
    rounds = (n + len(cases) - 1) // len(cases)
    copies = (c.model_copy(update={"id": f"{c.id}-r{r}"}) for r in range(rounds) for c in cases)
    return list(islice(copies, n))


@dataclass
class LoopReport:
    ok: int = 0
    wrong: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    ok_after_kill: int = 0
    failed_after_kill: int = 0
    slowest_after_kill: float = 0.0


def search_loop(service: SearchService, expected: dict[str, int], killed: threading.Event,
                report: LoopReport) -> None:
    """Search for LOOP_SECONDS (at most LOOP_MAX_ITERATIONS searches); count what happened."""
    deadline = time.monotonic() + LOOP_SECONDS
    for i in range(LOOP_MAX_ITERATIONS):
        if time.monotonic() >= deadline:
            return
        q = QUERIES[i % len(QUERIES)]
        after_kill = killed.is_set()
        started = time.perf_counter()
        try:
            result = service.search(SearchRequest(q=q, size=10))
        except CasedigestError as exc:
            report.failures.append(f"{q!r}: {exc.code}: {exc.message}")
            report.failed_after_kill += after_kill
            continue
        except Exception as exc:  # anything else is a failure too, and must be named
            report.failures.append(f"{q!r}: {exc.__class__.__name__}: {exc}")
            report.failed_after_kill += after_kill
            continue
        took = time.perf_counter() - started
        report.latencies.append(took)
        if result.total != expected[q]:
            # A silently partial answer (shards missing) is a failure as well.
            report.wrong.append(f"{q!r}: total {result.total}, expected {expected[q]}")
            continue
        report.ok += 1
        if after_kill:
            report.ok_after_kill += 1
            report.slowest_after_kill = max(report.slowest_after_kill, took)


def cluster_green(engine: ElasticEngine, nodes: int, within: float) -> dict[str, object]:
    health = engine.client.options(request_timeout=within + 10).cluster.health(
        wait_for_status="green", wait_for_nodes=str(nodes), wait_for_no_relocating_shards=True,
        timeout=f"{int(within)}s")
    return dict(health.body)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] if ordered else 0.0


@pytest.mark.real_data
def test_searches_survive_a_killed_node(cluster_urls: str, segmenter: Segmenter) -> None:
    settings = Settings(
        engine="elasticsearch", elasticsearch_url=cluster_urls, elasticsearch_index=ALIAS,
        elasticsearch_shards=3, elasticsearch_replicas=1, elasticsearch_timeout=5,
    )
    engine = open_engine(settings, segmenter)
    assert isinstance(engine, ElasticEngine)
    engine.drop()
    engine.close()
    engine = open_engine(settings, segmenter)
    assert isinstance(engine, ElasticEngine)
    try:
        records = replicated_cases(RECORDS)
        sample_ids = [r.id for r in records[::997]] + [records[-1].id]
        t0 = time.perf_counter()
        for start in range(0, RECORDS, BATCH):
            assert set(engine.upsert(records[start:start + BATCH])) == {"inserted"}
        engine.finish_writes()
        load_seconds = time.perf_counter() - t0
        health = cluster_green(engine, len(PORTS), GREEN_WITHIN)
        assert health["status"] == "green", health
        assert sum(engine.count_records().values()) == RECORDS

        service = SearchService(engine, segmenter)
        expected = {q: service.search(SearchRequest(q=q, size=10)).total for q in QUERIES}
        assert all(total > 0 for total in expected.values()), expected

        report = LoopReport()
        killed = threading.Event()
        loop = threading.Thread(target=search_loop, args=(service, expected, killed, report), daemon=True)
        loop.start()
        time.sleep(KILL_AFTER)
        ok_before_kill = report.ok
        kill = script("kill-node", str(VICTIM), timeout=60)
        killed.set()
        assert kill.returncode == 0, kill.stderr
        loop.join(LOOP_SECONDS + 60)
        assert not loop.is_alive(), "the search loop did not end"
        health_during = engine.client.cluster.health().body

        restart_started = time.perf_counter()
        restarted = script("restart-node", str(VICTIM), "--timeout", str(int(GREEN_WITHIN)), timeout=GREEN_WITHIN + 30)
        assert restarted.returncode == 0, restarted.stderr[-4000:]
        node_back = time.perf_counter() - restart_started
        health = cluster_green(engine, len(PORTS), max(1.0, GREEN_WITHIN - node_back))
        to_green = time.perf_counter() - restart_started

        count_after = sum(engine.count_records().values())
        found = engine.get_many(sample_ids)

        figures = [
            ("records loaded (3 shards × 1 replica)", f"{RECORDS:,} in {load_seconds:.1f} s ({RECORDS / load_seconds:.0f}/s)"),
            ("search loop", f"{LOOP_SECONDS:.0f} s, node {VICTIM} killed (kill -9) after {KILL_AFTER:.0f} s"),
            ("searches before the kill", f"{ok_before_kill}"),
            ("searches answered after the kill", f"{report.ok_after_kill}"),
            ("failed searches", f"{len(report.failures)} ({report.failed_after_kill} after the kill)"),
            ("wrong totals (partial answers)", f"{len(report.wrong)}"),
            ("search latency, whole loop", f"p50 {percentile(report.latencies, 0.5) * 1000:.0f} ms, "
                                           f"p99 {percentile(report.latencies, 0.99) * 1000:.0f} ms, "
                                           f"max {max(report.latencies, default=0) * 1000:.0f} ms"),
            ("slowest search after the kill", f"{report.slowest_after_kill * 1000:.0f} ms"),
            ("cluster while the node was down", f"{health_during['status']}, {health_during['number_of_nodes']} nodes"),
            ("restart-node until the node answered", f"{node_back:.1f} s"),
            ("seconds to green after restart", f"{to_green:.1f} s ({health['status']}, {health['number_of_nodes']} nodes)"),
            ("records after", f"{count_after:,}"),
            ("sample ids retrievable", f"{len(found)}/{len(sample_ids)}"),
        ]
        table = "\n".join(f"| {name} | {value} |" for name, value in figures)
        print("\nElasticsearch fault test\n" + "\n".join(f"  {name}: {value}" for name, value in figures))
        for failure in report.failures[:20] + report.wrong[:20]:
            print(f"  failure: {failure}")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            f"`{COMMAND}`\n\n"
            f"{platform.python_implementation()} {platform.python_version()}, Linux {platform.release()}; "
            f"3 nodes on one machine (HTTP {PORTS[0]}–{PORTS[-1]}, heap 512 MB each), "
            f"client over all three URLs (max_retries=3, retry_on_timeout, request timeout 5 s); "
            f"a search part failing on the node side (5xx) is asked again up to {SEARCH_RETRIES} times "
            f"within {SEARCH_RETRY_PAUSE * 3:.2f} s\n\n"
            f"| measure | figure |\n|---|---|\n{table}\n"
            + "".join(f"\n- failure: {f}" for f in report.failures[:20] + report.wrong[:20]),
            "utf-8",
        )

        assert report.failures == [], report.failures[:20]
        assert report.wrong == [], report.wrong[:20]
        assert report.ok_after_kill > 0, "no search ran while the node was down"
        assert health["status"] == "green" and health["number_of_nodes"] == len(PORTS), health
        assert count_after == RECORDS
        assert sorted(found) == sorted(sample_ids)
    finally:
        # The index goes with the cluster: a new `cluster` start wipes the nodes' folders.
        engine.close()
