"""Ranking quality on the judged query set, for our engines and two Elasticsearch peers.

    python bench/relevance.py                     # all four systems (starts its own node)
    python bench/relevance.py --systems embedded  # quick: the embedded engine only (for tuning)
    python bench/relevance.py --write-readme      # also put the tables into README.md
    python bench/relevance.py --systems embedded --write-baseline   # the regression test's figure

Systems: the embedded engine and the Elasticsearch engine through the search core (synonyms,
charge-aware ranking, graceful AND), and as peers on the same cases Elasticsearch's `standard`
analyzer on the raw text with `match` (OR), and jieba search-mode tokens under the
`whitespace` analyzer with `match` (OR). The queries (`bench/relevance/queries.jsonl`) are
judged by the cases' charges (`bench/metrics.py`); tune-split and held-out figures are shown
apart. `--no-expand` runs our engines without the synonym dictionary, to measure it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.metrics import (  # noqa: E402
    NDCG,
    evaluate_ranking,
    format_table,
    judge_by_id,
    load_cases,
    load_queries,
    summarize,
)
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.loading.field_map import FieldMap  # noqa: E402
from indexing.loading.loader import load_files  # noqa: E402
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from indexing.loading.writes import Writer  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"
BASELINE = REPO_ROOT / "bench/relevance/baseline.json"
README = REPO_ROOT / "README.md"
MARK_START, MARK_END = "<!-- relevance:start -->", "<!-- relevance:end -->"


def evaluate_service(service: SearchService, data: Path, expand: bool = True) -> dict[str, dict[str, float]]:
    """Per-query metrics of one search core over the real cases (loaded under their own ids)."""
    queries = load_queries()
    grades = judge_by_id(queries, load_cases(data))
    metrics = {}
    for query in queries:
        result = service.search(SearchRequest(q=query.q, crime_form=list(query.crime_form), size=10, expand=expand))
        metrics[query.id] = evaluate_ranking([h.id for h in result.hits], grades[query.id], total=result.total)
    return metrics


def embedded_service(data: Path, workdir: Path, segmenter: Segmenter) -> SearchService:
    engine = EmbeddedEngine(workdir / "relevance.sqlite3", segmenter)
    load_files([data], Writer(engine, "bench"), FieldMap.load(REPO_ROOT / "indexing/field_maps/cail2018.toml"))
    return SearchService(engine, segmenter)


def mean_ndcg(metrics: dict[str, dict[str, float]], split: str | None = None) -> float:
    by_id = {q.id: q for q in load_queries()}
    values = [m[NDCG] for qid, m in metrics.items() if split is None or by_id[qid].split == split]
    return sum(values) / len(values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", choices=["all", "embedded"], default="all")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-expand", action="store_true", help="our engines without synonyms")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--write-baseline", action="store_true")
    parser.add_argument("--port", type=int, default=9272, help="port of the Elasticsearch node it starts")
    args = parser.parse_args(argv)
    segmenter = Segmenter()
    queries = load_queries()
    if args.systems == "embedded":
        with tempfile.TemporaryDirectory() as tmp:
            service = embedded_service(args.data, Path(tmp), segmenter)
            metrics = evaluate_service(service, args.data, expand=not args.no_expand)
            service.engine.close()
        print(format_table(summarize(metrics, queries)))
        worst = sorted(metrics, key=lambda qid: metrics[qid][NDCG])[:15]
        by_id = {q.id: q for q in queries}
        for qid in worst:
            print(f"{qid} {by_id[qid].kind:11s} {metrics[qid][NDCG]:.3f} {by_id[qid].q}")
        print(f"nDCG@10 all {mean_ndcg(metrics):.4f}  tune {mean_ndcg(metrics, 'tune'):.4f}  "
              f"holdout {mean_ndcg(metrics, 'holdout'):.4f}")
        if args.write_baseline:
            BASELINE.write_text(json.dumps({"ndcg_at_10": round(mean_ndcg(metrics), 4),
                                            "command": "python bench/relevance.py --systems embedded --write-baseline"},
                                           indent=2) + "\n")
        return 0
    from bench.engines import quality_report  # starts and stops its own node

    markdown = quality_report(args.data, segmenter, args.port, expand=not args.no_expand)
    print(markdown)
    if args.write_readme:
        text = README.read_text("utf-8")
        start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
        command = "python bench/relevance.py --write-readme" + (" --no-expand" if args.no_expand else "")
        README.write_text(text[:start] + f"\n\n`{command}`\n\n" + markdown + "\n" + text[end:], "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
