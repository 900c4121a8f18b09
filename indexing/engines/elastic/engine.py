"""The Elasticsearch engine: the same protocol as the embedded engine, on a node or a cluster.

Elasticsearch holds the records (in `_source` of each record's own unit) and the index units
with the tokens made in Python, so both engines match and rank the same tokens with BM25.
Reads and writes go through an alias; `reindex` builds a new index client-side and swaps the
alias atomically (this distribution has no `_reindex`). Only features of the default
distribution and of the minimal integ-test one are used: built-in analyzers, bool/term/
match_phrase queries, terms aggregations, multi-search, point in time and search_after.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import asdict
from typing import Any, Callable, Iterable, Iterator, Sequence

from elasticsearch import (
    ApiError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    TransportError,
    helpers,
)

from indexing.core.cursor import new_secret
from indexing.engines.units import unit_ids
from indexing.engines.base import ApiKey, AuditEntry, EngineHealth, Outcome, Record
from indexing.errors import BadRequest, CasedigestError, EngineUnavailable, InvalidCursor
from indexing.query.model import (
    DocFreqs,
    EngineHit,
    EngineQuery,
    EngineResult,
    MatchAll,
    RecordLabels,
)
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from indexing.engines.unit_pool import MIN_PARALLEL_BATCH, UnitPool
from indexing.loading.writes import utc_now
from indexing.engines.elastic.errors import EngineWriteRefused, disk_full, translate
from indexing.engines.elastic.facets import facet_bodies, facet_counts, facet_groups, total_hits
from indexing.engines.elastic.index import latest_mapping, unit_source
from indexing.engines.elastic.query import Compiler, bool_query, boost, decode_after, encode_after, filters_query

log = logging.getLogger("casedigest")


PIT_KEEP_ALIVE = "2m"
_END = object()  # closes the queue of bulk actions
SEARCH_RETRIES = 2  # a search part failing on the node (5xx) is asked again this often
SEARCH_RETRY_PAUSE = 0.15  # seconds, times the attempt number
# A match the core estimates to cover at least this share of the documents has its facets
# counted as "every document minus the ones left out" (`facet_bodies`).
BROAD_MATCH_SHARE = 0.7
MERGE_AFTER_LOAD_SHARE = 0.25  # a bulk load writing this share of the index merges it (`merge_after_load`)
MERGE_AFTER_LOAD_MAX_SHARD_BYTES = 5 * 1024**3
# The parts of a stored record that make its labels (`RecordLabels`): the node sends only these.
LABEL_SOURCE = ["record.doc_type", "record.charges", "record.crime_forms.code", "record.legal_basis"]


class ElasticEngine:
    """An alias on an Elasticsearch node or cluster, behind the engine protocol."""

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        segmenter: Segmenter,
        alias: str = "cases",
        shards: int = 1,
        replicas: int = 0,
        chunk_size: int = 500,
        chunk_bytes: int = 10 * 1024 * 1024,
        workers: int | None = None,
    ) -> None:
        self.client = client
        self.segmenter = segmenter
        self.alias = alias
        self.shards = shards
        self.replicas = replicas
        self.chunk_size = chunk_size
        self.chunk_bytes = chunk_bytes
        self.unit_pool = UnitPool(segmenter, workers)
        self._refresh_paused = False
        self._loaded = 0  # records written by the bulk load in progress
        self._ensure_alias()

    # ---- index lifecycle ---------------------------------------------------------------
    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (TransportError, ApiError) as exc:
            raise translate(exc, action) from None

    def _ensure_alias(self) -> None:
        if not self._call("checking the alias", lambda: self.client.indices.exists_alias(name=self.alias)):
            self.create_index(point_alias=True)
            return
        try:
            settings = self.client.indices.get_settings(index=self.alias, name="index.refresh_interval")
        except (TransportError, ApiError):
            return  # a user without the monitor privilege: leave the settings alone
        if any(s.get("settings", {}).get("index", {}).get("refresh_interval") == "-1" for s in settings.values()):
            log.warning("a bulk load into %s ended without finishing; refreshes are resumed", self.alias)
            self._resume_refresh()

    def create_index(self, point_alias: bool) -> str:
        """Create `<alias>-v<version>-<timestamp>` from the latest definition; returns its name."""
        version, definition = latest_mapping()
        name = f"{self.alias}-v{version}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 1_000_000:06d}"
        settings = json.loads(json.dumps(definition["settings"]))
        settings["index"]["number_of_shards"] = self.shards
        settings["index"]["number_of_replicas"] = self.replicas
        body: dict[str, Any] = {"settings": settings, "mappings": definition["mappings"]}
        if point_alias:
            body["aliases"] = {self.alias: {"is_write_index": True}}
        self._call("creating the index", lambda: self.client.indices.create(index=name, **body))
        self._call("waiting for the index", lambda: self.client.cluster.health(
            index=name, wait_for_status="yellow", timeout="30s"))
        return name

    def current_index(self) -> str:
        aliases = self._call("reading the alias", lambda: self.client.indices.get_alias(name=self.alias))
        return next(iter(aliases.body))

    def reindex(self, progress: Callable[[int], None] | None = None) -> tuple[str, str, int]:
        """Build a new index from the stored records and switch the alias; returns (old, new, n).

        Searches keep answering from the old index until the atomic alias swap; the old index
        is deleted only after the swap succeeded. The new index is then merged like one after a
        large load.
        """
        old = self.current_index()
        new = self.create_index(point_alias=False)
        count = 0
        try:
            batch: list[Record] = []
            for record in self.iter_records(index=old):
                batch.append(record)
                if len(batch) >= 500:
                    self._bulk_index(batch, index=new)
                    count += len(batch)
                    batch.clear()
                    if progress:
                        progress(count)
            if batch:
                self._bulk_index(batch, index=new)
                count += len(batch)
            self._call("refreshing the new index", lambda: self.client.indices.refresh(index=new))
            self._call("switching the alias", lambda: self.client.indices.update_aliases(actions=[
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": new, "alias": self.alias, "is_write_index": True}},
            ]))
        except BaseException:
            self.client.options(ignore_status=404).indices.delete(index=new)
            raise
        self._call("deleting the old index", lambda: self.client.indices.delete(index=old))
        if count:
            self.merge_after_load(count)  # a whole new index, written in bulk
        return old, new, count

    def drop(self) -> None:
        """Delete the alias, every index behind it, and the keys, audit and meta indices."""
        try:
            indices = list(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            indices = []
        for index in [*indices, self._keys_index, self._audit_index, self._meta_index]:
            self.client.options(ignore_status=404).indices.delete(index=index)

    # ---- writes ------------------------------------------------------------------------
    def upsert(self, records: Sequence[Record], actor: str | None = None) -> list[Outcome]:
        """Index changed records in bulk, never refreshing per document.

        An id given twice is written once, as its last occurrence. A small batch (an API
        write) is refreshed at once, so it is searchable when this returns. A large one (a
        bulk load) pauses scheduled refreshes until the load's `finish_writes`: refreshing
        every batch or every second would cut the index into many small segments that every
        later search has to visit. With `actor`, the changes are audited once they are
        written (Elasticsearch has no transaction: a failed write is not audited).
        """
        if not records:
            return []
        latest = {r.id: r for r in records}  # the last occurrence of an id wins
        existing = self._head_sources(list(latest), ["content_hash", "unit_ids"])
        outcome: dict[str, Outcome] = {}
        changed: dict[str, Record] = {}
        # a hash serializes the whole record: made once, used for the check, the write and the audit
        hashes = {record_id: record.content_hash() for record_id, record in latest.items()}
        for record_id, record in latest.items():
            before = (existing.get(record_id) or {}).get("content_hash")
            if before == hashes[record_id]:
                outcome[record_id] = "unchanged"
                continue
            outcome[record_id] = "updated" if record_id in existing else "inserted"
            changed[record_id] = record
        if changed:
            stale = [
                unit_id
                for record_id, record in changed.items()
                for unit_id in (existing.get(record_id) or {}).get("unit_ids", [])
                if unit_id not in unit_ids(record)
            ]
            if len(changed) >= MIN_PARALLEL_BATCH:
                self._pause_refresh()
                self._loaded += len(changed)
            self._bulk_index(list(changed.values()), index=self.alias, delete_units=stale, hashes=hashes)
            if len(changed) < MIN_PARALLEL_BATCH:
                self._refresh()
            if actor is not None:
                now = utc_now()
                self.append_audit([
                    AuditEntry(now, actor, "insert" if outcome[i] == "inserted" else "update", i,
                               (existing.get(i) or {}).get("content_hash"), hashes[i])
                    for i in changed
                ])
        return [outcome[r.id] for r in records]

    def delete(self, record_ids: Sequence[str], actor: str | None = None) -> int:
        existing = self._head_sources(list(dict.fromkeys(record_ids)), ["unit_ids", "content_hash"])
        units = [u for source in existing.values() for u in source.get("unit_ids", [])]
        if units:
            actions = ({"_op_type": "delete", "_index": self.alias, "_id": u} for u in units)
            self._run_bulk(actions)
            self._refresh()
        if actor is not None and existing:
            now = utc_now()
            self.append_audit([AuditEntry(now, actor, "delete", i, s.get("content_hash"), None)
                               for i, s in existing.items()])
        return len(existing)

    def _refresh(self) -> None:
        self._call("refreshing", lambda: self.client.indices.refresh(index=self.alias))

    def finish_writes(self) -> None:
        paused, loaded = self._refresh_paused, self._loaded
        self._loaded = 0
        if paused:
            self._resume_refresh()
        self._refresh()
        if loaded:
            self.merge_after_load(loaded)

    def merge_after_load(self, loaded: int) -> bool:
        """After a large bulk load, have the node merge the index into one segment per shard.

        A load leaves several segments, and every search visits each of them (at 100k cases,
        merging the five a load left cut the query list's p99 from about 21 to 17 ms). Only after a
        load that wrote at least `MERGE_AFTER_LOAD_SHARE` of the index (appending small loads to
        a large index does not rewrite it each time), and only while a shard stays under the
        5 GB that Elasticsearch keeps merged segments below. The node merges in the background
        and searches go on meanwhile. Returns whether a merge was asked for.
        """
        try:
            stats = self.client.indices.stats(index=self.alias, metric="docs,store")["_all"]["primaries"]
            settings = self.client.indices.get_settings(index=self.alias, name="index.number_of_shards")
            shards = max(int(s["settings"]["index"]["number_of_shards"]) for s in settings.values())
            if loaded < MERGE_AFTER_LOAD_SHARE * stats["docs"]["count"]:
                return False
            if stats["store"]["size_in_bytes"] / shards > MERGE_AFTER_LOAD_MAX_SHARD_BYTES:
                return False
            self.client.indices.forcemerge(index=self.alias, max_num_segments=1, wait_for_completion=False)
            return True
        except (TransportError, ApiError) as exc:  # e.g. no `monitor` or `manage` privilege
            log.info("not merging after the load: %s", translate(exc, "merging after a load").message)
            return False

    def _pause_refresh(self) -> None:
        """Stop scheduled refreshes while a bulk load runs, as Elasticsearch advises for large
        loads: the index is then written in a few large segments, not one per second.
        `finish_writes` resumes them; a load that never finishes is noticed on the next open."""
        if self._refresh_paused:
            return
        try:
            self.client.indices.put_settings(index=self.alias, settings={"index": {"refresh_interval": "-1"}})
            self._refresh_paused = True
        except (TransportError, ApiError) as exc:  # e.g. no `manage` privilege: load anyway
            log.info("loading without pausing refreshes: %s", translate(exc, "pausing refreshes").message)

    def _resume_refresh(self) -> None:
        self._call("resuming refreshes", lambda: self.client.indices.put_settings(
            index=self.alias, settings={"index": {"refresh_interval": None}}))
        self._refresh_paused = False

    def _bulk_index(
        self, records: Sequence[Record], index: str, delete_units: Sequence[str] = (),
        hashes: dict[str, str] | None = None,
    ) -> None:
        """Index `records` (and delete `delete_units`) on `index`; `hashes` are their content
        hashes when the caller has them already."""

        def actions() -> Iterator[dict[str, Any]]:
            for unit_id in delete_units:
                yield {"_op_type": "delete", "_index": index, "_id": unit_id}
            for record, units in zip(records, self.unit_pool.units(records)):
                # The record's own unit (with its content hash) goes last: a load killed
                # between two chunks leaves no hash behind for a half-written record, so the
                # next load writes it again instead of skipping it as unchanged.
                for unit in [*units[1:], units[0]]:
                    source = unit_source(unit)
                    if unit.unit_id == record.id:
                        source["record"] = record.model_dump(mode="json")
                        source["content_hash"] = hashes[record.id] if hashes else record.content_hash()
                        source["source_name"] = record.source.name if record.source else None
                        source["unit_ids"] = [u.unit_id for u in units]
                    yield {"_op_type": "index", "_index": index, "_id": unit.unit_id, "_source": source}

        self._run_bulk(actions())

    def _run_bulk(self, actions: Iterable[dict[str, Any]]) -> None:
        """Send actions in chunks while the next ones are being prepared.

        Preparing an action (segmenting a record) is Python work; indexing a chunk is the
        node's. A sender thread streams the chunks, so the node indexes one chunk while this
        thread segments the next, instead of each waiting for the other. The order of the
        actions is kept (one sender), which the write order of `_bulk_index` relies on.
        """
        queued: queue.Queue[Any] = queue.Queue(maxsize=2 * self.chunk_size)
        outcome: dict[str, Any] = {}

        def queued_actions() -> Iterator[dict[str, Any]]:
            while (action := queued.get()) is not _END:
                yield action

        def send() -> None:
            try:
                outcome["failed"] = self._send_bulk(queued_actions())
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc

        sender = threading.Thread(target=send, name="casedigest-bulk", daemon=True)
        sender.start()

        def put(item: Any) -> bool:
            while sender.is_alive():
                try:
                    queued.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for action in actions:
                if not put(action):
                    break  # the sender stopped on an error; it is raised below
        finally:
            put(_END)
            sender.join()
        if "error" in outcome:
            raise outcome["error"]
        failed = outcome.get("failed", [])
        if failed:
            raise EngineWriteRefused(
                f"Elasticsearch rejected {len(failed)} documents", {"failed_ids": failed[:100]}
            )

    def _send_bulk(self, actions: Iterable[dict[str, Any]]) -> list[str]:
        """Stream actions in chunks by count and bytes; retry only 429s, with backoff.

        Returns the ids of the documents Elasticsearch rejected.
        """
        failed: list[str] = []
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=self.chunk_size,
                max_chunk_bytes=self.chunk_bytes,
                max_retries=5,
                initial_backoff=1,
                max_backoff=30,
                raise_on_error=False,
                raise_on_exception=True,
            ):
                if not ok:
                    op = next(iter(item.values()))
                    if op.get("status") == 404 and next(iter(item)) == "delete":
                        continue  # deleting what is already gone is fine
                    if (full := disk_full(op.get("error"), "the write")) is not None:
                        raise full
                    if op.get("status") == 403:
                        raise EngineWriteRefused(
                            "Elasticsearch refused the write: the configured user lacks the privilege",
                            {"engine": "elasticsearch", "reason": "authorization"},
                        )
                    failed.append(str(op.get("_id")))
        except (TransportError, ApiError) as exc:
            raise translate(exc, "writing") from None
        return failed

    # ---- reads -------------------------------------------------------------------------
    def _head_sources(self, record_ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        if not record_ids:
            return {}
        response = self._call(
            "reading records",
            lambda: self.client.mget(index=self.alias, ids=record_ids, source_includes=fields),
        )
        return {d["_id"]: d["_source"] for d in response["docs"] if d.get("found")}

    def get(self, record_id: str) -> Record | None:
        return self.get_many([record_id]).get(record_id)

    def get_many(self, record_ids: Sequence[str]) -> dict[str, Record]:
        sources = self._head_sources(list(dict.fromkeys(record_ids)), ["record"])
        return {rid: parse_record(src["record"]) for rid, src in sources.items() if "record" in src}

    def iter_records(self, index: str | None = None, batch: int = 500) -> Iterator[Record]:
        """Every stored record, in id order, through a point in time (a consistent view)."""
        target = index or self.alias
        pit = self._call("opening a point in time", lambda: self.client.open_point_in_time(
            index=target, keep_alive=PIT_KEEP_ALIVE))["id"]
        after: list[Any] | None = None
        try:
            while True:
                body: dict[str, Any] = {
                    "size": batch,
                    "sort": [{"record_id": "asc"}],
                    "pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE},
                    "_source": ["record"],
                }
                if after is not None:
                    body["search_after"] = after
                response = self._call("reading records", lambda: self.client.search(**body))
                hits = response["hits"]["hits"]
                if not hits:
                    return
                for hit in hits:
                    if "record" in hit["_source"]:  # (a v3 index also holds paragraph units)
                        yield parse_record(hit["_source"]["record"])
                after = hits[-1]["sort"]
                pit = response.get("pit_id", pit)
        finally:
            self.client.options(ignore_status=404).close_point_in_time(id=pit)

    def search(self, query: EngineQuery) -> EngineResult:
        """One multi-search: the page of hits, and the facets in requests of their own.

        The node runs the requests side by side (on several cores, not one), and a facet
        request, having no hits, is one that Elasticsearch's request cache keeps until the
        next refresh: paging through a result list does not count its facets again.
        """
        compiler = Compiler()
        match = compiler.node(query.match)
        if query.only_records:
            match = {"bool": {"must": [match], "filter": [{"terms": {"record_id": list(query.only_records)}}]}}
        scored: dict[str, Any] = match
        if query.boosts:
            scored = {"bool": {"must": [match], "should": [
                boost(compiler.node(n), w) for n, w in query.boosts]}}
        filters = filters_query(query.filters)
        exclusions = [{"terms": {"record_id": list(query.exclude_records)}}] if query.exclude_records else []
        sort: list[Any] = (
            [{"sort_date": "desc"}, {"unit_id": "asc"}] if query.sort == "date" else ["_score", {"unit_id": "asc"}]
        )
        hits_body: dict[str, Any] = {
            "query": bool_query(must=[scored], filter=[filters] if filters else [], must_not=exclusions),
            "size": query.size,
            "sort": sort,
            "track_total_hits": query.count_total,
            "_source": ["unit_id", "record_id", *(["record"] if query.with_records else []),
                        *(LABEL_SOURCE if query.with_labels and not query.with_records else [])],
        }
        header: dict[str, Any] = {"allow_partial_search_results": False}  # a missing shard is an error
        position = decode_after(query.after) if query.after else None
        pit_id: str | None = None
        if position is not None:
            pit_id = position.get("pit") or self._call("opening a point in time", lambda: self.client.open_point_in_time(
                index=self.alias, keep_alive=PIT_KEEP_ALIVE))["id"]
            hits_body["pit"] = {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}
            hits_body["search_after"] = position["sa"]
            searches = [header, hits_body]
        else:
            hits_body["from"] = query.offset
            searches = [{**header, "index": self.alias}, hits_body]
        counting = None  # the facet group that also counts the hits, if any
        groups = facet_groups(query)
        broad = query.match_share >= BROAD_MATCH_SHARE and not isinstance(query.match, MatchAll)
        for i, (others, group) in enumerate(groups):
            if others == filters and counting is None:
                # This group matches exactly what the hits request does and visits every
                # match anyway: it counts them, and the hits request may skip the documents
                # that cannot reach the first page (much faster on common words).
                counting = i
                hits_body["track_total_hits"] = False
            parts = facet_bodies(match, others, exclusions, group, counts=counting == i, broad=broad)
            searches += [part for body in parts for part in ({**header, "index": self.alias}, body)]
        responses = self._msearch(searches, expired_cursor=position is not None)
        hits = responses[0]["hits"]["hits"]
        total = total_hits(responses[0])  # when no facet request counts
        facets: dict[str, list[tuple[str, int]]] = {}
        answers = iter(responses[1:])
        for i, (others, group) in enumerate(groups):
            counted = facet_counts([next(answers) for _ in range(2 if broad else 1)], group)
            if counted is None:  # a broad count the node could not give in full: count plainly
                plain = facet_bodies(match, others, exclusions, group, counts=counting == i, broad=False)
                answer = self._msearch([{**header, "index": self.alias}, plain[0]], expired_cursor=False)
                counted = facet_counts(answer, group)
                assert counted is not None
            group_total, group_facets = counted
            facets.update(group_facets)
            if counting == i:
                total = group_total
        out = [
            EngineHit(
                h["_source"]["unit_id"],
                h["_source"]["record_id"],
                float(h.get("_score") or 0.0),
                parse_record(h["_source"]["record"]) if query.with_records and "record" in h["_source"] else None,
                RecordLabels.from_stored(h["_source"]["record"]) if query.with_labels and "record" in h["_source"] else None,
            )
            for h in hits
        ]
        facets = {f.name: facets.get(f.name, []) for f in query.facets}  # in the order asked
        seen = (position.get("n", 0) if position else query.offset) + len(hits)
        if not query.count_total and counting is None:
            total = seen  # not counted: at least what was seen
        next_after = None
        if hits and (seen < total if query.count_total or counting is not None else len(hits) == query.size):
            next_after = encode_after({"sa": hits[-1]["sort"], "pit": responses[0].get("pit_id", pit_id), "n": seen})
        return EngineResult(total=total, hits=out, facets=facets, next_after=next_after)

    def _msearch(self, searches: list[dict[str, Any]], expired_cursor: bool) -> list[dict[str, Any]]:
        """Run a multi-search; any failed part fails the whole answer, in the service's terms.

        A part that failed on the node's side (HTTP 5xx: a shard copy on a node that has just
        died, before the cluster notices) is asked again, at most `SEARCH_RETRIES` times
        within about half a second; the remaining copies answer it.
        """
        for attempt in range(SEARCH_RETRIES + 1):
            response = self._call("searching", lambda: self.client.msearch(searches=searches))
            answers = response["responses"]
            failures = [i for i, a in enumerate(answers) if a.get("error") is not None]
            if not failures:
                return answers
            failed = answers[failures[0]]
            status = int(failed.get("status") or 500)
            error = failed["error"]
            reason = error.get("reason", error) if isinstance(error, dict) else error
            if expired_cursor and failures == [0] and 400 <= status < 500:
                # Only the hits part reads the cursor's point in time, and the same search
                # succeeded when the cursor was issued: the point in time has expired (404)
                # or is not one the node knows (400). The client repeats the search.
                raise InvalidCursor("the cursor expired, repeat the search", {"reason": str(reason)})
            if status < 500 or attempt == SEARCH_RETRIES:
                raise EngineUnavailable(
                    f"Elasticsearch failed while searching: HTTP {status} {reason}",
                    {"engine": "elasticsearch", "reason": str(reason)},
                )
            log.info("search part failed (HTTP %s %s); asking again", status, reason)
            time.sleep(SEARCH_RETRY_PAUSE * (attempt + 1))
        raise AssertionError("unreachable")

    def doc_freqs(self, words: Iterable[str], chars: Iterable[str] = ()) -> DocFreqs:
        terms = {f"w{w}": {"term": {"summary_w": w}} for w in words}
        terms.update({f"c{c}": {"term": {"summary_c": c}} for c in chars})
        body: dict[str, Any] = {
            "size": 0,
            "track_total_hits": True,
            "aggs": {"df": {"filters": {"filters": terms}}} if terms else {},
        }
        response = self._call("counting words", lambda: self.client.search(index=self.alias, **body))
        buckets = response.get("aggregations", {}).get("df", {}).get("buckets", {})
        counts = {key: int(b["doc_count"]) for key, b in buckets.items()}
        return DocFreqs(
            total=response["hits"]["total"]["value"],
            words={k[1:]: n for k, n in counts.items() if k[0] == "w"},
            chars={k[1:]: n for k, n in counts.items() if k[0] == "c"},
        )

    def content_hashes(self, record_ids: Sequence[str]) -> dict[str, str]:
        sources = self._head_sources(list(dict.fromkeys(record_ids)), ["content_hash"])
        return {rid: src["content_hash"] for rid, src in sources.items() if "content_hash" in src}

    def source_record_ids(self, source_name: str) -> set[str]:
        ids: set[str] = set()
        for hit in helpers.scan(self.client, index=self.alias, _source=False,
                                query={"query": {"term": {"source_name": source_name}}}):
            ids.add(hit["_id"])
        return ids

    # ---- the service's keys and audit trail: small indices beside the alias ------------
    @property
    def _keys_index(self) -> str:
        return f"{self.alias}-keys"

    @property
    def _audit_index(self) -> str:
        return f"{self.alias}-audit"

    @property
    def _meta_index(self) -> str:
        return f"{self.alias}-meta"

    def cursor_secret(self) -> str:
        """Read from `<alias>-meta`; the first process to need it creates it (create-only)."""
        found = self._call("reading the cursor secret", lambda: self.client.options(ignore_status=404).get(
            index=self._meta_index, id="cursor_secret"))
        if not found.get("found"):
            try:
                self._ensure_side_index(self._meta_index, {"value": {"type": "keyword", "index": False}})
                self.client.index(index=self._meta_index, id="cursor_secret", document={"value": new_secret()},
                                  op_type="create", refresh="wait_for")
            except ConflictError:
                pass  # another process created it first: theirs is the one to use
            except (TransportError, ApiError) as exc:
                raise translate(exc, "storing the cursor secret (or set CASEDIGEST_CURSOR_SECRET)") from None
            found = self._call("reading the cursor secret", lambda: self.client.get(
                index=self._meta_index, id="cursor_secret"))
        return str(found["_source"]["value"])

    def _ensure_side_index(self, name: str, properties: dict[str, Any]) -> None:
        if not self._call("checking an index", lambda: self.client.indices.exists(index=name)):
            self.client.options(ignore_status=400).indices.create(
                index=name,
                settings={"index": {"number_of_shards": 1, "number_of_replicas": self.replicas}},
                mappings={"dynamic": "strict", "properties": properties},
            )

    def _ensure_keys_index(self) -> None:
        keyword = {"type": "keyword"}
        self._ensure_side_index(self._keys_index, {
            "name": keyword, "role": keyword, "key_hash": keyword, "created_at": keyword, "revoked_at": keyword})

    def put_key(self, key: ApiKey) -> None:
        self._ensure_keys_index()
        try:
            self.client.index(index=self._keys_index, id=key.name, document=asdict(key), op_type="create", refresh="wait_for")
        except ConflictError:
            raise BadRequest(f"a key named {key.name!r} already exists", {"name": key.name}) from None
        except (TransportError, ApiError) as exc:
            raise translate(exc, "storing a key") from None

    def keys(self) -> list[ApiKey]:
        self._ensure_keys_index()
        response = self._call("reading keys", lambda: self.client.search(
            index=self._keys_index, size=1000, sort=[{"created_at": "asc"}, {"name": "asc"}]))
        return [ApiKey(**hit["_source"]) for hit in response["hits"]["hits"]]

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        self._ensure_keys_index()
        response = self._call("checking a key", lambda: self.client.search(
            index=self._keys_index, size=1, query={"term": {"key_hash": key_hash}}))
        hits = response["hits"]["hits"]
        return ApiKey(**hits[0]["_source"]) if hits else None

    def revoke_key(self, name: str, when: str) -> bool:
        current = next((k for k in self.keys() if k.name == name and k.revoked_at is None), None)
        if current is None:
            return False
        self._call("revoking a key", lambda: self.client.update(
            index=self._keys_index, id=name, doc={"revoked_at": when}, refresh="wait_for"))
        return True

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        keyword = {"type": "keyword"}
        self._ensure_side_index(self._audit_index, {
            "time": {"type": "date"}, "seq": {"type": "long"}, "key_name": keyword, "action": keyword,
            "record_id": keyword, "hash_before": keyword, "hash_after": keyword})
        base = time.time_ns()
        self._run_bulk(
            {"_op_type": "index", "_index": self._audit_index, "_source": {**asdict(e), "seq": base + i}}
            for i, e in enumerate(entries)
        )
        self._call("refreshing the audit trail", lambda: self.client.indices.refresh(index=self._audit_index))

    def audit(self, limit: int = 100, record_id: str | None = None) -> list[AuditEntry]:
        if not self._call("checking an index", lambda: self.client.indices.exists(index=self._audit_index)):
            return []
        query = {"term": {"record_id": record_id}} if record_id is not None else {"match_all": {}}
        response = self._call("reading the audit trail", lambda: self.client.search(
            index=self._audit_index, size=limit, query=query, sort=[{"seq": "desc"}]))
        return [
            AuditEntry(**{k: v for k, v in hit["_source"].items() if k != "seq"})
            for hit in response["hits"]["hits"]
        ]

    def count_records(self) -> dict[str, int]:
        body = {"size": 0, "aggs": {"types": {"terms": {"field": "doc_type", "size": 10}}}}
        response = self._call("counting records", lambda: self.client.search(index=self.alias, **body))
        return {b["key"]: int(b["doc_count"]) for b in response["aggregations"]["types"]["buckets"]}

    def health(self) -> EngineHealth:
        try:
            health = self.client.cluster.health(timeout="5s")
            records = sum(self.count_records().values())
        except CasedigestError as exc:
            return EngineHealth(self.name, False, exc.message)
        except (TransportError, ApiError) as exc:
            return EngineHealth(self.name, False, translate(exc, "checking health").message)
        status = health["status"]
        detail = f"cluster {health['cluster_name']} {status}, {health['number_of_nodes']} nodes, {records} records in alias {self.alias}"
        return EngineHealth(self.name, status in ("green", "yellow"), detail, records)

    def close(self) -> None:
        self.unit_pool.close()
        self.client.close()
