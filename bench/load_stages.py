"""Where a load's CPU goes, stage by stage: the floor under the load targets.

A load does three things to every case: (a) read, parse, validate and hash it; (b) build its
token streams (folding, the word cut, sub-words, character tokens: `units_for`); (c) write it
to an engine. This script times each stage on its own, over the same N replicated real cases,
in CPU seconds of this process (user + system, all its threads: tantivy indexes in a thread of
its own, the Elasticsearch client sends from one) and, for Elasticsearch, of the node's java
process too (read from /proc). CPU time per case survives a shared machine far better than a
wall-clock rate does; the load average is printed beside every stage all the same.

(c) runs the engines' own `upsert` (batches of 2,000, as `bench/engines.py` loads, then
`finish_writes`; on Elasticsearch until the merge it asks for has finished) with the token
streams built beforehand: the engine's unit pool is handed the units made in (b), so the
write is timed without segmentation. The `standard`-analyzer peer of `bench/engines.py` is
loaded on the same node for comparison of the node's cost per case.

A target of R cases/s on C cores leaves C × 1000 / R ms of CPU per case for everything; the
last table compares each engine's stages with that budget.

    python bench/load_stages.py [--cases 100000] [--port 9286 | --es-url URL --es-pid PID | --no-es]

It starts a node with `scripts/elasticsearch.sh start --port P` (heap 1g) unless `--es-url`
names a running one, and stops the node it started unless `--keep-node`.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.bulk_load import write_jsonl  # noqa: E402
from bench.engines import LOAD_TARGETS, Peer, es_settings, start_node, stop_node, wait_for_merges  # noqa: E402
from bench.load_and_query import BATCH_SIZE, DEFAULT_DATA, machine_info, progress  # noqa: E402
from indexing.engines.base import Engine, Record  # noqa: E402
from indexing.engines.elastic.engine import ElasticEngine  # noqa: E402
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.engines.units import CHAR_FIELDS, IndexUnit, units_for  # noqa: E402
from indexing.loading.loader import read_records  # noqa: E402
from indexing.loading.readers import Rejection, iter_rows  # noqa: E402
from indexing.records.model import CaseDigest, record_to_json  # noqa: E402
from indexing.text.folding import fold  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from service.state import elasticsearch_client, open_engine  # noqa: E402

CORES = os.cpu_count() or 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Records the segmentation sub-stages are split on: enough for stable per-case figures.
SUBSTAGE_SAMPLE = 20_000
IDLE_S = 10.0  # seconds the node's CPU is read at rest


def own_cpu() -> float:
    """CPU seconds (user + system) of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of another process so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


@dataclass
class Stage:
    label: str
    cases: int
    wall: float
    cpu: float
    node_cpu: float | None = None
    load: float = 0.0

    def cells(self) -> tuple[str, ...]:
        node = "" if self.node_cpu is None else f"{self.node_cpu / self.cases * 1000:.3f}"
        total = self.cpu + (self.node_cpu or 0.0)
        return (self.label, f"{self.cases:,}", f"{self.wall:.1f}", f"{self.cases / self.wall:,.0f}",
                f"{self.cpu / self.cases * 1000:.3f}", node, f"{total / self.cases * 1000:.3f}",
                f"{self.cases / total * CORES:,.0f}", f"{self.load:.1f}")

    def ms(self) -> float:
        """Milliseconds of CPU per case, the node's included."""
        return (self.cpu + (self.node_cpu or 0.0)) / self.cases * 1000


@dataclass
class Stages:
    rows: list[Stage] = field(default_factory=list)
    node_pid: int | None = None

    def measure(self, label: str, cases: int, work: Callable[[], object], node: bool = False) -> Stage:
        """Run `work` and record its wall time, this process's CPU and (with `node`) the node's."""
        progress(f"{label} …")
        node_before = process_cpu(self.node_pid) if node and self.node_pid else None
        cpu_before, started = own_cpu(), time.perf_counter()
        work()
        wall, cpu = time.perf_counter() - started, own_cpu() - cpu_before
        node_cpu = process_cpu(self.node_pid) - node_before if node_before is not None and self.node_pid else None
        stage = Stage(label, cases, wall, cpu, node_cpu, os.getloadavg()[0])
        self.rows.append(stage)
        progress("  " + "  ".join(stage.cells()[2:]))
        return stage

    def table(self) -> str:
        header = ("stage", "cases", "wall s", "cases/s wall", "CPU ms/case", "node CPU ms/case",
                  "total CPU ms/case", f"cases/s on {CORES} cores at that CPU", "load avg")
        rows = [header, *(s.cells() for s in self.rows)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


class PrebuiltUnits:
    """Takes the place of an engine's unit pool: hands out the units made in stage (b), so the
    engine's write is timed without segmentation."""

    def __init__(self, units: dict[str, list[IndexUnit]]) -> None:
        self._units = units

    def units(self, records: Sequence[Record]) -> Iterator[list[IndexUnit]]:
        for record in records:
            yield self._units[record.id]

    def close(self) -> None:
        pass


def load(engine: Engine, records: Sequence[Record]) -> None:
    """`upsert` in batches as `bench/engines.py` loads, then `finish_writes` (and the merge)."""
    for start in range(0, len(records), BATCH_SIZE):
        outcomes = engine.upsert(records[start : start + BATCH_SIZE])
        if outcomes.count("inserted") != len(outcomes):
            raise SystemExit(f"{engine.name}: only {outcomes.count('inserted')} of {len(outcomes)} inserted")
    engine.finish_writes()
    if isinstance(engine, ElasticEngine):
        wait_for_merges(engine.client)


def texts_of(record: CaseDigest) -> list[tuple[str, str]]:
    """(field, text) pairs `units_for` segments for a case, as it builds them."""
    return [(name, text) for name, text in (
        ("title", record.title), ("summary", record.summary), ("full_text", record.full_text or ""),
        ("charges", "；".join(record.charges)), ("court", record.court or ""),
        ("keywords", "；".join(record.keywords)), ("legal_basis", "；".join(record.legal_basis)),
        ("case_number", record.case_number or ""),
    ) if text]


def segmentation_substages(stages: Stages, records: Sequence[Record], segmenter: Segmenter) -> None:
    """Folding, the word cut alone, words + sub-words and character tokens, on a sample."""
    sample = [r for r in records[:SUBSTAGE_SAMPLE] if isinstance(r, CaseDigest)]
    texts = [pair for record in sample for pair in texts_of(record)]
    folded = [(name, fold(text)) for name, text in texts]
    cutter = segmenter._cutter  # the bare cut, without the sub-word expansion around it
    n = len(sample)

    def each(call: Callable[[str], object], pairs: Sequence[tuple[str, str]]) -> Callable[[], None]:
        def work() -> None:
            for _, text in pairs:  # results are dropped: keeping them would time the collector too
                call(text)
        return work

    stages.measure("(b1) folding", n, each(fold, texts))
    stages.measure("(b2) word cut only (cutter)", n, each(cutter.cut, folded))
    stages.measure("(b3) words + sub-words (index_text, cut included)", n, each(segmenter.index_text, folded))
    stages.measure("(b4) character tokens (chars_text)", n,
                   each(segmenter.chars_text, [(name, t) for name, t in folded if name in CHAR_FIELDS]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file of the real cases")
    parser.add_argument("--port", type=int, default=9286, help="port of the node this script starts")
    parser.add_argument("--es-url", help="a running node to use instead (give its java pid with --es-pid)")
    parser.add_argument("--es-pid", type=int, help="pid of the --es-url node's java process, for its CPU time")
    parser.add_argument("--no-es", action="store_true", help="skip the Elasticsearch stages")
    parser.add_argument("--keep-node", action="store_true", help="leave the node this script started running")
    parser.add_argument("--cutter", choices=("native", "jieba"), default="native")
    args = parser.parse_args(argv)
    n = args.cases
    command = f"python bench/load_stages.py --cases {n}" + (" --no-es" if args.no_es else f" --port {args.port}")
    if args.cutter != "native":
        command += f" --cutter {args.cutter}"
    print(f"$ {command}")
    print(machine_info())
    print(f"load average at the start {os.getloadavg()[0]:.1f}")

    stages = Stages()
    url = None
    if not args.no_es:
        url = args.es_url or start_node(args.port, "1g")
        run_root = Path(os.environ.get("CASEDIGEST_ES_RUN", "/tmp/casedigest-es"))
        stages.node_pid = args.es_pid or int((run_root / str(args.port) / "run/es.pid").read_text().strip())
        before = process_cpu(stages.node_pid)
        time.sleep(IDLE_S)
        print(f"the node at rest: {(process_cpu(stages.node_pid) - before) / IDLE_S * 1000:.0f} ms of CPU per second "
              f"(over {IDLE_S:.0f} s, before anything is loaded; counted in its figures below)")
    segmenter = Segmenter(cutter=args.cutter)
    with tempfile.TemporaryDirectory(prefix="casedigest-load-stages-") as tmp:
        folder = Path(tmp)
        path = folder / "cases.jsonl"
        progress(f"writing {n:,} cases to {path} …")
        write_jsonl(args.data, n, path)
        try:
            run(stages, path, n, segmenter, folder, url)
        finally:
            if url and not args.es_url and not args.keep_node:
                stop_node(args.port)
    print()
    print(stages.table())
    print()
    print(verdict(stages))
    return 0


def run(stages: Stages, path: Path, n: int, segmenter: Segmenter, folder: Path, url: str | None) -> None:
    def parse_only() -> None:
        for row in iter_rows(path):
            assert not isinstance(row, Rejection)

    records: list[Record] = []

    def read_and_validate() -> None:
        for _, item in read_records(path):
            if isinstance(item, Rejection):
                raise SystemExit(f"rejected: {item}")
            records.append(item)

    stages.measure("(a1) read + JSON parse", n, parse_only)
    stages.measure("(a2) read + parse + validate + crime forms", n, read_and_validate)
    stages.measure("(a3) content hash (also inside each engine's upsert, so inside (c))", n, lambda: [r.content_hash() for r in records])
    units_for(records[0], segmenter)  # the first call builds lazy tables
    units: dict[str, list[IndexUnit]] = {}

    def segment() -> None:
        for record in records:
            units[record.id] = units_for(record, segmenter)

    how = "native extension" if segmenter.native_streams else "Python around the cutter"
    stages.measure(f"(b) token streams (units_for), one thread, {how}", n, segment)
    if segmenter.native_streams:
        python_streams = Segmenter(cutter=segmenter.cutter_name, native_streams=False)
        units_for(records[0], python_streams)

        def segment_in_python() -> None:
            for record in records:
                units_for(record, python_streams)

        stages.measure("(b-py) the same, Python around the native cutter (no extension)", n, segment_in_python)
    segmentation_substages(stages, records, segmenter)
    all_units = [u for us in units.values() for u in us]
    stages.measure("(c1) record JSON for SQLite", n, lambda: [record_to_json(r) for r in records])
    stages.measure("(c2) tantivy documents built (not added)", n, lambda: [EmbeddedEngine._document(u) for u in all_units])
    embedded = EmbeddedEngine(folder / "stages.db", segmenter, replay_every=None)
    embedded.unit_pool.close()
    embedded.unit_pool = PrebuiltUnits(units)  # type: ignore[assignment]
    try:
        stages.measure("(c) embedded write, streams pre-built (upsert + finish_writes)", n, lambda: load(embedded, records))
    finally:
        embedded.close()
    if url is None:
        return
    elastic = open_engine(es_settings(url, f"bench-stages-{os.getpid()}"), segmenter)
    assert isinstance(elastic, ElasticEngine)
    elastic.unit_pool.close()
    elastic.unit_pool = PrebuiltUnits(units)  # type: ignore[assignment]
    try:
        stages.measure("(c) elasticsearch write, streams pre-built (upsert + finish_writes + merge)", n,
                       lambda: load(elastic, records), node=True)
    finally:
        elastic.drop()
        elastic.close()
    peer = Peer(elasticsearch_client(es_settings(url, "unused")), "es-standard", f"bench-stages-peer-{os.getpid()}")
    peer.drop()
    peer.create()
    try:
        stages.measure("(peer) es-standard: raw title + summary, streaming_bulk + refresh + merge", n,
                       lambda: peer.load(records), node=True)
    finally:
        peer.drop()


def verdict(stages: Stages) -> str:
    """Each engine's stages against the CPU a target leaves per case."""
    by = {s.label.split(" ", 1)[0]: s for s in stages.rows}
    ms = {key: s.ms() for key, s in by.items()}
    writes = {s.label.split(" ")[1]: s.ms() for s in stages.rows if s.label.startswith("(c) ")}
    lines = [f"Budget: a target of R cases/s on {CORES} cores leaves {CORES} × 1000 / R ms of CPU per case."]
    read = ms["(a2)"]  # the content hash is made inside `upsert`, so (c) holds it
    for engine, write in writes.items():
        target = LOAD_TARGETS[engine]
        budget = CORES * 1000 / target
        floor = read + write
        line = (f"{engine}: target {target:,} cases/s → {budget:.3f} ms/case. read+validate {read:.3f} + write "
                f"(hash included) {write:.3f} = {floor:.3f} ms/case with free token streams (at most "
                f"{CORES * 1000 / floor:,.0f} cases/s)")
        for key, how in (("(b)", "this run's streams"), ("(b-py)", "the Python streams")):
            if key in ms:
                line += (f"; with {how} (+{ms[key]:.3f}) {floor + ms[key]:.3f} ms/case (at most "
                         f"{CORES * 1000 / (floor + ms[key]):,.0f} cases/s)")
        lines.append(line + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
