"""What charge feedback (`indexing/core/feedback.py`) buys and costs, on both engines.

The 163 judged queries run through the search core with charge feedback on and off, in
alternating rounds over the same loaded engines: nDCG@10 per query kind, and latency
p50 / p99 per setting. With `--cases N`, the real cases are replicated to N records under
new ids for the latency figures (the judgments name the original ids, so quality is then
not computed).

    python bench/feedback_cost.py                 # 4,496 real cases, both engines
    python bench/feedback_cost.py --cases 100000  # latency at 100k
    python bench/feedback_cost.py --engines embedded
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.engines import es_settings, load_engine, start_node, stop_node  # noqa: E402
from bench.load_and_query import DEFAULT_DATA, percentile, prepare_records  # noqa: E402
from bench.metrics import NDCG, evaluate_ranking, judge_by_id, load_cases, load_queries  # noqa: E402
from indexing.core.models import SearchRequest  # noqa: E402
from indexing.core.search import SearchService  # noqa: E402
from indexing.engines.base import Engine, Record  # noqa: E402
from indexing.engines.elastic.engine import ElasticEngine  # noqa: E402
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.loading.field_map import FieldMap  # noqa: E402
from indexing.loading.loader import read_records  # noqa: E402
from indexing.records.model import CaseDigest, Resolution  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from service.state import open_engine  # noqa: E402

FIELD_MAP = REPO_ROOT / "indexing/field_maps/cail2018.toml"


def real_records(data: Path) -> list[Record]:
    """The real cases under their own ids (what the judgments name)."""
    return [r for _, r in read_records(data, FieldMap.load(FIELD_MAP)) if isinstance(r, (CaseDigest, Resolution))]


def measure(engine: Engine, segmenter: Segmenter, rounds: int, judged: bool, data: Path) -> list[str]:
    """Markdown rows: per setting, nDCG@10 by kind (when judged) and latency p50 / p99."""
    queries = load_queries()
    grades = judge_by_id(queries, load_cases(data)) if judged else {}
    services = {"on": SearchService(engine, segmenter), "off": SearchService(engine, segmenter, charge_feedback=False)}
    times: dict[str, list[float]] = defaultdict(list)
    quality: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in services}
    for round_number in range(rounds + 1):  # round 0 warms both up and is not timed
        for name in (("on", "off") if round_number % 2 else ("off", "on")):
            service = services[name]
            for query in queries:
                request = SearchRequest(q=query.q, crime_form=list(query.crime_form), size=10)
                started = time.perf_counter()
                result = service.search(request)
                elapsed = (time.perf_counter() - started) * 1000
                if round_number == 0:
                    if judged:
                        ndcg = evaluate_ranking([h.id for h in result.hits], grades[query.id], total=result.total)[NDCG]
                        quality[name][query.kind].append(ndcg)
                        quality[name]["all"].append(ndcg)
                    continue
                times[name].append(elapsed)
    rows = []
    for name in services:
        kinds = quality[name]
        scores = " | ".join(f"{sum(v) / len(v):.3f}" for _, v in sorted(kinds.items())) if judged else ""
        rows.append(f"| {engine.name} | {name} | {scores} | {percentile(times[name], 0.5):.1f} | "
                    f"{percentile(times[name], 0.99):.1f} |")
    header_kinds = " | ".join(sorted(quality["on"])) if judged else ""
    return [f"| engine | feedback | {header_kinds} | p50 ms | p99 ms |", *rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=0, help="replicate to this many records (latency only)")
    parser.add_argument("--engines", default="embedded,elasticsearch")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds of the 163 queries per setting")
    parser.add_argument("--port", type=int, default=9266, help="port of the Elasticsearch node it starts")
    args = parser.parse_args(argv)
    segmenter = Segmenter()
    judged = args.cases == 0
    records = real_records(args.data) if judged else prepare_records(args.data, args.cases)
    print(f"{len(records):,} records; {args.rounds} timed rounds of the judged queries per setting\n")
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.engines.split(","):
            if kind == "embedded":
                engine: Engine = EmbeddedEngine(Path(tmp) / "feedback.sqlite3", segmenter)
            else:
                url = start_node(args.port, "2g")
                engine = open_engine(es_settings(url, "bench-feedback"), segmenter)
            try:
                load_engine(engine, records, kind)
                table = measure(engine, segmenter, args.rounds, judged, args.data)
                lines += table if not lines else table[1:]
            finally:
                if isinstance(engine, ElasticEngine):
                    engine.drop()
                    stop_node(args.port)
                engine.close()
    print(lines[0])
    print("|" + "---|" * (lines[0].count("|") - 1))
    print("\n".join(lines[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
