"""Load rate of the two front doors for bulk writes, on both engines, beside segmentation only.

One JSONL file of N records is written first: the real CAIL2018 cases replicated under new ids
and synthetic decision dates exactly as `bench/load_and_query.py` builds them, but passed
through the CAIL field map once here, so the file is already in the record format and both
front doors read the same bytes without a mapping. Then, in one run:

- segmentation only: `units_for` over the records parsed from that file (the work any
  engine's indexing needs; parsing itself is not timed);
- `casedigest load FILE --quiet` as a subprocess on a fresh store, embedded engine and
  Elasticsearch: wall time, so interpreter start-up and the jieba dictionary load count;
- `POST /v1/cases/bulk` on a `uvicorn` subprocess serving `service.app:create_app` (fixtures
  off, a librarian key created beforehand): the file streamed as NDJSON with httpx, the
  streamed per-line answer read to its summary line; wall time from the first byte sent to
  the summary read.

Every load is checked: the summary must say N inserted and none rejected, and `casedigest
stats` on the store afterwards must count N records.

    python bench/bulk_load.py [--cases 100000] [--port 9271] [--http-ports 8791,8792] [--markdown]

The Elasticsearch node is this script's own, started with `scripts/elasticsearch.sh start
--port P` and stopped at the end (its aliases are dropped first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from bench.engines import ES_SCRIPT, Table, start_node, stop_node  # noqa: E402
from bench.load_and_query import DEFAULT_DATA, FIELD_MAP, machine_info, progress, summary_chars  # noqa: E402
from indexing.engines.units import units_for  # noqa: E402
from indexing.records.enrich import with_inferred_forms  # noqa: E402
from indexing.loading.field_map import FieldMap  # noqa: E402
from indexing.records.model import parse_record  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402
from service.auth import create_key  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.state import open_engine  # noqa: E402

RESULTS_MD = REPO_ROOT / "bench/results/bulk_load.md"
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's own bin folder
ENGINES = ("embedded", "elasticsearch")
ES_TIMEOUT = "60"  # seconds; a bulk of 500 cases on a busy node can take more than the default 10
UPLOAD_CHUNK = 1 << 20
SERVER_START_S = 120.0
SERVER_STOP_S = 30.0
HTTP_TIMEOUT = httpx.Timeout(1800.0, connect=10.0)  # the answer starts only after the last batch


# ---- the input file --------------------------------------------------------------------------
def replica_rows(data: Path, cases: int) -> Iterator[dict[str, Any]]:
    """The rows `load_and_query.prepare_records` builds (same ids, same synthetic dates), after
    the field map but before parsing: that function returns parsed records, and the file must
    hold what a librarian would send."""
    field_map = FieldMap.load(FIELD_MAP)
    with data.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    for i in range(cases):
        source = rows[i % len(rows)]
        mapped = field_map.apply({**source, "id": f"{source['id']}-r{i // len(rows):04d}"})
        mapped["decision_date"] = f"{2013 + i % 6}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        yield mapped


def write_jsonl(data: Path, cases: int, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in replica_rows(data, cases):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def segmentation_seconds(path: Path, segmenter: Segmenter) -> tuple[float, int]:
    """Seconds of `units_for` over the file's records (parsed as the loader parses them, untimed)
    and their summary characters."""
    with path.open(encoding="utf-8") as lines:
        records = [with_inferred_forms(parse_record(json.loads(line))) for line in lines if line.strip()]
    started = time.perf_counter()
    for record in records:
        units_for(record, segmenter)
    return time.perf_counter() - started, summary_chars(records)


# ---- stores and subprocesses -----------------------------------------------------------------
@dataclass(frozen=True)
class Store:
    """One fresh store: an embedded file or an Elasticsearch alias."""

    engine: str
    data_path: Path
    es_url: str
    alias: str

    def env(self) -> dict[str, str]:
        """The environment of a subprocess on this store; inherited CASEDIGEST_* settings dropped."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDIGEST_")}
        env.update(CASEDIGEST_ENGINE=self.engine, CASEDIGEST_DATA_PATH=str(self.data_path),
                   CASEDIGEST_ELASTICSEARCH_URL=self.es_url, CASEDIGEST_ELASTICSEARCH_INDEX=self.alias,
                   CASEDIGEST_ELASTICSEARCH_TIMEOUT=ES_TIMEOUT, CASEDIGEST_LOAD_FIXTURES="false")
        return env

    def settings(self) -> Settings:
        return Settings(engine=self.engine, data_path=self.data_path, elasticsearch_url=self.es_url,  # type: ignore[arg-type]
                        elasticsearch_index=self.alias, elasticsearch_timeout=float(ES_TIMEOUT), load_fixtures=False)

    def label(self) -> str:
        return f"alias {self.alias}" if self.engine == "elasticsearch" else str(self.data_path)


def casedigest(store: Store, *args: str) -> dict[str, Any]:
    """Run the `casedigest` CLI on `store`; its last stdout line parsed as JSON."""
    done = subprocess.run([str(VENV_BIN / "casedigest"), *args], env=store.env(), cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"casedigest {args[0]} exited {done.returncode}: {last_line(done.stderr)}")
    return json.loads(done.stdout) if args[0] == "stats" else json.loads(done.stdout.strip().splitlines()[-1])


def last_line(text: str) -> str:
    """The exception line of a subprocess's output, else its last line (one line for a table cell;
    rich tracebacks draw boxes, uvicorn ends with its own 'Application startup failed')."""
    lines = [line.strip(" │╰╯─") for line in text.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line)]
    pick = errors or lines
    return (pick[-1] if pick else "(no output)")[:300]


def stored_records(store: Store) -> int:
    return sum(casedigest(store, "stats")["records"].values())


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """`uvicorn` serving `create_app()` on one store, as a subprocess (stopped by `stop`)."""

    def __init__(self, store: Store, port: int, log: Path) -> None:
        if port_in_use(port):
            raise RuntimeError(f"port {port} is already in use")
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        code = ("import uvicorn; from service.app import create_app; "
                f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-c", code], env=store.env(), cwd=REPO_ROOT,
                                            stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"uvicorn not ready within {SERVER_START_S:.0f} s: {self.tail()}")

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


# ---- the two front doors ---------------------------------------------------------------------
@dataclass
class Load:
    seconds: float
    summary: dict[str, int]
    note: str = ""


def cli_load(store: Store, path: Path, workdir: Path) -> Load:
    started = time.perf_counter()
    summary = casedigest(store, "load", str(path), "--quiet", "--rejects", str(workdir / "cli-rejects.jsonl"),
                         "--summary", str(workdir / "cli-summary.json"))
    return Load(time.perf_counter() - started, summary)


def file_chunks(path: Path, sent: list[float]) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            yield chunk
    sent.append(time.perf_counter())


def http_load(store: Store, path: Path, port: int, workdir: Path, segmenter: Segmenter) -> Load:
    engine = open_engine(store.settings(), segmenter)
    try:
        secret = create_key(engine, "bench-bulk-load", "librarian")
    finally:
        engine.close()
    server = Server(store, port, workdir / f"uvicorn-{store.engine}.log")
    try:
        server.wait_ready()
        sent: list[float] = []
        statuses: dict[str, int] = {}
        summary: dict[str, int] = {}
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
        started = time.perf_counter()
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            with client.stream("POST", f"{server.url}/v1/cases/bulk", headers=headers,
                               content=file_chunks(path, sent)) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"bulk answered {response.status_code}: {response.read()[:2000]!r}")
                for line in response.iter_lines():
                    if not line:
                        continue
                    item = json.loads(line)
                    if "summary" in item:
                        summary = item["summary"]
                    else:
                        statuses[item["status"]] = statuses.get(item["status"], 0) + 1
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    if sum(statuses.values()) != summary.get("read"):
        raise RuntimeError(f"{sum(statuses.values())} result lines for {summary.get('read')} lines read")
    upload = f"upload done at {sent[0] - started:.0f} s" if sent else "upload not finished"
    return Load(seconds, summary, upload)


# ---- main ------------------------------------------------------------------------------------
def checked(load: Load, store: Store, cases: int) -> tuple[str, bool]:
    """The check column: the load's own summary, then what the store holds afterwards."""
    s = load.summary
    stored = stored_records(store)
    ok = s.get("inserted") == cases and s.get("rejected") == 0 and stored == cases
    cell = f"inserted {s.get('inserted', 0):,}, rejected {s.get('rejected', 0):,}; stats {stored:,}"
    return (cell if ok else f"WRONG: {cell} (expected {cases:,})"), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="records in the file (default 100000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file to replicate")
    parser.add_argument("--port", type=int, default=9271, help="port of the node this script starts (default 9271)")
    parser.add_argument("--es-heap", default="1g", help="heap of that node (default 1g)")
    parser.add_argument("--http-ports", default="8791,8792",
                        help="uvicorn ports for the embedded and the Elasticsearch service (default 8791,8792)")
    parser.add_argument("--workdir", type=Path, help="keep the file, stores and logs in a new folder here")
    parser.add_argument("--markdown", action="store_true",
                        help=f"also print markdown and write it to {RESULTS_MD.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2
    http_ports = dict(zip(ENGINES, (int(p) for p in args.http_ports.split(","))))
    command = ("python bench/bulk_load.py " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bulk_load-", dir=args.workdir))
    n = args.cases
    preamble = [machine_info()]
    table = Table(f"Bulk load, {n:,} cases", ("front door", "engine", "cases/s", "k chars/s", "seconds",
                                              "rate / segmentation only", "check"))
    notes: list[str] = []
    all_ok = True
    es_url = f"http://127.0.0.1:{args.port}"
    stores: list[Store] = []
    segmenter = Segmenter()
    try:
        progress(f"writing {n:,} records to {workdir / 'cases.jsonl'} …")
        path = workdir / "cases.jsonl"
        started = time.perf_counter()
        write_jsonl(args.data, n, path)
        preamble.append(f"{n:,} cases replicated from {args.data.name} ({path.stat().st_size / 1e6:,.0f} MB of JSONL), "
                        f"written in {time.perf_counter() - started:.1f} s")

        progress(f"starting Elasticsearch on port {args.port} …")
        es_url = start_node(args.port, args.es_heap)
        progress("segmentation only …")
        before = os.getloadavg()[0]
        seg_s, chars = segmentation_seconds(path, segmenter)
        preamble.append(f"{chars:,} summary chars; Elasticsearch node of its own on port {args.port}, "
                        f"heap {args.es_heap}")
        table.add("segmentation only", "–", f"{n / seg_s:,.0f}", f"{chars / seg_s / 1000:,.0f}", f"{seg_s:.1f}",
                  "1.00", "`units_for` over the parsed records")

        tag = f"{os.getpid()}-{time.strftime('%H%M%S')}"
        for engine in ENGINES:
            for door in ("cli", "http"):
                store = Store(engine, workdir / f"{engine}-{door}" / "casedigest.sqlite3", es_url,
                              f"bench-bulk-{door}-{tag}")
                store.data_path.parent.mkdir(parents=True, exist_ok=True)
                stores.append(store)
                label = "`casedigest load --quiet`" if door == "cli" else "`POST /v1/cases/bulk`"
                progress(f"{label} on {engine} ({store.label()}) …")
                try:
                    load = (cli_load(store, path, workdir) if door == "cli"
                            else http_load(store, path, http_ports[engine], workdir, segmenter))
                    check, ok = checked(load, store, n)
                except RuntimeError as exc:
                    table.add(label, engine, "–", "–", "–", "–", f"FAILED: {exc}")
                    all_ok = False
                    continue
                all_ok &= ok
                table.add(label, engine, f"{n / load.seconds:,.0f}", f"{chars / load.seconds / 1000:,.0f}",
                          f"{load.seconds:.1f}", f"{seg_s / load.seconds:.2f}",
                          check + (f"; {load.note}" if load.note else ""))
                progress(f"  {load.seconds:.1f} s")
        preamble.append(f"load average (1 min) before segmentation {before:.1f}, after the loads "
                        f"{os.getloadavg()[0]:.1f} (other processes share the cores)")
    finally:
        for store in stores:
            if store.engine == "elasticsearch":
                try:
                    engine_ = open_engine(store.settings(), segmenter)
                    engine_.drop()  # type: ignore[attr-defined]
                    engine_.close()
                except Exception as exc:  # noqa: BLE001  (clean-up goes on; the node stops anyway)
                    progress(f"could not drop alias {store.alias}: {exc}")
        progress(f"stopping Elasticsearch on port {args.port} …")
        stop_node(args.port)
        status = subprocess.run([str(ES_SCRIPT), "status"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, check=False).stdout
        mine = [line for line in status.splitlines() if line.split()[:1] == [str(args.port)]]
        progress("elasticsearch.sh status: " + (mine[0] if mine else f"no node on port {args.port}"))
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            progress(f"file, stores and logs kept in {workdir}")

    notes += [
        "Wall times. The CLI rows include interpreter start-up, imports and the jieba dictionary load "
        "(a few seconds); the HTTP rows run from the first byte sent to the summary line read, on a "
        "service started beforehand. The rate / segmentation only column is segmentation time ÷ load "
        "time: 1.00 would mean storage, parsing and transport cost nothing.",
        "The CLI reads the file in batches of 1,000 records; the bulk endpoint writes batches of 500 "
        "(or 8 MB) as the body streams in, and answers once the last one is written. The Elasticsearch "
        "engine sends bulk requests of 500 documents in both cases.",
        "`stats` is `casedigest stats` on the store after the load (records of every type).",
    ]
    text = "\n\n".join([f"$ {command}\n" + "\n".join(preamble), table.text(), "\n".join(notes)])
    print(text)
    if args.markdown:
        table.notes = [*table.notes, *notes]
        markdown = "\n\n".join(["# Bulk load: CLI and HTTP, both engines", f"`{command}`", "  \n".join(preamble),
                                table.markdown()]) + "\n"
        print("\n" + markdown)
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text(markdown, encoding="utf-8")
        progress(f"written to {RESULTS_MD}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
