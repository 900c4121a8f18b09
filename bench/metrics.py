"""Judged queries and ranking metrics for the casedigest relevance benchmarks.

The judged query set is `bench/relevance/queries.jsonl` (format in `bench/relevance/README.md`).
Relevance is judged from the court's charges, not by hand, so every case of a corpus with
charges gets a grade for every query:

* 2 — the case carries one of the query's target charges;
* 1 — it carries none, but one of its charges shares a crime form with a target charge (forms
  from `infer_from_charges`, ancestors included, so two environmental sub-forms meet at
  `environment`); targets without any crime form never give grade 1;
* 0 — otherwise. A "filtered" query also gives 0 to every case outside its crime-form filter,
  because a search with that filter can never return such a case.

Metrics use graded gains 2^g − 1 with a log2 discount (nDCG@k, ideal DCG from the best ordering
of the grades of all judged cases), precision@k counting grade 2 only, and the reciprocal rank of
the first grade-2 result.

    from bench.metrics import load_queries, load_cases, judge_by_id, evaluate_ranking, summarize
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from indexing.records.crime_form_inference import infer_from_charges, normalize_charge
from indexing.records.crime_forms import TAXONOMY

ROOT = Path(__file__).resolve().parents[1]
QUERIES_PATH = ROOT / "bench/relevance/queries.jsonl"
CASES_PATH = ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"

KINDS = ("short", "colloquial", "traditional", "subword", "fact", "filtered")
SPLITS = ("tune", "holdout")

# Keys of the per-query metric dicts that `evaluate_ranking` returns and `summarize` reads.
NDCG = "ndcg@10"
PRECISION = "p@10"
RR = "rr"
RESULTS = "results"

_FIELDS = {"id", "q", "kind", "crime_form", "target_charges", "split", "note"}
_ID = re.compile(r"^q\d{3,}$")


@dataclass(frozen=True)
class Query:
    """One judged query. `crime_form` is the filter of a "filtered" query, empty otherwise."""

    id: str
    q: str
    kind: str
    target_charges: tuple[str, ...]
    split: str
    crime_form: tuple[str, ...] = ()
    note: str = ""


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _parse_query(obj: Any, where: str) -> Query:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown fields {unknown}")
    qid, text, kind, split = obj.get("id"), obj.get("q"), obj.get("kind"), obj.get("split")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise ValueError(f"{where}: id must look like 'q001', got {qid!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: q must be a non-empty string")
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if split not in SPLITS:
        raise ValueError(f"{where}: unknown split {split!r} (expected tune or holdout)")
    targets = obj.get("target_charges")
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and t.strip() for t in targets)
    ):
        raise ValueError(f"{where}: target_charges must be a non-empty list of charge names")
    forms = obj.get("crime_form", [])
    if not isinstance(forms, list) or not all(isinstance(code, str) for code in forms):
        raise ValueError(f"{where}: crime_form must be a list of crime-form codes")
    unknown_codes = [code for code in forms if TAXONOMY.get(code) is None]
    if unknown_codes:
        raise ValueError(f"{where}: unknown crime-form codes {unknown_codes}")
    if kind == "filtered" and not forms:
        raise ValueError(f"{where}: a filtered query needs a crime_form filter")
    if kind != "filtered" and forms:
        raise ValueError(f"{where}: only filtered queries carry a crime_form filter")
    note = obj.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}: note must be a string")
    return Query(qid, text, kind, tuple(targets), split, tuple(forms), note)


def load_queries(path: str | Path | None = None) -> list[Query]:
    """Read and validate a judged query file (default: `bench/relevance/queries.jsonl`).

    Raises ValueError naming the file and line for malformed JSON, a missing or unknown field,
    an unknown kind or split, empty target charges, an unknown crime-form code or a repeated id.
    Blank lines are skipped.
    """
    file = Path(path) if path is not None else QUERIES_PATH
    queries: list[Query] = []
    seen: dict[str, int] = {}
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{file}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON: {exc.msg}") from None
            query = _parse_query(obj, where)
            if query.id in seen:
                raise ValueError(f"{where}: id {query.id} repeats line {seen[query.id]}")
            seen[query.id] = lineno
            queries.append(query)
    return queries


def load_cases(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a JSONL case file (default: the CAIL2018 cases in `../shared`) as dicts."""
    file = Path(path) if path is not None else CASES_PATH
    with file.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _charge_forms(charge: str) -> frozenset[str]:
    return frozenset(infer_from_charges([charge]))


def charge_forms(charges: Iterable[str]) -> frozenset[str]:
    """The crime forms (with ancestors) of a list of charges, as `infer_from_charges` gives them."""
    forms: set[str] = set()
    for charge in charges:
        forms |= _charge_forms(charge)
    return frozenset(forms)


def grade(case_charges: Sequence[str], target_charges: Sequence[str]) -> int:
    """Relevance of a case with `case_charges` to a query with `target_charges`: 2, 1 or 0.

    2 when the case has a target charge (names compared after `normalize_charge`, so a trailing
    罪 or full-width brackets do not matter); 1 when a case charge and a target charge share a
    crime form; 0 otherwise. Grade 1 never applies when the targets have no crime form.
    """
    return _grade(
        _charge_keys(case_charges), charge_forms(case_charges),
        _charge_keys(target_charges), charge_forms(target_charges),
    )


def _charge_keys(charges: Iterable[str]) -> frozenset[str]:
    return frozenset(_key(charge) for charge in charges)


@lru_cache(maxsize=None)
def _key(charge: str) -> str:
    return normalize_charge(charge)


def _grade(
    case_keys: frozenset[str], case_forms: frozenset[str],
    target_keys: frozenset[str], target_forms: frozenset[str],
) -> int:
    if case_keys & target_keys:
        return 2
    if target_forms and target_forms & case_forms:
        return 1
    return 0


def passes_filter(case_charges: Sequence[str], crime_form: Sequence[str]) -> bool:
    """Whether a case's charge-derived forms meet a crime-form filter (any code; no filter = yes).

    Forms carry their ancestors, so a filter on `environment` admits a forest case.
    """
    return not crime_form or bool(set(crime_form) & charge_forms(case_charges))


def judge_by_id(
    queries: Iterable[Query], cases: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """Grades of every case for every query: {query id: {case id: grade}}.

    A filtered query gives 0 to cases outside its crime-form filter. Case ids must be unique
    (ValueError otherwise); a case without `charges` is graded as having none.
    """
    prepared = []
    seen: set[str] = set()
    for case in cases:
        case_id = str(case["id"])
        if case_id in seen:
            raise ValueError(f"case id {case_id} appears twice")
        seen.add(case_id)
        charges = tuple(case.get("charges") or ())
        prepared.append((case_id, _charge_keys(charges), charge_forms(charges)))
    judged: dict[str, dict[str, int]] = {}
    for query in queries:
        target_keys = _charge_keys(query.target_charges)
        target_forms = charge_forms(query.target_charges)
        wanted = set(query.crime_form)
        judged[query.id] = {
            case_id: 0
            if wanted and not wanted & forms
            else _grade(keys, forms, target_keys, target_forms)
            for case_id, keys, forms in prepared
        }
    return judged


def judge(queries: Iterable[Query], cases: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Grades of all cases per query, in the order of `cases` (for the ideal DCG)."""
    return {qid: list(grades.values()) for qid, grades in judge_by_id(queries, cases).items()}


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def _dcg(grades: Iterable[int]) -> float:
    return sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(grades))


def ndcg_at_k(ranked_grades: Sequence[int], all_grades: Iterable[int], k: int = 10) -> float:
    """nDCG@k of a ranking: DCG of its first k grades over the DCG of the best possible top k.

    Gains are 2^grade − 1, discounted by log2(rank + 1). The ideal ranking sorts `all_grades`
    (the grades of every judged case for the query) in descending order. A query without any
    relevant case scores 0.0.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    ideal = _dcg(sorted(all_grades, reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg(ranked_grades[:k]) / ideal


def precision_at_k(ranked_grades: Sequence[int], k: int = 10) -> float:
    """Share of the first k results with grade 2, divided by k even when fewer came back."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for g in ranked_grades[:k] if g >= 2) / k


def reciprocal_rank(ranked_grades: Sequence[int]) -> float:
    """1 / rank of the first grade-2 result; 0.0 when there is none."""
    for rank, g in enumerate(ranked_grades, start=1):
        if g >= 2:
            return 1.0 / rank
    return 0.0


def evaluate_ranking(
    ranked_ids: Sequence[str],
    grades: Mapping[str, int],
    total: int | None = None,
    k: int = 10,
) -> dict[str, float]:
    """Per-query metrics of a ranked list of case ids against one query's `grades` by case id.

    Ids without a judgment count as grade 0. `total` is the engine's result count (defaults to
    the length of `ranked_ids`); a query counts as zero-result when it is 0.
    """
    ranked = [grades.get(case_id, 0) for case_id in ranked_ids]
    return {
        NDCG: ndcg_at_k(ranked, grades.values(), k),
        PRECISION: precision_at_k(ranked, k),
        RR: reciprocal_rank(ranked),
        RESULTS: float(len(ranked_ids) if total is None else total),
    }


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """Means over one group of queries ("all", "kind=short", "split=holdout", ...)."""

    group: str
    queries: int
    ndcg: float
    precision: float
    mrr: float
    zero_results: int


def _row(group: str, metrics: list[Mapping[str, float]]) -> SummaryRow:
    n = len(metrics)

    def mean(key: str) -> float:
        return sum(m[key] for m in metrics) / n if n else 0.0

    zero = sum(1 for m in metrics if m.get(RESULTS, 1) == 0)
    return SummaryRow(group, n, mean(NDCG), mean(PRECISION), mean(RR), zero)


def summarize(
    per_query: Mapping[str, Mapping[str, float]], queries: Iterable[Query]
) -> list[SummaryRow]:
    """Mean nDCG@10, P@10, MRR and the zero-result count: overall, per kind, per split, and per
    kind within each split. Queries missing from `per_query` are left out; an id in `per_query`
    that is not one of `queries` raises ValueError. Groups without queries are omitted.
    """
    by_id = {query.id: query for query in queries}
    stray = sorted(set(per_query) - set(by_id))
    if stray:
        raise ValueError(f"metrics for unknown queries: {stray[:5]}")
    evaluated = [by_id[qid] for qid in by_id if qid in per_query]
    groups: list[tuple[str, list[Query]]] = [("all", evaluated)]
    groups += [(f"kind={kind}", [q for q in evaluated if q.kind == kind]) for kind in KINDS]
    groups += [(f"split={split}", [q for q in evaluated if q.split == split]) for split in SPLITS]
    groups += [
        (f"{split}/{kind}", [q for q in evaluated if q.split == split and q.kind == kind])
        for split in SPLITS
        for kind in KINDS
    ]
    return [_row(name, [per_query[q.id] for q in members]) for name, members in groups if members]


def format_table(rows: Sequence[SummaryRow], markdown: bool = False) -> str:
    """The summary as an aligned text table, or as a Markdown table."""
    header = ("group", "queries", "nDCG@10", "P@10", "MRR", "zero-result")
    body = [
        (r.group, str(r.queries), f"{r.ndcg:.3f}", f"{r.precision:.3f}", f"{r.mrr:.3f}",
         str(r.zero_results))
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 5) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    fmt = lambda row: "  ".join(  # noqa: E731
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))
    )
    return "\n".join([fmt(header), *(fmt(row) for row in body)])
