"""What synonym expansion costs in query latency, on both engines at scale.

N records replicated from the real cases (`bench/load_and_query.py` builds them) go into a fresh
embedded engine and into the Elasticsearch engine on a node this script starts on `--port` and
stops at the end. Then every judged query of `bench/relevance/queries.jsonl` (163 practitioners'
queries, with their crime-form filters) runs through `SearchService.search` twice per round:
with `expand=True` (the synonym dictionary and charge names of `indexing/query/rewrite.py`)
and with `expand=False`. The two runs of a query are back to back, so both see the same machine
state, and their order alternates from query to query and round to round. One warm-up round,
then `--rounds` timed rounds.

Per engine it prints p50, p99, mean and queries per second, expanded and not, and the ratio
p99(expanded) / p99(not expanded) (target ≤ 1.3), overall, for the queries the rewriter
actually changed, and per query kind; then the five queries whose expansion costs the most
(ratio of their median latencies).

    python bench/expansion_cost.py [--cases 100000] [--port 9274] [--rounds 3] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from elasticsearch import Elasticsearch  # noqa: E402

from bench.engines import Report, Table, es_settings, load_engine, start_node, stop_node  # noqa: E402
from bench.load_and_query import (  # noqa: E402
    DEFAULT_DATA,
    Latencies,
    machine_info,
    percentile,
    prepare_records,
    progress,
    summary_chars,
)
from bench.metrics import KINDS, Query, load_queries  # noqa: E402
from indexing.engines.base import Engine  # noqa: E402
from indexing.engines.elastic.engine import ElasticEngine  # noqa: E402
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.core.models import SearchRequest, SearchResult
from indexing.core.search import SearchService  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from service.state import open_engine  # noqa: E402

RESULTS_MD = REPO_ROOT / "bench/results/expansion_cost.md"
TARGET = 1.3
TOP = 5
MODES = (True, False)  # expand


@dataclass
class QueryTimes:
    """One judged query's samples in both modes, and its last answers."""

    query: Query
    expanded: Latencies
    plain: Latencies
    answer_expanded: SearchResult | None = None
    answer_plain: SearchResult | None = None

    @property
    def rewritten(self) -> bool:
        return bool(self.answer_expanded and self.answer_expanded.expansions)

    def median_ratio(self) -> float:
        plain = percentile(self.plain.samples, 0.5)
        return percentile(self.expanded.samples, 0.5) / plain if plain else float("inf")


def request(query: Query, expand: bool) -> SearchRequest:
    return SearchRequest(q=query.q, crime_form=list(query.crime_form), size=10, expand=expand)


def run_interleaved(service: SearchService, queries: list[Query], rounds: int) -> list[QueryTimes]:
    """One warm-up round, then `rounds` timed ones; each query expanded and not, back to back.

    The order of the pair alternates with the query and the round, so neither mode always runs
    on the caches the other has just warmed.
    """
    out = [QueryTimes(q, Latencies(), Latencies()) for q in queries]
    for round_no in range(rounds + 1):
        warm_up = round_no == 0
        for i, entry in enumerate(out):
            modes = MODES if (i + round_no) % 2 == 0 else MODES[::-1]
            for expand in modes:
                started = time.perf_counter()
                result = service.search(request(entry.query, expand))
                spent = time.perf_counter() - started
                if expand:
                    entry.answer_expanded = result
                else:
                    entry.answer_plain = result
                if not warm_up:
                    (entry.expanded if expand else entry.plain).add(spent)
        progress(f"  {'warm-up' if warm_up else f'round {round_no}'} done")
    return out


def pooled(entries: list[QueryTimes], expand: bool) -> Latencies:
    out = Latencies()
    for entry in entries:
        out.samples.extend((entry.expanded if expand else entry.plain).samples)
    return out


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def latency_table(name: str, times: list[QueryTimes], rounds: int) -> Table:
    table = Table(f"{name}: `SearchService.search` latency (ms), expanded vs not, one warm-up then {rounds} rounds",
                  ("queries", "n", "exp p50", "exp p99", "exp mean", "exp q/s",
                   "not p50", "not p99", "not mean", "not q/s", "p99 ratio", "mean ratio", f"p99 ≤ {TARGET}"))
    groups: list[tuple[str, list[QueryTimes]]] = [
        ("all", times),
        ("rewritten by expansion", [t for t in times if t.rewritten]),
        ("not rewritten", [t for t in times if not t.rewritten]),
    ]
    groups += [(f"kind={kind}", [t for t in times if t.query.kind == kind]) for kind in KINDS]
    for label, entries in groups:
        if not entries:
            continue
        exp, plain = pooled(entries, True).row(), pooled(entries, False).row()
        ok = "yes" if exp["p99"] <= TARGET * plain["p99"] else "NO"
        table.add(label, len(entries),
                  *(f"{exp[k]:.1f}" for k in ("p50", "p99", "mean")), f"{exp['qps']:.0f}",
                  *(f"{plain[k]:.1f}" for k in ("p50", "p99", "mean")), f"{plain['qps']:.0f}",
                  ratio(exp["p99"], plain["p99"]), ratio(exp["mean"], plain["mean"]), ok)
    samples = rounds * len(times)
    table.notes.append(f"n = queries in the group; each has {rounds} samples per mode ({samples} per mode in all). "
                       "p99 is nearest-rank over the group's samples: for a group of a few dozen samples it is "
                       "the slowest one or two. q/s = samples / time spent in them, one query at a time.")
    table.notes.append("\"Rewritten\" = the expanded search reported at least one expansion (a synonym or a charge "
                       "name); for the others `expand=True` adds only the dictionary look-up.")
    return table


def describe(result: SearchResult | None) -> str:
    if result is None or not result.expansions:
        return "-"
    parts = []
    for e in result.expansions:
        added = [*e.expansions, *(f"charge:{c}" for c in e.charges)]
        parts.append(f"{e.term}→{'/'.join(added)}")
    return "; ".join(parts)


def hits(result: SearchResult | None) -> str:
    if result is None:
        return "-"
    return f"{result.total:,}" + (" (partial)" if result.match == "partial" else "")


def top_table(name: str, times: list[QueryTimes]) -> Table:
    table = Table(f"{name}: the {TOP} queries with the largest expanded / unexpanded ratio (of median ms)",
                  ("id", "kind", "query", "expanded to", "exp median", "not median", "ratio", "exp max", "not max",
                   "hits exp", "hits not"))
    for t in sorted(times, key=lambda t: -t.median_ratio())[:TOP]:
        q = t.query.q + (f" [crime_form={','.join(t.query.crime_form)}]" if t.query.crime_form else "")
        table.add(t.query.id, t.query.kind, q, describe(t.answer_expanded),
                  f"{percentile(t.expanded.samples, 0.5) * 1000:.1f}", f"{percentile(t.plain.samples, 0.5) * 1000:.1f}",
                  f"{t.median_ratio():.2f}", f"{max(t.expanded.samples) * 1000:.1f}",
                  f"{max(t.plain.samples) * 1000:.1f}", hits(t.answer_expanded), hits(t.answer_plain))
    table.notes.append("hits = total of the last answer; \"(partial)\" = the graceful-AND fallback answered.")
    return table


def measure(name: str, engine: Engine, segmenter: Segmenter, queries: list[Query], rounds: int,
            report: Report) -> None:
    progress(f"judged queries on {name}, expanded and not …")
    before = os.getloadavg()[0]
    times = run_interleaved(SearchService(engine, segmenter), queries, rounds)
    report.preamble.append(f"{name}: load average {before:.1f} before its queries, {os.getloadavg()[0]:.1f} after")
    report.tables.append(latency_table(name, times, rounds))
    report.tables.append(top_table(name, times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="records to load (default 100000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file of the real cases")
    parser.add_argument("--port", type=int, default=9274, help="port of the node this script starts (default 9274)")
    parser.add_argument("--es-heap", default="1g", help="heap of the node this script starts (default 1g)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up (default 3)")
    parser.add_argument("--markdown", action="store_true",
                        help=f"also print markdown and write it to {RESULTS_MD.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2
    command = ("python bench/expansion_cost.py " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    queries = load_queries()
    segmenter = Segmenter()

    progress(f"preparing {args.cases:,} records …")
    started = time.perf_counter()
    records = prepare_records(args.data, args.cases)
    prepare_s = time.perf_counter() - started
    report = Report(command, [machine_info() + f", Elasticsearch node heap {args.es_heap}",
                              f"{args.cases:,} cases replicated from the real ones, {summary_chars(records):,} "
                              f"summary chars; records prepared in {prepare_s:.1f} s",
                              f"{len(queries)} judged queries (`bench/relevance/queries.jsonl`) with their "
                              "crime-form filters, size 10, facets and highlights as a user gets them"])

    elastic: ElasticEngine | None = None
    embedded: EmbeddedEngine | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-expansion-") as tmp:
            progress(f"starting Elasticsearch on port {args.port} …")
            url = start_node(args.port, args.es_heap)
            client = Elasticsearch(url, request_timeout=30)
            nodes = client.nodes.info(node_id="_all", metric="_none", filter_path="nodes.*.version")["nodes"]
            report.preamble[0] += f", Elasticsearch {', '.join(sorted({n['version'] for n in nodes.values()}))}"
            client.close()

            progress(f"loading {len(records):,} records into the embedded engine …")
            embedded = EmbeddedEngine(Path(tmp) / "expansion.db", segmenter)
            embedded_s = load_engine(embedded, records, "embedded")
            progress("loading into the Elasticsearch engine …")
            opened = open_engine(es_settings(url, f"bench-expansion-{os.getpid()}"), segmenter)
            assert isinstance(opened, ElasticEngine)
            elastic = opened
            elastic_s = load_engine(elastic, records, "elasticsearch")
            report.preamble.append(f"loads: embedded {embedded_s:.0f} s, elasticsearch {elastic_s:.0f} s")
            del records

            measure("embedded", embedded, segmenter, queries, args.rounds, report)
            measure("elasticsearch", elastic, segmenter, queries, args.rounds, report)
            embedded.close()
            embedded = None
    finally:
        if elastic is not None:
            try:
                elastic.drop()
                elastic.close()
            except Exception as exc:  # noqa: BLE001  (the node goes away next anyway)
                progress(f"could not drop the Elasticsearch alias: {exc}")
        if embedded is not None:
            embedded.close()
        progress(f"stopping Elasticsearch on port {args.port} …")
        stop_node(args.port)

    text = report.text()
    print(text)
    if args.markdown:
        markdown = report.markdown().replace("# Engines and peers", "# Cost of synonym expansion", 1)
        print("\n" + markdown)
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text(markdown, encoding="utf-8")
        progress(f"written to {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
