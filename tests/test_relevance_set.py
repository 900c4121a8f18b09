"""The judged query set in bench/relevance/queries.jsonl and the metrics in bench/metrics.py."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(ROOT))

from bench.metrics import (  # noqa: E402
    KINDS,
    NDCG,
    PRECISION,
    RESULTS,
    RR,
    Query,
    charge_forms,
    evaluate_ranking,
    format_table,
    grade,
    judge,
    judge_by_id,
    load_cases,
    load_queries,
    ndcg_at_k,
    precision_at_k,
    reciprocal_rank,
    summarize,
)
from conftest import CAIL  # noqa: E402
from indexing.text.folding import fold  # noqa: E402

DRUGS = "走私、贩卖、运输、制造毒品"


@pytest.fixture(scope="module")
def queries() -> list[Query]:
    return load_queries()


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return load_cases(CAIL)


@pytest.fixture(scope="module")
def charge_counts(cases: list[dict]) -> Counter[str]:
    return Counter(charge for case in cases for charge in case["charges"])


# ---------------------------------------------------------------------------------------------
# The query set
# ---------------------------------------------------------------------------------------------


def test_query_file_loads_with_enough_queries_of_every_kind(queries: list[Query]) -> None:
    assert len(queries) >= 120
    kinds = Counter(q.kind for q in queries)
    assert set(kinds) == set(KINDS)
    assert all(kinds[kind] >= 15 for kind in KINDS), kinds
    assert len({q.id for q in queries}) == len(queries)
    assert len({(q.q, tuple(q.crime_form)) for q in queries}) == len(queries)


def test_queries_have_the_shape_their_kind_promises(queries: list[Query]) -> None:
    for q in queries:
        if q.kind == "short":
            assert 2 <= len(q.q.split()) <= 4, q
        if q.kind == "traditional":
            assert fold(q.q) != q.q, f"{q.id} has no traditional character"
        if q.kind == "fact":
            assert len(q.q) >= 12 and " " not in q.q, q
        assert bool(q.crime_form) == (q.kind == "filtered"), q


def test_split_is_a_third_holdout_per_kind(queries: list[Query]) -> None:
    for kind in KINDS:
        of_kind = [q for q in queries if q.kind == kind]
        holdout = sum(q.split == "holdout" for q in of_kind)
        assert abs(holdout - len(of_kind) / 3) <= 1, (kind, holdout, len(of_kind))
        # Deterministic: every third query of a kind, in file order, is held out.
        assert [q.split for q in of_kind] == [
            "holdout" if i % 3 == 2 else "tune" for i in range(len(of_kind))
        ]


@pytest.mark.real_data
def test_every_target_charge_is_spelled_as_in_the_data(
    queries: list[Query], charge_counts: Counter[str]
) -> None:
    missing = {(q.id, t) for q in queries for t in q.target_charges if t not in charge_counts}
    assert not missing


@pytest.mark.real_data
def test_every_crime_form_in_the_data_is_targeted(
    queries: list[Query], cases: list[dict]
) -> None:
    present = set().union(*(charge_forms(case["charges"]) for case in cases))
    targeted = set().union(*(charge_forms(q.target_charges) for q in queries))
    assert present - targeted == set()
    filtered = {code for q in queries for code in q.crime_form}
    # The filters exercise the main forms and every environmental sub-form.
    assert {"drugs", "corruption", "environment.wildlife", "environment.forest",
            "environment.fisheries", "environment.pollution", "firearms"} <= filtered


@pytest.mark.real_data
def test_the_fifty_most_frequent_charges_are_targeted(
    queries: list[Query], charge_counts: Counter[str]
) -> None:
    ranked = charge_counts.most_common()
    floor = ranked[49][1]  # charges tied with the 50th count as top 50 too
    top = {charge for charge, n in ranked if n >= floor}
    assert len(top) >= 50
    targeted = {t for q in queries for t in q.target_charges}
    assert top - targeted == set()


@pytest.mark.real_data
def test_every_query_has_relevant_cases(queries: list[Query], cases: list[dict]) -> None:
    judged = judge(queries, cases)
    assert [q.id for q in queries if 2 not in judged[q.id]] == []


def test_filters_admit_the_target_charges(queries: list[Query]) -> None:
    for q in queries:
        if q.crime_form:
            for target in q.target_charges:
                assert set(q.crime_form) & charge_forms([target]), (q.id, target)


@pytest.mark.real_data
def test_plain_queries_are_possible_by_substring(queries: list[Query], cases: list[dict]) -> None:
    """Every word of a short, traditional or filtered query occurs together in the fact of some
    case with a target charge (after folding traditional characters to simplified)."""
    impossible = []
    for q in queries:
        if q.kind not in ("short", "traditional", "filtered"):
            continue
        words = fold(q.q).split()
        targets = set(q.target_charges)
        if not any(
            targets & set(case["charges"]) and all(w in case["fact"] for w in words)
            for case in cases
        ):
            impossible.append((q.id, q.q))
    assert impossible == []


# ---------------------------------------------------------------------------------------------
# Loader validation
# ---------------------------------------------------------------------------------------------

GOOD = {"id": "q001", "q": "贩卖 冰毒", "kind": "short", "target_charges": [DRUGS], "split": "tune"}


def _write(tmp_path: Path, *rows: dict) -> Path:
    path = tmp_path / "queries.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "poetic"}, "unknown kind"),
        ({"target_charges": []}, "target_charges"),
        ({"kind": "filtered", "crime_form": ["drugz"]}, "unknown crime-form codes"),
        ({"kind": "filtered"}, "needs a crime_form"),
        ({"crime_form": ["drugs"]}, "only filtered"),
        ({"split": "test"}, "unknown split"),
        ({"q": " "}, "q must be"),
        ({"extra": 1}, "unknown fields"),
    ],
)
def test_loader_rejects_bad_lines_naming_the_line(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = _write(tmp_path, GOOD, {**GOOD, "id": "q002", **change})
    with pytest.raises(ValueError, match=message) as info:
        load_queries(path)
    assert f"{path}:2:" in str(info.value)


def test_loader_rejects_repeated_ids_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeats line 1"):
        load_queries(_write(tmp_path, GOOD, GOOD))
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n", "utf-8")
    with pytest.raises(ValueError, match=r"broken.jsonl:2: invalid JSON"):
        load_queries(path)


def test_loader_reads_optional_fields(tmp_path: Path) -> None:
    row = {**GOOD, "kind": "filtered", "crime_form": ["drugs"], "note": "n"}
    (query,) = load_queries(_write(tmp_path, row))
    assert query.crime_form == ("drugs",) and query.note == "n"
    assert query.target_charges == (DRUGS,)


# ---------------------------------------------------------------------------------------------
# Grades and metrics
# ---------------------------------------------------------------------------------------------


def test_grade_two_for_a_target_charge() -> None:
    assert grade([DRUGS, "盗窃"], [DRUGS]) == 2
    assert grade(["污染环境罪"], ["污染环境"]) == 2  # a trailing 罪 does not matter


def test_grade_one_through_a_shared_crime_form() -> None:
    assert grade(["容留他人吸毒"], ["贩卖毒品"]) == 1
    assert grade(["容留他人吸毒"], [DRUGS]) == 1
    assert grade(["贪污"], ["受贿"]) == 1
    assert grade(["滥伐林木"], ["非法狩猎"]) == 1  # both under environment


def test_grade_zero_without_a_shared_form() -> None:
    assert grade(["盗窃"], [DRUGS]) == 0
    assert grade([], [DRUGS]) == 0
    # Targets without any crime form never give grade 1.
    assert grade(["诈骗"], ["盗窃"]) == 0
    assert grade(["容留他人吸毒"], ["盗窃"]) == 0


def test_judge_grades_all_cases_and_applies_the_filter() -> None:
    cases = [
        {"id": "a", "charges": ["滥伐林木"]},
        {"id": "b", "charges": ["非法狩猎"]},
        {"id": "c", "charges": ["盗窃"]},
        {"id": "d", "charges": ["污染环境"]},
    ]
    plain = Query("q001", "偷猎", "colloquial", ("非法狩猎",), "tune")
    filtered = Query("q002", "猎捕", "filtered", ("非法狩猎",), "tune", ("environment.wildlife",))
    assert judge([plain, filtered], cases) == {"q001": [1, 2, 0, 1], "q002": [0, 2, 0, 0]}
    assert judge_by_id([plain], cases)["q001"] == {"a": 1, "b": 2, "c": 0, "d": 1}
    with pytest.raises(ValueError, match="twice"):
        judge_by_id([plain], cases + cases[:1])


def test_ndcg_of_perfect_and_reversed_rankings() -> None:
    all_grades = [0, 2, 1, 0, 2, 0, 1, 0, 0, 0, 0, 2]
    perfect = sorted(all_grades, reverse=True)
    assert ndcg_at_k(perfect, all_grades) == pytest.approx(1.0)
    reversed_ = sorted(all_grades)
    assert 0 < ndcg_at_k(reversed_, all_grades) < 0.5
    swapped = [perfect[1], perfect[0], *perfect[2:]]  # a grade 2 still first: no change
    assert ndcg_at_k(swapped, all_grades) == pytest.approx(1.0)
    demoted = [perfect[3], *perfect[:3], *perfect[4:]]  # a grade 1 above the three grade 2
    assert ndcg_at_k(reversed_, all_grades) < ndcg_at_k(demoted, all_grades) < 1.0
    assert ndcg_at_k([], all_grades) == 0.0
    assert ndcg_at_k([0, 0], [0, 0, 0]) == 0.0  # no relevant case at all


def test_ndcg_hand_example() -> None:
    # ranked [1, 2]: DCG = 1/log2(2) + 3/log2(3); ideal over [2, 1, 0]: 3/1 + 1/log2(3)
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k([1, 2], [0, 2, 1], k=10) == pytest.approx(expected)
    # only the first k count, for the ranking and for the ideal
    assert ndcg_at_k([0, 2], [2, 2], k=1) == 0.0
    with pytest.raises(ValueError):
        ndcg_at_k([2], [2], k=0)


def test_precision_and_reciprocal_rank_hand_examples() -> None:
    assert precision_at_k([2, 1, 2, 0, 2], k=10) == pytest.approx(0.3)  # divides by k
    assert precision_at_k([2, 2, 2], k=2) == 1.0
    assert precision_at_k([1, 1], k=10) == 0.0
    assert reciprocal_rank([0, 1, 2, 2]) == pytest.approx(1 / 3)
    assert reciprocal_rank([2]) == 1.0
    assert reciprocal_rank([1, 1, 0]) == 0.0


def test_evaluate_ranking_and_summarize() -> None:
    grades = {"a": 2, "b": 1, "c": 0, "d": 2}
    top = evaluate_ranking(["a", "d", "b"], grades)
    assert top[NDCG] == pytest.approx(1.0) and top[PRECISION] == pytest.approx(0.2)
    assert top[RR] == 1.0 and top[RESULTS] == 3
    unknown = evaluate_ranking(["x", "a"], grades, total=120)
    assert unknown[RR] == 0.5 and unknown[RESULTS] == 120
    empty = evaluate_ranking([], grades)

    qs = [
        Query("q001", "a", "short", ("盗窃",), "tune"),
        Query("q002", "b", "short", ("盗窃",), "holdout"),
        Query("q003", "c", "fact", ("盗窃",), "tune"),
    ]
    rows = {r.group: r for r in summarize({"q001": top, "q002": empty, "q003": unknown}, qs)}
    assert rows["all"].queries == 3 and rows["all"].zero_results == 1
    assert rows["kind=short"].mrr == pytest.approx(0.5)
    assert rows["split=tune"].queries == 2 and rows["split=holdout"].zero_results == 1
    assert rows["tune/fact"].ndcg == pytest.approx(unknown[NDCG])
    assert "kind=subword" not in rows
    assert "split=holdout" in format_table(list(rows.values()))
    assert format_table(list(rows.values()), markdown=True).startswith("| group")
    with pytest.raises(ValueError, match="unknown queries"):
        summarize({"q999": top}, qs)
