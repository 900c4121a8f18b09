"""Load rate and query latency of the embedded engine at scale, with SQLite FTS5 as the peer.

N records are made by replicating the real CAIL2018 cases under new ids (`cail-00001` →
`cail-00001-r0007`), each through the CAIL field map, `parse_record` and `with_inferred_forms`
as `casedigest load` does. Then, in one run:

- segmentation only: `units_for` over every record (folding, jieba, sub-words, characters),
  the work any engine's indexing needs;
- end-to-end load: `EmbeddedEngine.upsert` in batches of 2,000 and `finish_writes`, into a
  fresh engine; the ratio to segmentation only shows what storage and tantivy add;
- query latency through `SearchService.search` (facets, highlights and record lookups
  included: what a user waits for), one warm-up pass then R rounds, per query class;
- the same plain-word queries on the bare engine (ranking and exact count, no facets) and on a
  plain SQLite FTS5 table of the same summary words ranked by bm25: the figure behind choosing
  tantivy, since FTS5 scores every match of a common word.

    python bench/load_and_query.py [--cases 100000] [--data PATH] [--workdir DIR] [--markdown]

CAIL2018 has no decision dates; each replica gets a synthetic one (2013–2018) so the year
filters, the year facet and the date sort of an empty query have real work to do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from indexing.engines.units import units_for
from indexing.engines.base import Record
from indexing.engines.embedded import EmbeddedEngine
from indexing.records.enrich import with_inferred_forms
from indexing.loading.field_map import FieldMap
from indexing.query.model import EngineQuery, Phrase
from indexing.query.parser import parse_query
from indexing.query.ranking import PHRASE_BOOST
from indexing.records.model import parse_record
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"
FIELD_MAP = REPO_ROOT / "indexing/field_maps/cail2018.toml"
BATCH_SIZE = 2000
PLAIN_CLASSES = ("common", "mid", "rare")


@dataclass(frozen=True, eq=False)  # hashed by identity: queries key the timing tables
class BenchQuery:
    kind: str  # common, mid, rare, syntax, filter
    q: str
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.filters.items())
        return f"{self.q or '(empty)'} {extra}".strip()

    def request(self) -> SearchRequest:
        return SearchRequest(q=self.q, size=10, **self.filters)


QUERIES: tuple[BenchQuery, ...] = (
    # Words in half or more of the cases (share of the 4,496 real facts in brackets): the worst
    # case for an engine that scores every match, and for facets, which count every match.
    BenchQuery("common", "被告人"),  # 99%
    BenchQuery("common", "公诉机关"),  # 59%
    BenchQuery("common", "人民检察院 指控"),  # 55% / 79%
    BenchQuery("common", "供述"),  # 53%
    BenchQuery("common", "被告人 供述"),
    BenchQuery("common", "鉴定"),  # 50%
    # Words in a few per cent of the cases (charges count: 故意伤害 is mostly a charge name).
    BenchQuery("mid", "人民法院 指控"),  # 3.5%: the facts cite the procuratorate, not the court
    BenchQuery("mid", "盗窃 手机"),
    BenchQuery("mid", "故意伤害 轻伤"),
    BenchQuery("mid", "甲基苯丙胺"),  # 8%
    BenchQuery("mid", "贩卖 毒品"),
    BenchQuery("mid", "交通肇事 逃逸"),
    BenchQuery("mid", "信用卡 透支"),
    BenchQuery("mid", "诈骗 微信"),
    # Words in a handful of the real cases, or in none.
    BenchQuery("rare", "人体器官"),
    BenchQuery("rare", "走私文物"),
    BenchQuery("rare", "非法捕捞"),
    BenchQuery("rare", "珍贵 濒危 野生动物"),
    BenchQuery("rare", "假药"),
    BenchQuery("rare", "洗钱"),
    BenchQuery("rare", "电鱼"),
    # Query syntax: exact phrases, OR, NOT, scopes.
    BenchQuery("syntax", '"醉酒驾驶"'),
    BenchQuery("syntax", '"被告人"'),
    BenchQuery("syntax", "盗窃 OR 抢劫 OR 抢夺"),
    BenchQuery("syntax", "毒品 -贩卖"),
    BenchQuery("syntax", "被告人 NOT 自首"),
    BenchQuery("syntax", "charges:诈骗 (电话 OR 短信)"),
    # Filters, and an empty query browsing by crime form (sorted by date).
    BenchQuery("filter", "", {"crime_form": ["drugs"]}),
    BenchQuery("filter", "被告人", {"crime_form": ["drugs"]}),
    BenchQuery("filter", "运输", {"crime_form": ["drugs", "firearms"]}),
    BenchQuery("filter", "被告人", {"year_from": 2016, "year_to": 2017}),
    BenchQuery("filter", "盗窃", {"year_from": 2015, "crime_form": ["environment"]}),
    BenchQuery("filter", "", {"year_from": 2018, "year_to": 2018}),
)


# ---- records ---------------------------------------------------------------------------------
def prepare_records(data: Path, cases: int) -> list[Record]:
    """`cases` records replicating the real cases under new ids, as the loader would parse them."""
    field_map = FieldMap.load(FIELD_MAP)
    with data.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    records: list[Record] = []
    for i in range(cases):
        source = rows[i % len(rows)]
        copy = {**source, "id": f"{source['id']}-r{i // len(rows):04d}"}
        mapped = field_map.apply(copy)
        mapped["decision_date"] = f"{2013 + i % 6}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        records.append(with_inferred_forms(parse_record(mapped)))
    return records


def summary_chars(records: list[Record]) -> int:
    return sum(len(r.summary or "") for r in records)


# ---- timing helpers --------------------------------------------------------------------------
def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile (with ~30 samples per class, p99 is the slowest one)."""
    ordered = sorted(samples)
    rank = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    return ordered[rank - 1]


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)  # seconds

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def row(self) -> dict[str, float]:
        total = sum(self.samples)
        return {
            "p50": percentile(self.samples, 0.50) * 1000,
            "p99": percentile(self.samples, 0.99) * 1000,
            "max": max(self.samples) * 1000,
            "mean": total / len(self.samples) * 1000,
            "qps": len(self.samples) / total if total else 0.0,
            "n": len(self.samples),
        }


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_rounds(
    items: list[Any],
    call: Callable[[Any], Any],
    rounds: int,
    before: Callable[[], Any] | None = None,
    warmup: int = 1,
) -> tuple[dict[Any, Latencies], dict[Any, Any]]:
    """`warmup` untimed passes over `items`, then `rounds` timed passes; latencies and last answers.

    `before`, if given, runs before every timed call, outside the timing (e.g. emptying a cache).
    """
    answers: dict[Any, Any] = {}
    for _ in range(warmup):
        answers = {item: call(item) for item in items}
    times: dict[Any, Latencies] = {item: Latencies() for item in items}
    for _ in range(rounds):
        for item in items:
            if before is not None:
                before()
            started = time.perf_counter()
            answers[item] = call(item)
            times[item].add(time.perf_counter() - started)
    return times, answers


def merged(times: dict[Any, Latencies], keep: Callable[[Any], bool]) -> Latencies:
    out = Latencies()
    for item, latencies in times.items():
        if keep(item):
            out.samples.extend(latencies.samples)
    return out


# ---- the FTS5 peer ---------------------------------------------------------------------------
def build_fts5(path: Path, summaries: list[str]) -> sqlite3.Connection:
    """One FTS5 table of the space-joined summary index words (unicode61 splits on spaces only
    here: CJK characters are token characters to it, so each word stays one token)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(summary, tokenize='unicode61')")
    db.execute("BEGIN")
    db.executemany("INSERT INTO fts(rowid, summary) VALUES (?, ?)", ((i + 1, s) for i, s in enumerate(summaries)))
    db.execute("COMMIT")
    db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    return db


def check_fts5_tokens(db: sqlite3.Connection) -> None:
    """Fail loudly if unicode61 cut a Chinese word into pieces (it would make FTS5 look fast)."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS fts_vocab USING fts5vocab(fts, 'row')")
    for word in ("被告人", "人民检察院"):
        row = db.execute("SELECT doc FROM fts_vocab WHERE term=?", (word,)).fetchone()
        if row is None or row[0] == 0:
            raise SystemExit(f"FTS5 unicode61 check failed: {word!r} is not one token")


def fts5_match(segmenter: Segmenter, q: str) -> str:
    return " ".join(f'"{w}"' for w in segmenter.query_words(q))


def fts5_search(db: sqlite3.Connection, match: str) -> tuple[int, list[int]]:
    top = [r[0] for r in db.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT 10", (match,))]
    total = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
    return total, top


def bare_engine_query(segmenter: Segmenter, q: str) -> EngineQuery:
    """The engine query the search core would send, without facets."""
    parsed = parse_query(q, segmenter)
    boosts = tuple(
        (Phrase(p.chars, name), weight)
        for p in parsed.phrase_boosts
        if p.scope is None
        for name, weight in PHRASE_BOOST.items()
    )
    return EngineQuery(match=parsed.node, boosts=boosts, size=10)


# ---- report ----------------------------------------------------------------------------------
@dataclass
class Report:
    command: str
    machine: str
    cases: int
    chars: int
    prepare_s: float
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # measure, figure, note
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, figure: str, note: str = "") -> None:
        self.rows.append((measure, figure, note))

    def text(self) -> str:
        width = max(len(m) for m, _, _ in self.rows)
        fig = max(len(f) for _, f, _ in self.rows)
        lines = [f"$ {self.command}", self.machine,
                 f"{self.cases:,} cases, {self.chars:,} summary chars; records prepared in {self.prepare_s:.1f} s", ""]
        lines += [f"{m:<{width}}  {f:<{fig}}  {n}".rstrip() for m, f, n in self.rows]
        lines += [""] + self.notes
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"`{self.command}`", "", self.machine + "  ",
                 f"{self.cases:,} cases, {self.chars:,} summary chars; records prepared in {self.prepare_s:.1f} s", "",
                 "| measure | figure | note |", "|---|---|---|"]
        lines += [f"| {m} | {f} | {n} |" for m, f, n in self.rows]
        lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def machine_info() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("tantivy", "jieba"))
    return (f"{os.cpu_count()} cores{f' ({model})' if model else ''}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {versions}, {platform.system()} {platform.release()}")


def latency_figure(row: dict[str, float]) -> str:
    return f"p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, mean {row['mean']:.1f} ms, {row['qps']:.0f} q/s"


# ---- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="number of records to build (default 100000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file to replicate")
    parser.add_argument("--workdir", type=Path, help="where the engine and FTS5 files go (kept); default a temp dir")
    parser.add_argument("--rounds", type=int, default=5, help="timed query rounds after one warm-up (default 5)")
    parser.add_argument("--markdown", action="store_true", help="also print the results as a markdown table")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2
    command = "python bench/load_and_query.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="load_and_query-", dir=args.workdir))
    try:
        report = run(args, command.strip(), workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            progress(f"engine and FTS5 files kept in {workdir}")
    print(report.text())
    if args.markdown:
        print("\n" + report.markdown())
    return 0


def run(args: argparse.Namespace, command: str, workdir: Path) -> Report:
    n = args.cases
    segmenter = Segmenter()

    progress(f"preparing {n:,} records …")
    started = time.perf_counter()
    records = prepare_records(args.data, n)
    prepare_s = time.perf_counter() - started
    chars = summary_chars(records)
    report = Report(command, machine_info(), n, chars, prepare_s)

    progress("segmentation only …")
    summaries: list[str] = []
    started = time.perf_counter()
    for record in records:
        for unit in units_for(record, segmenter):
            summaries.append(unit.words.get("summary", ""))
    seg_s = time.perf_counter() - started
    report.add("segmentation only (`units_for`)", f"{n / seg_s:,.0f} cases/s, {chars / seg_s / 1000:,.0f}k chars/s",
               f"{seg_s:.1f} s")

    progress("end-to-end load into the embedded engine …")
    engine = EmbeddedEngine(workdir / "casedigest.db", segmenter)
    started = time.perf_counter()
    inserted = 0
    for start in range(0, n, BATCH_SIZE):
        inserted += engine.upsert(records[start : start + BATCH_SIZE]).count("inserted")
        if (start // BATCH_SIZE) % 10 == 9:
            progress(f"  {start + BATCH_SIZE:,} loaded, {time.perf_counter() - started:.0f} s")
    engine.finish_writes()
    load_s = time.perf_counter() - started
    if inserted != n:
        report.notes.append(f"WARNING: {inserted} of {n} records were inserted")
    report.add("embedded end-to-end load (upsert ×2000 + finish_writes)",
               f"{n / load_s:,.0f} cases/s, {chars / load_s / 1000:,.0f}k chars/s",
               f"{load_s:.1f} s; ratio to segmentation only {seg_s / load_s:.2f} (target ≥ 0.80)")
    del records

    progress("queries through SearchService …")
    service = SearchService(engine, segmenter)
    times, answers = run_rounds(list(QUERIES), lambda bq: service.search(bq.request()), args.rounds)
    overall = merged(times, lambda _: True).row()
    report.add(f"embedded query, all {len(QUERIES)} (SearchService)", latency_figure(overall),
               f"{args.rounds} rounds after 1 warm-up, {overall['n']:.0f} samples")
    for kind in (*PLAIN_CLASSES, "syntax", "filter"):
        row = merged(times, lambda bq: bq.kind == kind).row()
        report.add(f"embedded query, {kind}", latency_figure(row), f"{row['n'] // args.rounds:.0f} queries")

    plain = [bq.q for bq in QUERIES if bq.kind in PLAIN_CLASSES]
    progress("bare engine queries (ranking + count, no facets) …")
    engine_queries = {q: bare_engine_query(segmenter, q) for q in plain}
    bare_times, _ = run_rounds(plain, lambda q: engine.search(engine_queries[q]), args.rounds)
    row = merged(bare_times, lambda _: True).row()
    report.add(f"embedded engine.search only, {len(plain)} plain-word queries", latency_figure(row),
               "all word fields + char fallback; no facets, no record lookup")

    progress("building the FTS5 peer …")
    started = time.perf_counter()
    fts = build_fts5(workdir / "fts5.db", summaries)
    fts_build_s = time.perf_counter() - started
    check_fts5_tokens(fts)
    del summaries
    matches = {q: fts5_match(segmenter, q) for q in plain}
    fts_times, fts_answers = run_rounds(plain, lambda q: fts5_search(fts, matches[q]), args.rounds)
    row = merged(fts_times, lambda _: True).row()
    report.add(f"FTS5 peer, {len(plain)} plain-word queries", latency_figure(row),
               f"bm25 top 10 + count(*), summary only; built in {fts_build_s:.1f} s from the segmented words")
    for kind in PLAIN_CLASSES:
        row = merged(fts_times, lambda q: any(b.q == q and b.kind == kind for b in QUERIES)).row()
        report.add(f"FTS5 peer, {kind}", latency_figure(row))
    fts.close()

    slowest = sorted(times, key=lambda bq: -max(times[bq].samples))[:5]
    report.notes.append("slowest queries (SearchService, max of rounds / median; total hits): " + "; ".join(
        f"{bq.label} {max(times[bq].samples) * 1000:.1f}/{percentile(times[bq].samples, 0.5) * 1000:.1f} ms "
        f"({answers[bq].total:,})" for bq in slowest))
    report.notes.append("plain-word queries, median ms embedded service / bare engine / FTS5 (hits embedded / FTS5): "
        + "; ".join(
            f"{q} {percentile(times[bq].samples, 0.5) * 1000:.1f}/{percentile(bare_times[q].samples, 0.5) * 1000:.1f}"
            f"/{percentile(fts_times[q].samples, 0.5) * 1000:.1f} ({answers[bq].total:,}/{fts_answers[q][0]:,})"
            for bq in QUERIES if bq.kind in PLAIN_CLASSES and (q := bq.q) in fts_times))
    report.notes.append(f"p99 is nearest-rank: with {args.rounds} rounds of 6–8 queries per class it is the slowest sample or close to it.")
    engine.close()
    return report


if __name__ == "__main__":
    sys.exit(main())
