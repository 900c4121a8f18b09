"""Reads and writes at once: 64 readers and one bulk writer against `casedigest serve`.

For each number of server workers asked for, one service (`casedigest serve --workers N`) is
started on a store preloaded with the real CAIL2018 cases, and two phases run against it:

- idle: the writer alone, posting NDJSON batches of 20–600 records to `POST /v1/cases/bulk`
  for a bounded time;
- loaded: the same writer beside `--readers` reader clients (64 by default) that each send
  one request after another: short keyword queries, queries with filters, facet-heavy
  queries, deep pages and record fetches.

Every record a bulk answer acknowledged (inserted, updated or unchanged) is then checked:
`GET /v1/cases/{id}` must return it, and a search filtered on the phase's own court name
must list it. An acknowledged record that fails either check is a lost write.

    python bench/load_mixed.py [--seconds 60] [--readers 64] [--workers 1,2] [--engine embedded]
                               [--port 8130] [--es-port 9263] [--markdown]

Loopback only; every loop is bounded by the phase's deadline and every request by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from bench.bulk_load import VENV_BIN, Store, casedigest, last_line, port_in_use, replica_rows, write_jsonl  # noqa: E402
from bench.engines import Table, start_node, stop_node  # noqa: E402
from bench.load_and_query import DEFAULT_DATA, machine_info, progress  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from service.auth import create_key  # noqa: E402
from service.state import open_engine  # noqa: E402

RESULTS_MD = REPO_ROOT / "bench/results/load_mixed.md"
BATCH_SIZES = (20, 60, 150, 300, 600)
KEYWORDS = ("盗窃", "诈骗", "贩卖毒品", "故意伤害", "抢劫", "赌博", "敲诈勒索", "非法拘禁", "走私", "洗钱",
            "寻衅滋事", "组织卖淫", "假币", "受贿", "醉驾", "枪支", "黑社会", "容留他人吸毒", "聚众斗殴", "伪造")
CRIME_FORMS = ("drugs", "firearms", "corruption", "money_laundering", "organized_crime_group", "cybercrime",
               "counterfeiting", "trafficking_in_persons")
READ_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
WRITE_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
SERVER_START_S = 180.0
SERVER_STOP_S = 30.0
ACKNOWLEDGED = ("inserted", "updated", "unchanged")


# ---- figures ---------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    seconds: float = 0.0
    read_ms: list[float] = field(default_factory=list)
    read_status: Counter[str] = field(default_factory=Counter)
    bulk_ms: list[float] = field(default_factory=list)
    bulk_status: Counter[str] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    lost: int = 0
    lost_examples: list[str] = field(default_factory=list)

    def tried(self) -> int:
        return sum(self.read_status.values()) + sum(self.bulk_status.values())

    def server_errors(self) -> int:
        return sum(n for s, n in (self.read_status + self.bulk_status).items() if s.startswith("5"))

    def errors(self) -> str:
        bad = {s: n for s, n in (self.read_status + self.bulk_status).items() if s != "200"}
        return ", ".join(f"{s}: {n}" for s, n in sorted(bad.items())) or "none"

    def write_rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0


# ---- the service -----------------------------------------------------------------------------
class Service:
    """`casedigest serve --workers N` on one store, as a subprocess (stopped by `stop`)."""

    def __init__(self, store: Store, port: int, workers: int, log: Path, env: dict[str, str]) -> None:
        if port_in_use(port):
            raise RuntimeError(f"port {port} is already in use")
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        command = [str(VENV_BIN / "casedigest"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, env={**store.env(), **env}, cwd=REPO_ROOT, stdout=out,
                                            stderr=subprocess.STDOUT)

    def wait_ready(self, workers: int) -> None:
        """Ready once /readyz answers 200 and every worker has logged its start-up."""
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"casedigest serve exited {self.process.returncode}: {self.tail()}")
            started = self.log.read_text("utf-8", errors="replace").count("Application startup complete")
            try:
                if started >= workers and httpx.get(f"{self.url}/readyz", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"casedigest serve not ready within {SERVER_START_S:.0f} s: {self.tail()}")

    def tail(self) -> str:
        return last_line(self.log.read_text(encoding="utf-8", errors="replace"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SERVER_STOP_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---- clients ---------------------------------------------------------------------------------
def read_request(rng: random.Random, ids: list[str]) -> tuple[str, dict[str, Any]]:
    """One reader request of the mix: path and query parameters."""
    kind = rng.randrange(5)
    word = rng.choice(KEYWORDS)
    if kind == 0:
        return "/v1/search", {"q": word}
    if kind == 1:
        year = rng.randrange(2013, 2018)
        return "/v1/search", {"q": word, "crime_form": rng.choice(CRIME_FORMS), "year_from": year, "year_to": year + 1}
    if kind == 2:
        return "/v1/search", {"q": rng.choice(("", word)), "facet_size": 50}
    if kind == 3:
        return "/v1/search", {"q": word, "page": rng.randrange(20, 101), "sort": rng.choice(("relevance", "date"))}
    return f"/v1/cases/{rng.choice(ids)}", {}


async def reader(client: httpx.AsyncClient, seed: int, ids: list[str], deadline: float, phase: Phase) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        path, params = read_request(rng, ids)
        started = time.perf_counter()
        try:
            response = await client.get(path, params=params)
            await response.aread()
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        phase.read_ms.append((time.perf_counter() - started) * 1000)
        phase.read_status[status] += 1


def bulk_body(rows: list[dict[str, Any]], start: int, size: int, tag: str, court: str) -> tuple[bytes, list[str]]:
    ids = [f"load-{tag}-{start + i:06d}" for i in range(size)]
    lines = [json.dumps({**rows[(start + i) % len(rows)], "id": rid, "court": court}, ensure_ascii=False)
             for i, rid in enumerate(ids)]
    return ("\n".join(lines) + "\n").encode("utf-8"), ids


async def writer(client: httpx.AsyncClient, secret: str, rows: list[dict[str, Any]], tag: str, court: str,
                 deadline: float, phase: Phase) -> None:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
    sent = 0
    for size in itertools.cycle(BATCH_SIZES):
        if time.monotonic() >= deadline:
            return
        body, _ = bulk_body(rows, sent, size, tag, court)
        sent += size
        started = time.perf_counter()
        try:
            response = await client.post("/v1/cases/bulk", content=body, headers=headers, timeout=WRITE_TIMEOUT)
            text = await response.aread()
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status, text = type(exc).__name__, b""
        phase.bulk_ms.append((time.perf_counter() - started) * 1000)
        phase.bulk_status[status] += 1
        if status != "200":
            continue
        for line in text.splitlines():
            item = json.loads(line)
            if item.get("status") in ACKNOWLEDGED:
                phase.acknowledged.append(item["id"])


async def run_phase(url: str, secret: str, rows: list[dict[str, Any]], readers: int, seconds: float,
                    phase: Phase, tag: str) -> None:
    limits = httpx.Limits(max_connections=readers + 1, max_keepalive_connections=readers + 1)
    async with httpx.AsyncClient(base_url=url, timeout=READ_TIMEOUT, limits=limits) as client:
        started = time.monotonic()
        deadline = started + seconds
        tasks = [writer(client, secret, rows, tag, court_of(tag), deadline, phase)]
        ids = [row["id"] for row in rows]
        tasks += [reader(client, 1000 * i + len(tag), ids, deadline, phase) for i in range(readers)]
        await asyncio.gather(*tasks)
        phase.seconds = time.monotonic() - started


async def warm_up(url: str, secret: str, rows: list[dict[str, Any]], workers: int, tag: str) -> None:
    """Bulks of the largest size, as many at once as there are workers, so each likely gets one."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
    size = max(BATCH_SIZES)
    async with httpx.AsyncClient(base_url=url, timeout=WRITE_TIMEOUT) as client:
        bodies = [bulk_body(rows, n * size, size, tag, court_of(tag))[0] for n in range(workers)]
        answers = await asyncio.gather(*(client.post("/v1/cases/bulk", content=b, headers=headers) for b in bodies))
    for answer in answers:
        answer.raise_for_status()


def court_of(tag: str) -> str:
    """A court name no real record carries, so a filter on it lists exactly the phase's writes."""
    return f"负载测试法院{tag}"


async def verify(url: str, phase: Phase, tag: str) -> None:
    """Count acknowledged records that cannot be fetched by id or found by search."""
    found: set[str] = set()
    async with httpx.AsyncClient(base_url=url, timeout=READ_TIMEOUT) as client:
        cursor: str | None = None
        for _ in range(len(phase.acknowledged) // 100 + 2):  # bounded: one page per 100 records
            params: dict[str, Any] = {"court": court_of(tag), "size": 100, "sort": "date", "expand": "false"}
            if cursor:
                params["cursor"] = cursor
            response = await client.get("/v1/search", params=params)
            response.raise_for_status()
            page = response.json()
            found.update(hit["id"] for hit in page["hits"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        gate = asyncio.Semaphore(16)

        async def fetchable(record_id: str) -> bool:
            async with gate:
                for _ in range(3):  # a dropped connection is the transport's failure, not a lost write
                    try:
                        return (await client.get(f"/v1/cases/{record_id}")).status_code == 200
                    except httpx.TransportError:
                        await asyncio.sleep(0.5)
                return False

        fetched = await asyncio.gather(*(fetchable(rid) for rid in phase.acknowledged))
    missing = [rid for rid, ok in zip(phase.acknowledged, fetched) if not ok or rid not in found]
    phase.lost = len(missing)
    phase.lost_examples = missing[:5]


# ---- stores ----------------------------------------------------------------------------------
def copy_store(template: Store, target: Path) -> Store:
    """A copy of the preloaded embedded store (SQLite file and index folder) under `target`."""
    target.mkdir(parents=True)
    data = target / template.data_path.name
    shutil.copy2(template.data_path, data)
    shutil.copytree(template.data_path.with_name(template.data_path.name + ".index"),
                    data.with_name(data.name + ".index"))
    return Store(template.engine, data, template.es_url, template.alias)


def librarian_key(store: Store, name: str) -> str:
    engine = open_engine(store.settings(), Segmenter())
    try:
        return create_key(engine, name, "librarian")
    finally:
        engine.close()


# ---- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    parser.add_argument("--readers", type=int, default=64, help="reader clients in the loaded phase (default 64)")
    parser.add_argument("--workers", default="1,2", help="server worker counts to run, comma-separated (default 1,2)")
    parser.add_argument("--engine", choices=("embedded", "elasticsearch"), default="embedded")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file to preload")
    parser.add_argument("--port", type=int, default=8130, help="HTTP port of the service (default 8130)")
    parser.add_argument("--es-port", type=int, default=9263, help="port of the Elasticsearch node (default 9263)")
    parser.add_argument("--es-heap", default="1g", help="heap of that node if this script starts it (default 1g)")
    parser.add_argument("--read-threads", type=int,
                        help="CASEDIGEST_READ_THREADS of the service (default: the setting's default)")
    parser.add_argument("--markdown", action="store_true",
                        help=f"also write markdown to {RESULTS_MD.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2
    command = ("python bench/load_mixed.py " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    worker_counts = [int(w) for w in args.workers.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="load_mixed-"))
    with args.data.open(encoding="utf-8") as lines:
        preloaded = sum(1 for line in lines if line.strip())
    rows = list(replica_rows(args.data, preloaded))
    es_url = f"http://127.0.0.1:{args.es_port}"
    run_tag = time.strftime("%H%M%S")
    template = Store(args.engine, workdir / "template" / "casedigest.sqlite3", es_url, f"bench-load-mixed-{run_tag}")
    template.data_path.parent.mkdir(parents=True)
    threads = f", read_threads {args.read_threads}" if args.read_threads else ""
    table = Table(f"{args.readers} readers and one bulk writer, {args.engine} engine, {preloaded:,} cases preloaded{threads}",
                  ("workers", "phase", "reads/s", "read p50 / p99 ms", "write records/s", "of idle",
                   "bulk p50 / p99 ms", "requests tried", "errors by status", "5xx (must be 0)",
                   "lost acknowledged writes (must be 0)"))
    ok = False  # until every run has been checked
    try:
        if args.engine == "elasticsearch":
            progress(f"starting Elasticsearch on port {args.es_port} …")
            start_node(args.es_port, args.es_heap)
        progress(f"preloading {preloaded:,} cases …")
        write_jsonl(args.data, preloaded, workdir / "cases.jsonl")
        casedigest(template, "load", str(workdir / "cases.jsonl"), "--quiet", "--rejects",
                   str(workdir / "rejects.jsonl"), "--summary", str(workdir / "summary.json"))
        clean = True
        for workers in worker_counts:
            store = copy_store(template, workdir / f"workers-{workers}") if args.engine == "embedded" else template
            secret = librarian_key(store, f"bench-load-mixed-{workers}")
            env = {"CASEDIGEST_READ_THREADS": str(args.read_threads)} if args.read_threads else {}
            service = Service(store, args.port, workers, workdir / f"serve-{workers}.log", env)
            try:
                progress(f"{workers} worker(s): starting …")
                service.wait_ready(workers)
                # Not measured: starts the segmentation workers a batch of 600 needs, in each process.
                asyncio.run(warm_up(service.url, secret, rows, workers, f"{run_tag}w{workers}warm"))
                idle_write_rate = 0.0
                for name, readers in (("idle (writer alone)", 0), (f"{args.readers} readers + writer", args.readers)):
                    tag = f"{run_tag}w{workers}{'i' if readers == 0 else 'l'}"
                    phase = Phase(name)
                    progress(f"{workers} worker(s), {name}: {args.seconds:.0f} s …")
                    asyncio.run(run_phase(service.url, secret, rows, readers, args.seconds, phase, tag))
                    progress(f"  checking {len(phase.acknowledged):,} acknowledged records …")
                    asyncio.run(verify(service.url, phase, tag))
                    if readers == 0:
                        idle_write_rate = phase.write_rate()
                    share = phase.write_rate() / idle_write_rate if idle_write_rate else 0.0
                    reads = len(phase.read_ms) / phase.seconds if phase.seconds else 0.0
                    table.add(workers, name, f"{reads:,.0f}" if readers else "–",
                              f"{percentile(phase.read_ms, 50):,.0f} / {percentile(phase.read_ms, 99):,.0f}" if readers else "–",
                              f"{phase.write_rate():,.0f}", f"{share:.0%}",
                              f"{percentile(phase.bulk_ms, 50):,.0f} / {percentile(phase.bulk_ms, 99):,.0f}",
                              f"{phase.tried():,}", phase.errors(), phase.server_errors(),
                              f"{phase.lost} of {len(phase.acknowledged):,}"
                              + (f" (e.g. {', '.join(phase.lost_examples)})" if phase.lost else ""))
                    clean &= phase.lost == 0 and phase.server_errors() == 0
            finally:
                service.stop()
        ok = clean
    finally:
        if args.engine == "elasticsearch":
            try:
                engine = open_engine(template.settings(), Segmenter())
                engine.drop()  # type: ignore[attr-defined]
                engine.close()
            except Exception as exc:  # noqa: BLE001  (clean-up goes on; the node stops anyway)
                progress(f"could not drop alias {template.alias}: {exc}")
            stop_node(args.es_port)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            progress(f"logs and stores kept in {workdir}")
    notes = [
        "Each phase runs for the same time on the same service; the idle phase comes first. Reads mix keyword "
        "queries, keyword + crime form + years, facets at facet_size 50, pages 20–100, and record fetches, "
        "one fifth each. Write records/s counts records acknowledged by bulk answers; 'of idle' compares it "
        "with the idle phase of the same worker count.",
        "Lost acknowledged writes: acknowledged ids that `GET /v1/cases/{id}` does not return or that a search "
        "filtered on the phase's court does not list, checked after the phase.",
    ]
    text = "\n\n".join([f"$ {command}\n{machine_info()}", table.text(), "\n".join(notes)])
    print(text)
    if args.markdown:
        table.notes = notes
        markdown = "\n\n".join(["# Reads and writes at once", f"`{command}`", machine_info(), table.markdown()]) + "\n"
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text(markdown, encoding="utf-8")
        progress(f"written to {RESULTS_MD}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
