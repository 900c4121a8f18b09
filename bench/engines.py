"""Both engines side by side, with two plain Elasticsearch setups as peers: speed and quality.

Systems:
- `embedded`: `EmbeddedEngine` (tantivy + SQLite) in a fresh temporary folder;
- `elasticsearch`: `ElasticEngine` on a fresh alias, opened through `service.state.open_engine`;
- `es-standard` (peer): one `text` field of the raw title and summary, `standard` analyzer (a
  Chinese text becomes one token per character), queried with `{"match": {"text": q}}` (OR);
- `es-jieba-whitespace` (peer): the same text cut by jieba's search mode (default dictionary,
  HMM on), joined by spaces, `whitespace` analyzer, queried with a `match` (OR) over the query's
  search-mode tokens.
The peers are what a team would build in an afternoon; both go to their own indices on the same
node and are loaded with `helpers.streaming_bulk`. Both also index `crime_forms` (keyword) with
the values our engines index, so the filtered queries filter the same way everywhere.

Speed, on N records replicated from the real cases (`bench/load_and_query.py` builds them):
segmentation only (`units_for`; jieba, the reference, and the native cutter on the same first
10,000 records, so their ratio shows), the load rate of every system (our engines through `upsert` in
batches of 2,000, segmentation included) and query latency after one warm-up pass: the query
list of `load_and_query.py` through `SearchService.search` on our engines (facets, highlights and
record lookups: what a user waits for), its plain-word queries on the bare engines and as the
raw match on the peers.

Quality, on the 4,496 original cases only (replicas would fill a top 10 with copies): every
judged query of `bench/relevance/queries.jsonl` on every system, graded by `bench/metrics.py`:
nDCG@10, P@10, MRR and zero-result counts, overall, per kind and per split, and the ten worst
queries of each system.

    python bench/engines.py [--cases 100000] [--port 9270] [--rounds 10] [--warmup 60] [--markdown] [--quality-only]

It starts its own node with `scripts/elasticsearch.sh start --port P` and stops it at the end,
unless `--es-url` names a running one (its indices are deleted at the end either way).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

import jieba  # noqa: E402
from elasticsearch import Elasticsearch, helpers  # noqa: E402
from elasticsearch.exceptions import GeneralAvailabilityWarning  # noqa: E402

from bench.load_and_query import (  # noqa: E402
    BATCH_SIZE,
    DEFAULT_DATA,
    PLAIN_CLASSES,
    QUERIES,
    BenchQuery,
    Latencies,
    bare_engine_query,
    machine_info,
    merged,
    percentile,
    prepare_records,
    progress,
    run_rounds,
    summary_chars,
)
from bench.metrics import (  # noqa: E402
    NDCG,
    PRECISION,
    RESULTS,
    RR,
    SummaryRow,
    evaluate_ranking,
    judge_by_id,
    load_cases,
    load_queries,
    summarize,
)
from indexing.records.crime_forms import TAXONOMY  # noqa: E402
from indexing.engines.units import units_for  # noqa: E402
from indexing.engines.base import Engine, Record  # noqa: E402
from indexing.engines.elastic.engine import ElasticEngine  # noqa: E402
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.errors import CasedigestError  # noqa: E402
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from indexing.engines.unit_pool import UnitPool  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.state import elasticsearch_client, open_engine  # noqa: E402

ES_SCRIPT = REPO_ROOT / "scripts/elasticsearch.sh"
RESULTS_MD = REPO_ROOT / "bench/results/engines.md"
# Records both cutters segment to show the native cutter's speed-up: a sample is enough for a
# ratio, and jieba over all 100k records would add two minutes on an idle machine.
REFERENCE_SAMPLE = 10_000
LOAD_TARGETS = {"embedded": 6_500, "elasticsearch": 2_500}
SYSTEMS = ("embedded", "elasticsearch", "es-standard", "es-jieba-whitespace")
PEERS = ("es-standard", "es-jieba-whitespace")
PEER_CHUNK = 500  # documents per bulk request, as ElasticEngine sends them
WORST = 10

Ranked = tuple[int, list[str]]  # (total hits, ranked record ids)


# ---- tables ----------------------------------------------------------------------------------
@dataclass
class Table:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append(tuple(str(c) for c in cells))

    def text(self) -> str:
        widths = [max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        return "\n".join([self.title, line(self.header), *(line(r) for r in self.rows), *self.notes])

    def markdown(self) -> str:
        cell = lambda c: c.replace("|", "\\|")  # noqa: E731
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in self.rows]
        return "\n".join(lines + ([""] + [f"- {n}" for n in self.notes] if self.notes else []))


@dataclass
class Report:
    command: str
    preamble: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join([f"$ {self.command}\n" + "\n".join(self.preamble), *(t.text() for t in self.tables)])

    def markdown(self) -> str:
        head = f"`{self.command}`\n\n" + "  \n".join(self.preamble)
        return "\n\n".join(["# Engines and peers", head, *(t.markdown() for t in self.tables)]) + "\n"


# ---- the Elasticsearch node ------------------------------------------------------------------
def start_node(port: int, heap: str) -> str:
    """Start (or reuse) this script's node on `port` with the project's script; returns its URL."""
    env = {**os.environ, "CASEDIGEST_ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}"}
    done = subprocess.run([str(ES_SCRIPT), "start", "--port", str(port)], env=env, check=True,
                          stdout=subprocess.PIPE, text=True)
    return done.stdout.strip().splitlines()[-1]


def stop_node(port: int) -> None:
    subprocess.run([str(ES_SCRIPT), "stop", "--port", str(port)], check=False)


# ---- the peers -------------------------------------------------------------------------------
def peer_text(record: Record) -> str:
    """The raw text a plain setup indexes: title and summary, as our units carry them."""
    return f"{record.title}\n{record.summary or ''}"


def record_forms(record: Record) -> list[str]:
    """The crime forms our engines index for a record (`units_for` adds the ancestors)."""
    return TAXONOMY.with_ancestors(record.crime_form_codes)


class Peer:
    """A plain Elasticsearch index: one analysed `text` field and a `crime_forms` keyword."""

    def __init__(self, client: Elasticsearch, name: str, index: str) -> None:
        self.client = client
        self.name = name
        self.index = index
        self.analyzer = "standard" if name == "es-standard" else "whitespace"
        self._jieba: jieba.Tokenizer | None = None
        if name == "es-jieba-whitespace":
            self._jieba = jieba.Tokenizer()  # default dictionary, untouched by our Segmenter
            self._jieba.initialize()

    def tokens(self, text: str) -> str:
        """What goes into `text` (and into the match): the raw text, or jieba's search-mode cut."""
        if self._jieba is None:
            return text
        return " ".join(t for t in self._jieba.cut_for_search(text) if t.strip())

    def create(self) -> None:
        self.client.indices.create(index=self.index, settings={"number_of_shards": 1, "number_of_replicas": 0},
                                   mappings={"properties": {"text": {"type": "text", "analyzer": self.analyzer},
                                                            "crime_forms": {"type": "keyword"}}})

    def load(self, records: Sequence[Record]) -> int:
        """Index every record with `streaming_bulk` (jieba runs inside, as part of the load),
        then merge into one segment as our engine does after a large load: the same index shape."""
        def actions() -> Iterator[dict[str, Any]]:
            for record in records:
                yield {"_index": self.index, "_id": record.id,
                       "_source": {"text": self.tokens(peer_text(record)), "crime_forms": record_forms(record)}}

        ok = sum(1 for done, _ in helpers.streaming_bulk(self.client, actions(), chunk_size=PEER_CHUNK,
                                                          raise_on_error=True) if done)
        self.client.indices.refresh(index=self.index)
        self.client.indices.forcemerge(index=self.index, max_num_segments=1, wait_for_completion=False)
        wait_for_merges(self.client)
        return ok

    def search(self, q: str, crime_form: Sequence[str] = ()) -> Ranked:
        """Top 10 and the exact hit count (as our engines count), BM25 over `text`."""
        query: dict[str, Any] = {"match": {"text": self.tokens(q)}}
        if crime_form:
            query = {"bool": {"must": [query], "filter": [{"terms": {"crime_forms": list(crime_form)}}]}}
        response = self.client.search(index=self.index, query=query, size=10, track_total_hits=True, source=False)
        return response["hits"]["total"]["value"], [h["_id"] for h in response["hits"]["hits"]]

    def drop(self) -> None:
        self.client.options(ignore_status=404).indices.delete(index=self.index)


# ---- our engines -----------------------------------------------------------------------------
def es_settings(url: str, alias: str) -> Settings:
    # A 60 s timeout: a bulk of 2,000 cases with a busy node can take more than the default 10 s.
    return Settings(engine="elasticsearch", elasticsearch_url=url, elasticsearch_index=alias,
                    elasticsearch_timeout=60.0)


def load_engine(engine: Engine, records: Sequence[Record], label: str) -> float:
    """`upsert` in batches of 2,000, then `finish_writes`; returns the seconds it took.

    On Elasticsearch the time runs until the node has also finished the merge that
    `finish_writes` asks for after a large load: the index is not in its final shape before.
    """
    started = time.perf_counter()
    for start in range(0, len(records), BATCH_SIZE):
        outcomes = engine.upsert(records[start : start + BATCH_SIZE])
        if outcomes.count("inserted") != len(outcomes):
            raise SystemExit(f"{label}: only {outcomes.count('inserted')} of {len(outcomes)} records inserted")
        if (start // BATCH_SIZE) % 10 == 9:
            progress(f"  {label}: {start + BATCH_SIZE:,} loaded, {time.perf_counter() - started:.0f} s")
    engine.finish_writes()
    if isinstance(engine, ElasticEngine):
        wait_for_merges(engine.client)
    return time.perf_counter() - started


EXPAND = True  # bench/relevance.py --no-expand turns the synonym dictionary off


def service_ranked(service: SearchService, q: str, crime_form: Sequence[str] = ()) -> Ranked:
    result = service.search(SearchRequest(q=q, crime_form=list(crime_form), size=10, expand=EXPAND))
    return result.total, [hit.id for hit in result.hits]


@dataclass
class Systems:
    """The four systems over one set of records, and how to tear them down."""

    embedded: EmbeddedEngine
    elastic: ElasticEngine
    peers: dict[str, Peer]
    load_s: dict[str, float]

    def searchers(self, segmenter: Segmenter) -> dict[str, Callable[[str, Sequence[str]], Ranked]]:
        emb, es = SearchService(self.embedded, segmenter), SearchService(self.elastic, segmenter)
        out: dict[str, Callable[[str, Sequence[str]], Ranked]] = {
            "embedded": lambda q, f: service_ranked(emb, q, f),
            "elasticsearch": lambda q, f: service_ranked(es, q, f),
        }
        out.update({name: peer.search for name, peer in self.peers.items()})
        return out

    def close(self) -> None:
        self.embedded.close()
        for peer in self.peers.values():
            peer.drop()
        self.elastic.drop()
        self.elastic.close()


def build_systems(records: Sequence[Record], segmenter: Segmenter, url: str, workdir: Path, tag: str) -> Systems:
    """Load the same records into all four systems, timing each load."""
    load_s: dict[str, float] = {}
    progress(f"[{tag}] loading {len(records):,} records into the embedded engine …")
    embedded = EmbeddedEngine(workdir / f"{tag}.db", segmenter)
    load_s["embedded"] = load_engine(embedded, records, "embedded")
    progress(f"[{tag}] loading into the Elasticsearch engine …")
    elastic = open_engine(es_settings(url, f"bench-engines-{tag}-{os.getpid()}"), segmenter)
    assert isinstance(elastic, ElasticEngine)
    load_s["elasticsearch"] = load_engine(elastic, records, "elasticsearch")
    client = elasticsearch_client(es_settings(url, "unused"))
    peers: dict[str, Peer] = {}
    for name in PEERS:
        progress(f"[{tag}] loading the {name} peer …")
        peer = Peer(client, name, f"bench-peer-{name}-{tag}-{os.getpid()}")
        peer.drop()
        peer.create()
        peers[name] = peer
        started = time.perf_counter()
        if peer.load(records) != len(records):
            raise SystemExit(f"{name}: not every record was indexed")
        load_s[name] = time.perf_counter() - started
    wait_for_merges(client)
    return Systems(embedded, elastic, peers, load_s)


def wait_for_merges(client: Elasticsearch, timeout: float = 300.0) -> None:
    """Wait until the node has no merge running: the loads just before leave merges behind,
    which would otherwise take the cores the timed queries need."""
    progress("waiting for the node's merges to finish …")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = client.nodes.stats(metric="indices", index_metric="merge")
        with warnings.catch_warnings():  # the task list is a "technical preview" API; it is only read here
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            merging = client.tasks.list(actions="indices:admin/forcemerge*")
        if all(node["indices"]["merges"]["current"] == 0 for node in stats["nodes"].values()) and not any(
            node.get("tasks") for node in merging.get("nodes", {}).values()
        ):
            return
        time.sleep(0.2)


# ---- speed -----------------------------------------------------------------------------------
class TimedEngine:
    """An engine that adds up the time spent in each engine call (where a search's time goes)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.spent: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - started

        return timed


def breakdown(engine: Engine, segmenter: Segmenter, queries: Sequence[BenchQuery], rounds: int) -> dict[str, float]:
    """Mean ms per query spent in each engine call and in the core itself, over `rounds` passes."""
    timed = TimedEngine(engine)
    service = SearchService(timed, segmenter)  # type: ignore[arg-type]  # duck-typed engine
    started = time.perf_counter()
    for _ in range(rounds):
        for bq in queries:
            service.search(bq.request())
    total = time.perf_counter() - started
    n = rounds * len(queries)
    out = {name: spent / n * 1000 for name, spent in timed.spent.items()}
    out["total"] = total / n * 1000
    out["core"] = out["total"] - sum(timed.spent.values()) / n * 1000
    return out


def latency_cells(lat: Latencies) -> tuple[str, ...]:
    row = lat.row()
    return (f"{row['p50']:.1f}", f"{row['p99']:.1f}", f"{row['max']:.1f}", f"{row['mean']:.1f}",
            f"{row['qps']:.0f}", f"{row['n']:.0f}")


def median_ms(lat: Latencies) -> str:
    return f"{percentile(lat.samples, 0.5) * 1000:.1f}"


def speed(args: argparse.Namespace, url: str, segmenter: Segmenter, workdir: Path, report: Report) -> None:
    n = args.cases
    progress(f"preparing {n:,} records …")
    started = time.perf_counter()
    records = prepare_records(args.data, n)
    prepare_s = time.perf_counter() - started
    chars = summary_chars(records)
    report.preamble.append(f"speed: {n:,} cases replicated from the real ones, {chars:,} summary chars; "
                           f"records prepared in {prepare_s:.1f} s")

    progress("segmentation only, jieba (the reference) and the native cutter on the same sample …")
    sample = records[:REFERENCE_SAMPLE]
    sample_chars = summary_chars(sample)
    cutter_s = {}
    for name, cutter in (("jieba", Segmenter(cutter="jieba")), ("native", segmenter)):
        units_for(sample[0], cutter)  # the first call builds lazy tables
        started = time.perf_counter()
        for record in sample:
            units_for(record, cutter)
        cutter_s[name] = time.perf_counter() - started
    progress("segmentation only …")
    before = os.getloadavg()
    started = time.perf_counter()
    for record in records:
        units_for(record, segmenter)
    seg_s = time.perf_counter() - started
    progress("segmentation only, in workers …")
    pool = UnitPool(segmenter)
    started = time.perf_counter()
    for start in range(0, len(records), BATCH_SIZE):
        for _ in pool.units(records[start : start + BATCH_SIZE]):
            pass
    pool_s = time.perf_counter() - started
    pool_kind = "threads" if segmenter.releases_lock else "processes"
    pool.close()

    systems = build_systems(records, segmenter, url, workdir, "speed")
    report.preamble.append(f"load average before the loads {before[0]:.1f}, after them {os.getloadavg()[0]:.1f} "
                           "(other processes on the machine share its cores)")
    try:
        loads = Table(f"Load, {n:,} cases", ("system", "how", "cases/s", "k chars/s", "seconds", "segmentation / load"))
        m = len(sample)
        for name in ("jieba", "native"):
            loads.add(f"segmentation only, {name}", f"`units_for` over the first {m:,} records, one thread",
                      f"{m / cutter_s[name]:,.0f}", f"{sample_chars / cutter_s[name] / 1000:,.0f}",
                      f"{cutter_s[name]:.1f}", f"native ÷ jieba {cutter_s['jieba'] / cutter_s['native']:.1f}×"
                      if name == "native" else "–")
        loads.add("segmentation only", "`units_for` over every record, one thread", f"{n / seg_s:,.0f}",
                  f"{chars / seg_s / 1000:,.0f}", f"{seg_s:.1f}", "1.00")
        loads.add("segmentation only, workers", f"`UnitPool` ({pool.workers} {pool_kind}) ×2,000", f"{n / pool_s:,.0f}",
                  f"{chars / pool_s / 1000:,.0f}", f"{pool_s:.1f}", f"{seg_s / pool_s:.2f}")
        how = {"embedded": "`upsert` ×2,000 + `finish_writes`",
               "elasticsearch": "`upsert` ×2,000 + `finish_writes` + the merge it asks for",
               "es-standard": "`streaming_bulk` of raw text + refresh + merge",
               "es-jieba-whitespace": "jieba `cut_for_search` + `streaming_bulk` + refresh + merge"}
        for name in SYSTEMS:
            s = systems.load_s[name]
            target = LOAD_TARGETS.get(name)
            ratio = f"{seg_s / s:.2f} (target ≥ {target:,} cases/s)" if target else "(peer)"
            loads.add(name, how[name], f"{n / s:,.0f}", f"{chars / s / 1000:,.0f}", f"{s:.1f}", ratio)
        loads.notes.append("Our engines segment inside `upsert` (the native cutter with the legal dictionary, "
                           "sub-words, characters, for eight word fields and three character fields), in worker "
                           "threads for batches of 500 or more (`indexing/engines/unit_pool.py`); the peers index title + "
                           "summary only. The ratio column divides by the one-thread segmentation rate; the targets "
                           "are 5× and 3× the rates before the native cutter (1,354 and 841 cases/s). The jieba and "
                           "native rows cut the same sample in this run, so their ratio is free of the machine's load.")
        report.tables.append(loads)
        del records

        query_speed(args, systems, segmenter, report)
        report.preamble.append(f"load average after the queries {os.getloadavg()[0]:.1f}")
    finally:
        systems.close()


def query_speed(args: argparse.Namespace, systems: Systems, segmenter: Segmenter, report: Report) -> None:
    rounds, warmup = args.rounds, args.warmup
    plain = [bq for bq in QUERIES if bq.kind in PLAIN_CLASSES]
    table = Table(f"Query latency (ms), {warmup} warm-up passes then {rounds} rounds",
                  ("system", "queries", "p50", "p99", "max", "mean", "q/s", "samples"))
    split = Table("Where a `SearchService` query's time goes (mean ms per query)",
                  ("system", "class", "total", "doc_freqs", "search (with facets)", "get_many", "core (parse, highlight)"))
    split.notes.append("A separate pass with every engine call timed; `core` is the rest: query parsing, "
                       "highlighting and the response models.")
    service_times: dict[str, dict[Any, Latencies]] = {}
    service_answers: dict[str, dict[Any, Any]] = {}
    bare_times: dict[str, dict[Any, Latencies]] = {}
    for name, engine in (("embedded", systems.embedded), ("elasticsearch", systems.elastic)):
        progress(f"queries through SearchService on {name} …")
        service = SearchService(engine, segmenter)
        # The first pass after the load, timed on its own: a just-started Elasticsearch node
        # still compiles its search code (the JVM's JIT) and runs slower for a few hundred
        # searches; the rounds below measure the service once it has settled.
        first, _ = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), 1, warmup=0)
        table.add(name, f"all {len(QUERIES)}, `SearchService`, first pass after the load",
                  *latency_cells(merged(first, lambda _: True)))
        early_passes = min(9, warmup)
        early, _ = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), early_passes, warmup=0)
        table.add(name, f"all {len(QUERIES)}, `SearchService`, passes 2–{early_passes + 1} after the load",
                  *latency_cells(merged(early, lambda _: True)))
        run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), 0, warmup=warmup - early_passes)
        if isinstance(engine, ElasticEngine):
            # Elasticsearch keeps the answers of facet requests until the next refresh; the
            # rounds repeat the same queries, so that cache is emptied before every one of
            # them (a first-time query), and measured on its own in a second pass.
            cached, _ = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), rounds)
            table.add(name, f"all {len(QUERIES)}, `SearchService`, repeated (request cache on)",
                      *latency_cells(merged(cached, lambda _: True)))
            clear = lambda: engine.client.indices.clear_cache(index=engine.alias, request=True)  # noqa: E731
            times, answers = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), rounds, before=clear)
        else:
            times, answers = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), rounds)
        service_times[name], service_answers[name] = times, answers
        table.add(name, f"all {len(QUERIES)}, `SearchService`", *latency_cells(merged(times, lambda _: True)))
        for kind in (*PLAIN_CLASSES, "syntax", "filter"):
            count = sum(1 for bq in QUERIES if bq.kind == kind)
            table.add(name, f"{kind} ({count}), `SearchService`", *latency_cells(merged(times, lambda bq: bq.kind == kind)))
        engine_queries = {bq: bare_engine_query(segmenter, bq.q) for bq in plain}
        bare, _ = run_rounds(plain, lambda bq: engine.search(engine_queries[bq]), rounds)
        bare_times[name] = bare
        table.add(name, f"plain {len(plain)}, `engine.search` only", *latency_cells(merged(bare, lambda _: True)))
        for kind in (*PLAIN_CLASSES, "syntax", "filter"):
            parts = breakdown(engine, segmenter, [bq for bq in QUERIES if bq.kind == kind], rounds)
            split.add(name, kind, *(f"{parts.get(k, 0.0):.1f}" for k in ("total", "doc_freqs", "search", "get_many", "core")))

    peer_times: dict[str, dict[Any, Latencies]] = {}
    peer_answers: dict[str, dict[Any, Ranked]] = {}
    for name, peer in systems.peers.items():
        progress(f"queries on the {name} peer …")
        times, answers = run_rounds(plain, lambda bq: peer.search(bq.q), rounds, warmup=warmup)
        peer_times[name], peer_answers[name] = times, answers
        table.add(name, f"plain {len(plain)}, raw `match`", *latency_cells(merged(times, lambda _: True)))
        for kind in PLAIN_CLASSES:
            count = sum(1 for bq in plain if bq.kind == kind)
            table.add(name, f"{kind} ({count}), raw `match`", *latency_cells(merged(times, lambda bq: bq.kind == kind)))
    table.notes.append("`SearchService` = what a user waits for: document frequencies for the sub-word fallback "
                       "(remembered for a minute), the search with six facets and highlights, and the records of "
                       "the top 10. On Elasticsearch every `SearchService` row except the one marked "
                       "\"request cache on\" empties the node's request cache before each query, so repeated "
                       "rounds do not read facets counted in an earlier round. "
                       "`engine.search` only = ranking and exact count, no facets. The peers count exactly too "
                       "(`track_total_hits`), as our engines do.")
    table.notes.append(f"Our engines first answer the whole list {warmup + 1} times: the first pass and the next "
                       "ones are timed in rows of their own (a node that has just loaded still compiles its "
                       "search code: the JVM's JIT), the rest are untimed warm-up; the peers get the same "
                       f"{warmup} warm-up passes. Every other row is measured after that. p99 is "
                       "nearest-rank over all samples of a row (with 100 samples or fewer it is the slowest "
                       "one); max is the slowest sample.")
    report.tables.append(table)
    report.tables.append(split)

    for name, times in service_times.items():
        answers = service_answers[name]
        slow = Table(f"Slowest queries, {name} (`SearchService`)", ("query", "class", "max ms", "median ms", "hits"))
        for bq in sorted(times, key=lambda b: -max(times[b].samples))[:8]:
            slow.add(bq.label, bq.kind, f"{max(times[bq].samples) * 1000:.1f}", median_ms(times[bq]),
                     f"{answers[bq].total:,}")
        report.tables.append(slow)

    per_query = Table("Plain-word queries, median ms (hits)",
                      ("query", "class", "embedded", "elasticsearch", "elasticsearch bare", *PEERS))
    for bq in plain:
        cells = [f"{median_ms(service_times[s][bq])} ({service_answers[s][bq].total:,})" for s in ("embedded", "elasticsearch")]
        cells.append(median_ms(bare_times["elasticsearch"][bq]))
        cells += [f"{median_ms(peer_times[p][bq])} ({peer_answers[p][bq][0]:,})" for p in PEERS]
        per_query.add(bq.q, bq.kind, *cells)
    report.tables.append(per_query)


# ---- quality ---------------------------------------------------------------------------------
def quality(args: argparse.Namespace, url: str, segmenter: Segmenter, workdir: Path, report: Report) -> None:
    queries = load_queries()
    cases = load_cases(args.data)
    records = prepare_records(args.data, len(cases))
    # prepare_records renames each case `<id>-r0000`; judge the records under their own ids.
    grades = judge_by_id(queries, [{"id": r.id, "charges": c.get("charges") or []} for r, c in zip(records, cases)])
    report.preamble.append(f"quality: {len(queries)} judged queries on the {len(records):,} original cases "
                           "(a separate load of each system)")

    systems = build_systems(records, segmenter, url, workdir, "quality")
    per_system: dict[str, dict[str, dict[str, float]]] = {}
    failures: list[str] = []
    try:
        for name, search in systems.searchers(segmenter).items():
            progress(f"judged queries on {name} …")
            metrics: dict[str, dict[str, float]] = {}
            for query in queries:
                try:
                    total, ranked = search(query.q, query.crime_form)
                except CasedigestError as exc:
                    failures.append(f"{name} {query.id} {query.q!r}: {exc.message}")
                    total, ranked = 0, []
                metrics[query.id] = evaluate_ranking(ranked, grades[query.id], total=total)
            per_system[name] = metrics
    finally:
        systems.close()

    summaries = {name: summarize(metrics, queries) for name, metrics in per_system.items()}
    groups = [row.group for row in summaries["embedded"]]
    counts = {row.group: row.queries for row in summaries["embedded"]}

    def metric_table(title: str, value: Callable[[SummaryRow], str], keep: Callable[[str], bool]) -> Table:
        table = Table(title, ("group", "queries", *SYSTEMS))
        by_group = {name: {row.group: row for row in rows} for name, rows in summaries.items()}
        for group in filter(keep, groups):
            table.add(group, counts[group], *(value(by_group[s][group]) for s in SYSTEMS))
        return table

    main_groups = lambda g: "/" not in g  # noqa: E731  (all, kind=…, split=…)
    report.tables.append(metric_table("nDCG@10", lambda r: f"{r.ndcg:.3f}", lambda _: True))
    report.tables.append(metric_table("P@10 (grade 2 only)", lambda r: f"{r.precision:.3f}", main_groups))
    report.tables.append(metric_table("MRR (first grade-2 result)", lambda r: f"{r.mrr:.3f}", main_groups))
    zero = metric_table("Zero-result queries", lambda r: str(r.zero_results), main_groups)
    if failures:
        zero.notes.append("errors (counted as zero results): " + "; ".join(failures))
    report.tables.append(zero)

    by_id = {q.id: q for q in queries}
    ours, peers = ("embedded", "elasticsearch"), [s for s in SYSTEMS if s not in ("embedded", "elasticsearch")]
    losses = Table("Queries where one of our engines is below 0.5 while a peer is above 0.8",
                   ("id", "kind", "query", *SYSTEMS))
    for query in queries:
        scores = {name: per_system[name][query.id][NDCG] for name in SYSTEMS}
        if any(scores[o] < 0.5 for o in ours) and any(scores[p] > 0.8 for p in peers):
            losses.add(query.id, query.kind, query.q, *(f"{scores[n]:.3f}" for n in SYSTEMS))
    if not losses.rows:
        losses.notes.append("none")
    report.tables.append(losses)
    for name in SYSTEMS:
        metrics = per_system[name]
        worst = Table(f"Worst {WORST} queries, {name}", ("id", "kind", "split", "query", "nDCG@10", "P@10", "RR", "hits"))
        for qid in sorted(metrics, key=lambda i: (metrics[i][NDCG], i))[:WORST]:
            q, m = by_id[qid], metrics[qid]
            query_text = q.q + (f" [crime_form={','.join(q.crime_form)}]" if q.crime_form else "")
            worst.add(qid, q.kind, q.split, query_text, f"{m[NDCG]:.3f}", f"{m[PRECISION]:.1f}", f"{m[RR]:.2f}",
                      f"{m[RESULTS]:,.0f}")
        report.tables.append(worst)


def quality_report(data: Path, segmenter: Segmenter, port: int, expand: bool = True) -> str:
    """The quality part alone on a node of its own (for bench/relevance.py), as markdown."""
    global EXPAND
    EXPAND = expand
    args = argparse.Namespace(data=data)
    try:
        url = start_node(port, "1g")
        report = Report("python bench/relevance.py", [machine_info()])
        with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
            quality(args, url, segmenter, Path(tmp), report)
    finally:
        stop_node(port)
    return report.markdown()


# ---- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="records for the speed part (default 100000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file of the real cases")
    parser.add_argument("--port", type=int, default=9270, help="port of the node this script starts (default 9270)")
    parser.add_argument("--es-url", help="use this running node instead of starting one")
    parser.add_argument("--es-heap", default="1g", help="heap of the node this script starts (default 1g)")
    parser.add_argument("--rounds", type=int, default=10, help="timed query rounds after the warm-up (default 10)")
    parser.add_argument("--warmup", type=int, default=60, help="passes over the query list before the measured rounds; the first 10 are timed as rows of their own (default 60)")
    parser.add_argument("--markdown", action="store_true", help=f"also print markdown and write it to {RESULTS_MD.relative_to(REPO_ROOT)}")
    parser.add_argument("--quality-only", action="store_true", help="skip the speed part")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2
    command = ("python bench/engines.py " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()

    url = args.es_url
    try:
        if url is None:
            progress(f"starting Elasticsearch on port {args.port} …")
            url = start_node(args.port, args.es_heap)
        client = Elasticsearch(url, request_timeout=30)
        # GET / is not served by the integ-test distribution; the nodes API is.
        nodes = client.nodes.info(node_id="_all", metric="_none", filter_path="nodes.*.version")["nodes"]
        es_version = ", ".join(sorted({n["version"] for n in nodes.values()}))
        client.close()
        report = Report(command, [machine_info() + f", Elasticsearch {es_version} (one node"
                                  + (f", heap {args.es_heap})" if args.es_url is None else ")")])
        segmenter = Segmenter()
        with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
            if not args.quality_only:
                speed(args, url, segmenter, Path(tmp), report)
            quality(args, url, segmenter, Path(tmp), report)
    finally:
        if args.es_url is None:
            progress(f"stopping Elasticsearch on port {args.port} …")
            stop_node(args.port)
    print(report.text())
    if args.markdown:
        markdown = report.markdown()
        print("\n" + markdown)
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text(markdown, encoding="utf-8")
        progress(f"written to {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
