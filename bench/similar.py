"""Similar-case search (类案检索): ranking quality, charge prediction and speed, beside peers.

    python bench/similar.py                      # both engines and every peer (starts its own node)
    python bench/similar.py --systems embedded   # quick: the product on the embedded engine and the old method
    python bench/similar.py --write-readme       # also put the tables into README.md
    python bench/similar.py --tune               # the weight grid on the tune split (embedded engine)
    python bench/similar.py --speed-cases 100000 # only latency, over 100k replicated cases
                                                 # (with --write-readme: bench/results/similar_speed.md)
    python bench/similar.py --charges            # charge prediction only: vote, model and blend

Queries are pasted facts: held-out real cases (their `fact`, removed from the index — the
index holds every other case) and the fact descriptions written for the project in
`bench/similar/queries.jsonl`. A candidate is graded 2 when it carries exactly the query's
charges, 1 when it shares one charge or a crime form, else 0. Systems, in the same run:

- `product (embedded)`, `product (elasticsearch)`: `SearchService.similar` through the core;
- `old related`: the product's previous related-cases method (20 words by tf·idf, OR on summary);
- `bm25 jieba OR`: Elasticsearch, the record's text cut by jieba's search mode under the
  `whitespace` analyzer, queried with a `match` (OR) over the whole pasted text cut the same way;
- `es more_like_this`: Elasticsearch's `more_like_this` on the raw text, `standard` analyzer
  (`min_term_freq` 1 so a short text keeps its words; other settings are Elasticsearch's defaults).

Two corpora: the real digests, and long pseudo-judgments (each case's fact followed by the
facts of the next cases carrying the same charges until 5,000–10,000 characters, kept in
`summary`), to see ranking on judgment-length candidates. Tune on the `tune` split; the
`holdout` split is the figure to quote.

Speed: 100 texts of 400 and of 2,000 characters (held-out facts joined), each system timed
per text after a few untimed ones, the product answering its first page (10 dressed hits);
`--speed-cases N` times only that, over N records replicated from the real cases under
distinct ids (as `bench/load_and_query.py` makes them).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import jieba  # noqa: E402
from elasticsearch import Elasticsearch, helpers  # noqa: E402

from bench.engines import es_settings, load_engine, start_node, stop_node, wait_for_merges  # noqa: E402
from bench.load_and_query import prepare_records  # noqa: E402
from bench.metrics import charge_forms  # noqa: E402
from indexing.records.crime_form_inference import infer_crime_forms, infer_from_text, normalize_charge  # noqa: E402
from indexing.engines.base import Engine  # noqa: E402
from indexing.engines.embedded import EmbeddedEngine  # noqa: E402
from indexing.loading.field_map import FieldMap  # noqa: E402
from indexing.text.folding import fold  # noqa: E402
from indexing.loading.loader import read_records  # noqa: E402
from indexing.query.model import EngineQuery, Or, Term  # noqa: E402
from indexing.records.model import CaseDigest  # noqa: E402
from indexing.core.search import SearchService  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from indexing.similar.models import SimilarRequest  # noqa: E402
from service.state import elasticsearch_client, open_engine  # noqa: E402

DATA = REPO_ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"
FIELD_MAP = REPO_ROOT / "indexing/field_maps/cail2018.toml"
WRITTEN = REPO_ROOT / "bench/similar/queries.jsonl"
README = REPO_ROOT / "README.md"
SPEED_RESULTS = REPO_ROOT / "bench/results/similar_speed.md"
MARK_START, MARK_END = "<!-- similar:start -->", "<!-- similar:end -->"
QUERY_SHARE = 11  # one case in this many (by id hash) is a query and leaves the index
DEPTH = 30
LONG_MIN, LONG_MAX = 5_000, 10_000
WARMUP = 5  # untimed queries per system and text length before the timed ones


# ---- queries and grades ------------------------------------------------------------------
@dataclass(frozen=True)
class SimQuery:
    id: str
    text: str
    charges: tuple[str, ...]
    split: str
    kind: str  # "case" (a held-out real case) or "written" (bench/similar/queries.jsonl)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def split_of(query_id: str) -> str:
    return "holdout" if _hash("split:" + query_id) % 2 else "tune"


def real_cases() -> list[CaseDigest]:
    records = []
    for _, item in read_records(DATA, FieldMap.load(FIELD_MAP)):
        if isinstance(item, CaseDigest) and item.charges:
            records.append(item)
    return records


def pick_queries(records: Sequence[CaseDigest]) -> tuple[list[SimQuery], list[CaseDigest]]:
    """Every QUERY_SHARE-th case by id hash becomes a query; the rest make the index."""
    queries, index = [], []
    for record in records:
        if _hash(record.id) % QUERY_SHARE == 0:
            queries.append(SimQuery(record.id, record.summary, tuple(record.charges), split_of(record.id), "case"))
        else:
            index.append(record)
    return queries, index


def written_queries() -> list[SimQuery]:
    out = []
    for line in WRITTEN.read_text("utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            out.append(SimQuery(item["id"], item["text"], tuple(item["charges"]), item["split"], "written"))
    return out


def grade(candidate: Sequence[str], query: Sequence[str]) -> int:
    """2: exactly the query's charges; 1: one shared charge or crime form; 0: otherwise."""
    mine, theirs = {normalize_charge(c) for c in candidate}, {normalize_charge(c) for c in query}
    if mine == theirs:
        return 2
    if mine & theirs or charge_forms(candidate) & charge_forms(query):
        return 1
    return 0


def _dcg(grades: Iterable[int]) -> float:
    return sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(grades))


def score_ranking(ranked: Sequence[str], charges_of: dict[str, tuple[str, ...]], query: SimQuery,
                  ideal: list[int]) -> dict[str, float]:
    grades = [grade(charges_of.get(i, ()), query.charges) for i in ranked]
    out = {}
    for k in (10, 30):
        best = _dcg(ideal[:k])
        out[f"nDCG@{k}"] = _dcg(grades[:k]) / best if best else 0.0
    out["P@10"] = sum(1 for g in grades[:10] if g == 2) / 10
    out["MRR"] = next((1 / r for r, g in enumerate(grades, 1) if g == 2), 0.0)
    return out


def ideal_grades(query: SimQuery, index: Sequence[CaseDigest]) -> list[int]:
    return sorted((grade(r.charges, query.charges) for r in index), reverse=True)[:DEPTH]


# ---- long candidates -----------------------------------------------------------------------
def long_versions(records: Sequence[CaseDigest]) -> list[CaseDigest]:
    """Pseudo-judgments: each case's fact, then the facts of the next cases with the same charges."""
    groups: dict[tuple[str, ...], list[CaseDigest]] = defaultdict(list)
    for record in records:
        groups[tuple(sorted(record.charges))].append(record)
    out = []
    for group in groups.values():
        for i, record in enumerate(group):
            parts, size, j = [record.summary], len(record.summary), i + 1
            while size < LONG_MIN:
                other = group[j % len(group)].summary  # a one-case group repeats itself
                parts.append(other)
                size += len(other) + 1
                j += 1
            out.append(record.model_copy(update={"summary": "\n".join(parts)[:LONG_MAX]}))
    return out


# ---- systems -------------------------------------------------------------------------------
Ranker = Callable[[str], list[str]]


def product(service: SearchService) -> Ranker:
    _model_ready(service)
    return lambda text: [h.id for h in service.similar(SimilarRequest(text=text[:20_000], size=DEPTH)).hits]


def first_page(service: SearchService) -> Ranker:
    """The product as a user meets it (for latency): the API's default page of hits."""
    _model_ready(service)
    return lambda text: [h.id for h in service.similar(SimilarRequest(text=text[:20_000])).hits]


def _model_ready(service: SearchService) -> None:
    """Wait for the index's charge model: a running service trains it once, in the background,
    and answers with the vote alone until then; measuring before it is ready would measure
    that start-up window, differently on each engine."""
    started = time.perf_counter()
    service.charge_predictor.ready()
    progress(f"  charge model ready after {time.perf_counter() - started:.1f} s")


def old_related(service: SearchService) -> Ranker:
    """The related-cases method the product had before similar-case search, over any text."""
    def rank(text: str) -> list[str]:
        counts = Counter(w for w in service.segmenter.words(fold(text)) if len(w) > 1)
        dfs = service.engine.doc_freqs(counts)
        weights = {w: tf * math.log(1 + dfs.total / (1 + dfs.words[w]))
                   for w, tf in counts.items() if dfs.words.get(w, 0) >= 2}
        top = sorted(weights, key=lambda w: -weights[w])[:20]
        if not top:
            return []
        query = EngineQuery(match=Or(tuple(Term(w, "summary") for w in top)),
                            size=DEPTH)
        return [h.record_id for h in service.engine.search(query).hits]
    return rank


class PlainIndex:
    """A plain Elasticsearch index of each record's raw text (peers: BM25 jieba OR, more_like_this)."""

    def __init__(self, client: Elasticsearch, name: str, analyzer: str, cut: jieba.Tokenizer | None) -> None:
        self.client, self.name, self.analyzer, self.cut = client, name, analyzer, cut

    def tokens(self, text: str) -> str:
        if self.cut is None:
            return text
        return " ".join(t for t in self.cut.cut_for_search(text) if t.strip())

    def load(self, records: Sequence[CaseDigest]) -> None:
        self.client.options(ignore_status=404).indices.delete(index=self.name)
        self.client.indices.create(index=self.name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                                   mappings={"properties": {"text": {"type": "text", "analyzer": self.analyzer}}})
        actions = ({"_index": self.name, "_id": r.id, "_source": {"text": self.tokens(f"{r.title}\n{r.summary}")}}
                   for r in records)
        for _ in helpers.streaming_bulk(self.client, actions, chunk_size=500, raise_on_error=True):
            pass
        self.client.indices.refresh(index=self.name)
        self.client.indices.forcemerge(index=self.name, max_num_segments=1, wait_for_completion=False)
        wait_for_merges(self.client)

    def match_or(self, text: str) -> list[str]:
        query = {"match": {"text": self.tokens(text)}}
        return [h["_id"] for h in self.client.search(index=self.name, query=query, size=DEPTH, source=False)["hits"]["hits"]]

    def more_like_this(self, text: str) -> list[str]:
        query = {"more_like_this": {"fields": ["text"], "like": text, "min_term_freq": 1}}
        return [h["_id"] for h in self.client.search(index=self.name, query=query, size=DEPTH, source=False)["hits"]["hits"]]

    def drop(self) -> None:
        self.client.options(ignore_status=404).indices.delete(index=self.name)


# ---- evaluation ----------------------------------------------------------------------------
METRICS = ("nDCG@10", "nDCG@30", "P@10", "MRR")


def evaluate(rankers: dict[str, Ranker], queries: Sequence[SimQuery], index: Sequence[CaseDigest]
             ) -> dict[str, dict[str, dict[str, float]]]:
    """{system: {query id: metrics}}."""
    charges_of = {r.id: tuple(r.charges) for r in index}
    ideals = {q.id: ideal_grades(q, index) for q in queries}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, rank in rankers.items():
        started = time.perf_counter()
        out[name] = {q.id: score_ranking(rank(q.text), charges_of, q, ideals[q.id]) for q in queries}
        progress(f"  {name}: {len(queries)} queries in {time.perf_counter() - started:.0f} s")
    return out


def quality_table(results: dict[str, dict[str, dict[str, float]]], queries: Sequence[SimQuery]) -> str:
    groups = [("held-out cases", lambda q: q.kind == "case" and q.split == "holdout"),
              ("tune cases", lambda q: q.kind == "case" and q.split == "tune"),
              ("written, held-out", lambda q: q.kind == "written" and q.split == "holdout"),
              ("written, tune", lambda q: q.kind == "written" and q.split == "tune")]
    lines = ["| system | queries | n | " + " | ".join(METRICS) + " |", "|---|---|---:|" + "---:|" * len(METRICS)]
    for label, keep in groups:
        chosen = [q.id for q in queries if keep(q)]
        if not chosen:
            continue
        for name, per_query in results.items():
            cells = [f"{statistics.fmean(per_query[i][m] for i in chosen):.3f}" for m in METRICS]
            lines.append(f"| {name} | {label} | {len(chosen)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def charge_prediction(service: SearchService, queries: Sequence[SimQuery]) -> str:
    """Top-1 / top-3 of the predicted charges, and crime forms from text, on held-out cases."""
    held = [q for q in queries if q.kind == "case" and q.split == "holdout"]
    top1 = top3 = 0.0
    forms_voted: Counter[str] = Counter()
    scores: dict[str, dict[str, Counter[str]]] = {"predicted": defaultdict(Counter), "text cues": defaultdict(Counter)}
    for q in held:
        result = service.similar(SimilarRequest(text=q.text, size=1))
        predicted = [normalize_charge(p.value) for p in result.predicted_charges]
        truth = {normalize_charge(c) for c in q.charges}
        top1 += bool(predicted[:1] and predicted[0] in truth)
        top3 += len(truth & set(predicted[:3])) / len(truth)
        expected = set(infer_crime_forms(q.charges, q.text))
        guesses = {"predicted": {p.value for p in result.predicted_crime_forms if p.confidence >= 0.5},
                   "text cues": set(infer_from_text(fold(q.text)))}
        for method, got in guesses.items():
            for form in expected | got:
                key = "tp" if form in expected and form in got else ("fp" if form in got else "fn")
                scores[method][form][key] += 1
                scores[method]["(micro)"][key] += 1
        forms_voted.update(expected)
    n = len(held)
    lines = [f"Charge prediction on {n} held-out cases: top-1 accuracy **{top1 / n:.3f}**, "
             f"top-3 recall **{top3 / n:.3f}**.", "",
             "| crime form | support | predicted P | predicted R | predicted F1 | text cues P | text cues R |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def prf(c: Counter[str]) -> tuple[float, float, float]:
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    rows = ["(micro)"] + [f for f, _ in forms_voted.most_common() if forms_voted[f] >= 10]
    for form in rows:
        vp, vr, vf = prf(scores["predicted"][form])
        tp, tr, _ = prf(scores["text cues"][form])
        support = scores["predicted"][form]["tp"] + scores["predicted"][form]["fn"]
        lines.append(f"| {form} | {support} | {vp:.3f} | {vr:.3f} | {vf:.3f} | {tp:.3f} | {tr:.3f} |")
    return "\n".join(lines)


def charge_methods(service: SearchService, queries: Sequence[SimQuery]) -> str:
    """Top-1 / top-3 of the vote, the charge model and their blend, on both splits, in one run.

    Top-1 counts a case when the first predicted charge is one of its charges; top-3 is the
    share of a case's charges found among the first three predicted, averaged over cases (a
    case of two charges with one of them in the top three counts 0.5).

    The blend's weight and the model's sharpness were chosen on the tune split; `MODEL_WEIGHT`
    1.0 is the model alone and 0.0 the vote alone (the blend drops a side of weight 0).
    """
    from indexing.similar import charge_model

    started = time.perf_counter()
    service.charge_predictor.ready()
    progress(f"  charge model trained in {time.perf_counter() - started:.1f} s")
    chosen = charge_model.MODEL_WEIGHT
    lines = ["| method | split | n | top-1 | top-3 | ms per text (model) |", "|---|---|---:|---:|---:|---:|"]
    for label, weight in (("vote of the nearest cases", 0.0), ("linear model (tf-idf, LinearSVC)", 1.0),
                          (f"blend (model weight {chosen})", chosen)):
        charge_model.MODEL_WEIGHT = weight
        for split in ("tune", "holdout"):
            held = [q for q in queries if q.kind == "case" and q.split == split]
            top1 = top3 = 0.0
            for q in held:
                predicted = [normalize_charge(p.value) for p in service.similar(SimilarRequest(text=q.text, size=1)).predicted_charges]
                truth = {normalize_charge(c) for c in q.charges}
                top1 += bool(predicted[:1] and predicted[0] in truth)
                top3 += len(truth & set(predicted[:3])) / len(truth)
            started = time.perf_counter()
            for q in held:
                service.charge_predictor.predict(q.text)
            per_text = (time.perf_counter() - started) * 1000 / len(held)
            lines.append(f"| {label} | {split} | {len(held)} | {top1 / len(held):.3f} | {top3 / len(held):.3f} | {per_text:.1f} |")
    charge_model.MODEL_WEIGHT = chosen
    return "\n".join(lines)


def latency(rankers: dict[str, Ranker], texts: dict[str, list[str]]) -> str:
    lines = ["| system | text | p50 ms | p99 ms |", "|---|---|---:|---:|"]
    for name, rank in rankers.items():
        for label, batch in texts.items():
            for text in batch[:WARMUP]:  # caches (document frequencies, the node's) filled first
                rank(text)
            times = []
            for text in batch:
                started = time.perf_counter()
                rank(text)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            lines.append(f"| {name} | {label} | {statistics.median(times):.1f} | "
                         f"{times[min(len(times) - 1, int(len(times) * 0.99))]:.1f} |")
    return "\n".join(lines)


def speed_texts(queries: Sequence[SimQuery], count: int = 100) -> dict[str, list[str]]:
    """400- and 2,000-character texts: held-out facts, joined to the next ones until long enough."""
    facts = [q.text for q in queries if q.kind == "case"]

    def of_length(n: int) -> list[str]:
        out = []
        for i in range(count):
            text, j = "", i
            while len(text) < n:
                text += facts[j % len(facts)]
                j += 1
            out.append(text[:n])
        return out

    return {"400 chars": of_length(400), "2,000 chars": of_length(2_000)}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Systems:
    """Every system over one set of records, and how to tear them down."""

    rankers: dict[str, Ranker]
    services: dict[str, SearchService]
    engines: list[Engine]
    plain: list[PlainIndex]

    def timed(self) -> dict[str, Ranker]:
        """The systems to time: the product answering a first page, the others as ranked."""
        return {name: first_page(self.services[name]) if name in self.services else rank
                for name, rank in self.rankers.items()}

    def close(self) -> None:
        for peer in self.plain:
            peer.drop()
        for engine in self.engines:
            if hasattr(engine, "drop"):
                engine.drop()  # type: ignore[attr-defined]
            engine.close()


def build_systems(label: str, index: Sequence[CaseDigest], segmenter: Segmenter, workdir: Path,
                  url: str | None) -> Systems:
    """The product on each engine, the old method and (with a node) the peers, loaded with `index`."""
    progress(f"[{label}] loading {len(index):,} records into the embedded engine …")
    engines: list[Engine] = [EmbeddedEngine(workdir / f"{label}.db", segmenter)]
    systems = Systems({}, {}, engines, [])
    try:
        load_engine(engines[0], index, "embedded")
        systems.services["product (embedded)"] = SearchService(engines[0], segmenter)
        systems.rankers["product (embedded)"] = product(systems.services["product (embedded)"])
        if url:
            progress(f"[{label}] loading into Elasticsearch and the peers …")
            elastic = open_engine(es_settings(url, f"bench-similar-{label}"), segmenter)
            engines.append(elastic)
            load_engine(elastic, index, "elasticsearch")
            systems.services["product (elasticsearch)"] = SearchService(elastic, segmenter)
            systems.rankers["product (elasticsearch)"] = product(systems.services["product (elasticsearch)"])
        systems.rankers["old related"] = old_related(systems.services["product (embedded)"])
        if url:
            client = elasticsearch_client(es_settings(url, "unused"))
            cut = jieba.Tokenizer()
            cut.initialize()
            bm25 = PlainIndex(client, f"bench-similar-jieba-{label}", "whitespace", cut)
            mlt = PlainIndex(client, f"bench-similar-standard-{label}", "standard", None)
            for peer in (bm25, mlt):
                systems.plain.append(peer)
                peer.load(index)
            systems.rankers["bm25 jieba OR"] = bm25.match_or
            systems.rankers["es more_like_this"] = mlt.more_like_this
    except BaseException:
        systems.close()
        raise
    return systems


def run_corpus(label: str, index: Sequence[CaseDigest], queries: Sequence[SimQuery], segmenter: Segmenter,
               workdir: Path, url: str | None, speed: bool) -> list[str]:
    """Quality (and speed) of every system over one corpus; markdown sections."""
    systems = build_systems(label, index, segmenter, workdir, url)
    try:
        progress(f"[{label}] ranking {len(queries)} queries …")
        sections = [f"#### {label}\n\n" + quality_table(evaluate(systems.rankers, queries, index), queries)]
        if speed:
            sections.append(f"#### speed, {label} ({len(index):,} records)\n\n"
                            + latency(systems.timed(), speed_texts(queries)))
            sections.append(charge_prediction(systems.services["product (embedded)"], queries))
        return sections
    finally:
        systems.close()


def run_speed(cases: int, queries: Sequence[SimQuery], segmenter: Segmenter, workdir: Path, url: str | None) -> str:
    """Latency of every system over `cases` records replicated from the real ones (distinct ids)."""
    progress(f"[speed] preparing {cases:,} records …")
    records = [r for r in prepare_records(DATA, cases) if isinstance(r, CaseDigest)]
    systems = build_systems(f"speed{cases}", records, segmenter, workdir, url)
    del records
    try:
        progress(f"[speed] timing {len(systems.rankers)} systems …")
        return (f"#### speed, {cases:,} records (the real cases replicated under new ids)\n\n"
                + latency(systems.timed(), speed_texts(queries)))
    finally:
        systems.close()


# The grid the weights were chosen from: (module, constant) → values, one at a time from the
# chosen setting, scored on the tune split only.
TUNING_GRID: dict[tuple[str, str], list[Any]] = {
    ("method", "CHARGE_WEIGHT"): [0.0, 0.3, 0.6, 1.0, 1.5],
    ("method", "EXTRA_CHARGE_PENALTY"): [0.0, 0.3, 0.6],
    ("method", "QUERY_IDF_POWER"): [0.0, 0.5, 1.0],
    ("method", "FIELDS"): [None, ("summary", "full_text"), ("title", "summary", "full_text")],
    ("keyterms", "MAX_TERMS"): [20, 40, 80, 120],
    ("keyterms", "BOILERPLATE_SHARE"): [0.1, 0.2, 0.3, 0.5, 1.0],
    ("charge_vote", "VOTERS"): [8, 15, 25],
}


def tune(segmenter: Segmenter, queries: Sequence[SimQuery], index: Sequence[CaseDigest], workdir: Path,
         only: Sequence[str] = (), settings: Sequence[str] = ()) -> None:
    """nDCG@10 on the tune split for each value of each constant (or of those `only` names), the others as chosen."""
    from indexing.similar import charge_vote, keyterms, method

    modules = {"method": method, "keyterms": keyterms, "charge_vote": charge_vote}
    for setting in settings:
        name, value = setting.split("=", 1)
        module = next(m for (m, n) in TUNING_GRID if n == name)
        setattr(modules[module], name, ast.literal_eval(value))
        print(f"{name} set to {value}", flush=True)
    engine = EmbeddedEngine(workdir / "tune.db", segmenter)
    load_engine(engine, index, "embedded")
    service = SearchService(engine, segmenter)
    chosen = [q for q in queries if q.split == "tune"]
    for (module, name), values in TUNING_GRID.items():
        if only and name not in only:
            continue
        kept = getattr(modules[module], name)
        for value in values:
            setattr(modules[module], name, value)
            scores = evaluate({"product": product(service)}, chosen, index)["product"]
            print(f"{name} = {value!r}: nDCG@10 {statistics.fmean(m['nDCG@10'] for m in scores.values()):.4f}"
                  + ("  (chosen)" if value == kept else ""), flush=True)
        setattr(modules[module], name, kept)
    engine.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", choices=["all", "embedded"], default="all")
    parser.add_argument("--corpus", choices=["both", "digests", "long"], default="both")
    parser.add_argument("--port", type=int, default=9273, help="port of the Elasticsearch node it starts")
    parser.add_argument("--url", help="use this running Elasticsearch node instead of starting one")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--tune", action="store_true", help="print the weight grid on the tune split and stop")
    parser.add_argument("--only", metavar="NAMES", help="with --tune: only these constants (comma-separated)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="with --tune: start the grid from this value of a constant of the grid")
    parser.add_argument("--speed-cases", type=int, metavar="N",
                        help="only time every system over N records replicated from the real cases, and stop")
    parser.add_argument("--charges", action="store_true", help="charge prediction only (embedded engine)")
    args = parser.parse_args(argv)
    segmenter = Segmenter()
    queries, index = pick_queries(real_cases())
    queries += written_queries()
    if args.charges:
        with tempfile.TemporaryDirectory() as tmp:
            engine = EmbeddedEngine(Path(tmp) / "charges.db", segmenter)
            load_engine(engine, index, "embedded")
            print(charge_methods(SearchService(engine, segmenter), queries), flush=True)
            engine.close()
        return 0
    if args.tune:
        with tempfile.TemporaryDirectory() as tmp:
            for corpus in (["digests", "long"] if args.corpus == "both" else [args.corpus]):
                print(f"[{corpus}]", flush=True)
                tune(segmenter, queries, long_versions(index) if corpus == "long" else index, Path(tmp),
                     args.only.split(",") if args.only else (), args.set)
        return 0
    started_node = args.systems == "all" and not args.url
    url = args.url or (start_node(args.port, "1g") if started_node else None)
    sections = []
    if args.speed_cases:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                before = os.getloadavg()[0]
                table = run_speed(args.speed_cases, queries, segmenter, Path(tmp), url)
        finally:
            if started_node:
                stop_node(args.port)
        command = "python bench/similar.py --speed-cases " + str(args.speed_cases)
        report = (f"# Similar-case search: latency\n\n`{command}`\n\n{os.cpu_count()} cores; load average "
                  f"{before:.1f} before the loads, {os.getloadavg()[0]:.1f} after the queries (other processes "
                  f"share the cores). Product: `SearchService.similar` answering the first page "
                  f"({SimilarRequest.model_fields['size'].default} hits, dressed); {WARMUP} untimed queries per row first.\n\n" + table + "\n")
        print(report, flush=True)
        if args.write_readme:
            SPEED_RESULTS.write_text(report, "utf-8")
        return 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.corpus in ("both", "digests"):
                sections += run_corpus("digests", index, queries, segmenter, Path(tmp), url, speed=True)
                print("\n\n".join(sections), flush=True)  # the figures so far, before the long corpus
            if args.corpus in ("both", "long"):
                sections += run_corpus("long", long_versions(index), queries, segmenter, Path(tmp), url, speed=False)
    finally:
        if started_node:
            stop_node(args.port)
    markdown = "\n\n".join(sections)
    if args.corpus == "both":
        print("\n\n" + sections[-1])
    elif args.corpus == "long":
        print(markdown)
    if args.write_readme:
        text = README.read_text("utf-8")
        start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
        command = "python bench/similar.py --write-readme"
        README.write_text(text[:start] + f"\n\n`{command}`\n\n" + markdown + "\n\n" + text[end:], "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
