"""Facet requests and their counts (with the "everything minus the rest" way for broad matches)."""

from __future__ import annotations

import json
from typing import Any


from indexing.query.model import (
    EngineQuery,
    FacetRequest,
)
from indexing.engines.elastic.query import FILTER_FIELDS, bool_query, filters_query


ALL_BUCKETS = 10_000  # buckets asked per facet for that difference: every value, in practice


def facet_groups(query: EngineQuery) -> list[tuple[dict[str, Any] | None, list[FacetRequest]]]:
    """The facets grouped by the filters that apply to them, each group one request.

    A facet counts the matches under every filter but its own. Facets under the same other
    filters share a request with those filters in its query (cheaper than a filter
    aggregation per facet); the groups run side by side on the node's search threads.
    """
    groups: dict[str, tuple[dict[str, Any] | None, list[FacetRequest]]] = {}
    for facet in query.facets:
        others = filters_query(query.filters.without(facet.name))
        key = json.dumps(others, sort_keys=True)
        groups.setdefault(key, (others, []))[1].append(facet)
    return list(groups.values())


def facet_bodies(
    match: dict[str, Any],
    others: dict[str, Any] | None,
    exclusions: list[dict[str, Any]],
    group: list[FacetRequest],
    counts: bool,
    broad: bool,
) -> list[dict[str, Any]]:
    """The requests that count one facet group (and the hits, if `counts`).

    Plainly, one request over the matches. For a broad match (most documents), two: every
    document under the group's filters, and those the match leaves out; the counts are their
    difference. Each is cheaper than aggregating nearly every document, and the first does not
    depend on the query, so the node's request cache answers it for any query until the next
    refresh. Both ask for every bucket, so the difference is exact (`facet_counts` checks).
    """
    scope = [others] if others else []
    if not broad:
        return [{
            "size": 0,
            "track_total_hits": counts,
            "query": bool_query(filter=[match, *scope], must_not=exclusions),
            "aggs": {f.name: {"terms": {"field": FILTER_FIELDS[f.name], "size": f.size}} for f in group},
        }]
    aggs = {f.name: {"terms": {"field": FILTER_FIELDS[f.name], "size": ALL_BUCKETS}} for f in group}
    everything = bool_query(filter=scope, must_not=exclusions) if scope or exclusions else {"match_all": {}}
    return [
        {"size": 0, "track_total_hits": counts, "query": everything, "aggs": aggs},
        {"size": 0, "track_total_hits": counts, "query": bool_query(filter=scope, must_not=[match, *exclusions]), "aggs": aggs},
    ]


def facet_counts(
    answers: list[dict[str, Any]], group: list[FacetRequest]
) -> tuple[int, dict[str, list[tuple[str, int]]]] | None:
    """The hit count and buckets of one facet group from its answers (see `facet_bodies`).

    Two answers are every document and the ones left out: counts are their difference, in the
    node's own order (count, then key), cut to each facet's size. None if a bucket list was
    cut short, since the difference would then not be exact.
    """
    if len(answers) == 1:
        (answer,) = answers
        aggs = answer.get("aggregations", {})
        return total_hits(answer), {
            f.name: [(bucket_key(b), int(b["doc_count"])) for b in aggs.get(f.name, {}).get("buckets", []) if b["doc_count"] > 0]
            for f in group
        }
    everything, left_out = answers
    facets: dict[str, list[tuple[str, int]]] = {}
    for f in group:
        all_agg, out_agg = everything["aggregations"][f.name], left_out["aggregations"][f.name]
        if all_agg.get("sum_other_doc_count") or out_agg.get("sum_other_doc_count"):
            return None
        counts = {bucket_key(b): int(b["doc_count"]) for b in all_agg["buckets"]}
        for b in out_agg["buckets"]:  # (a write between the two requests may leave a value only here)
            counts[bucket_key(b)] = counts.get(bucket_key(b), 0) - int(b["doc_count"])
        numeric = f.name == "year"
        ranked = sorted(((k, n) for k, n in counts.items() if n > 0),
                        key=lambda kn: (-kn[1], int(kn[0]) if numeric else kn[0]))
        facets[f.name] = ranked[: f.size]
    return total_hits(everything) - total_hits(left_out), facets


def total_hits(answer: dict[str, Any]) -> int:
    """The hit count of a search answer (0 where it was not counted)."""
    return int(answer["hits"].get("total", {}).get("value", 0))


def bucket_key(bucket: dict[str, Any]) -> str:
    key = bucket.get("key_as_string", bucket["key"])
    return str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)
