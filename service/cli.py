"""`casedigest`: a thin command line over the search core and the loader.

Library errors become a one-line message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import getpass
import json
import sys
from dataclasses import asdict
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional, TextIO

import typer
from pydantic import ValidationError

from indexing.engines.disk import is_disk_full
from indexing.errors import CasedigestError
from indexing.loading.export import export_chunks
from indexing.loading.field_map import FieldMap, FieldMapError
from indexing.loading.loader import Rejection, TooManyRejections, load_files
from indexing.similar.charge_fill import TRAINING_WAIT_SECONDS, needs_prediction, predict_missing_charges
from indexing.core.models import SearchRequest
from indexing.similar.models import SimilarRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from indexing.loading.writes import Writer
from service.cli_admin import register as register_admin
from service.progress import LoadProgress
from service.settings import Settings, get_settings
from service.similar_report import USES, Report, compose_report
from service.state import open_engine

# How long the server waits for a worker process to answer its ping before replacing it.
WORKER_HEALTHCHECK_SECONDS = 60

app = typer.Typer(add_completion=False, no_args_is_help=True, help="有组织犯罪案例摘要检索服务 casedigest")
register_admin(app)  # keys and audit


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"casedigest: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _search_service(settings: Settings) -> Iterator[SearchService]:
    segmenter = Segmenter(cutter=settings.segmenter)
    engine = open_engine(settings, segmenter)
    try:
        yield SearchService(engine, segmenter, cursor_secret=settings.cursor_secret)
    finally:
        engine.close()


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="listen address (default CASEDIGEST_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="listen port (default CASEDIGEST_PORT)")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="server processes (default CASEDIGEST_WORKERS)")] = None,
) -> None:
    """Start the HTTP API (and load the demo records into an empty index)."""
    import uvicorn

    from service.middleware import MAX_REQUEST_HEAD_BYTES

    settings = get_settings()
    # An import string and a factory: each worker process builds its own app (and engine)
    # from the environment; uvicorn cannot hand an app object to several processes.
    uvicorn.run(
        "service.app:create_app", factory=True, host=host or settings.host, port=port or settings.port,
        workers=workers or settings.workers, log_level="info",
        # h11 explicitly: its head-size limit is the one the README documents (httptools has its own)
        http="h11", h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        # A worker loads its dictionaries at start-up while the native cutter holds the
        # interpreter lock; on a busy machine uvicorn's 5 s ping then went unanswered and the
        # worker was killed and restarted, again and again.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


@app.command()
def load(
    files: Annotated[list[Path], typer.Argument(help="record files: JSONL, CSV/TSV or XLSX")],
    mapping: Annotated[Optional[Path], typer.Option(help="mapping file (TOML) for a foreign layout")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="CSV encoding (default: detect UTF-8, UTF-8 with BOM, GB18030)")] = None,
    sheet: Annotated[Optional[str], typer.Option(help="XLSX sheet to read (default: the first)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only, write nothing")] = False,
    rejects: Annotated[Path, typer.Option(help="reject file (JSONL), written when a line is rejected")] = Path("casedigest-rejects.jsonl"),
    summary: Annotated[Path, typer.Option(help="where the JSON summary is written")] = Path("casedigest-load-summary.json"),
    max_errors: Annotated[Optional[int], typer.Option("--max-errors", help="stop after more rejections than this; up to it the exit status stays 0")] = None,
    sync: Annotated[Optional[str], typer.Option("--sync", metavar="SOURCE", help="afterwards delete records of this source name that the files no longer hold")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="confirm the deletions of --sync")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress and no per-line messages; only the summary")] = False,
) -> None:
    """Load records; bad lines go to the reject file with file, line, field and reason; the rest loads."""
    try:
        field_map = FieldMap.load(mapping) if mapping else None
    except FieldMapError as exc:
        _fail(str(exc))
        return
    reject_out = _RejectFile(rejects, echo=not quiet)
    try:
        with _search_service(get_settings()) as service, LoadProgress(_count_lines(files), quiet) as progress:
            writer = Writer(service.engine, _actor())
            try:
                report = load_files(
                    files, writer, field_map, dry_run=dry_run, progress=progress, on_reject=reject_out,
                    max_errors=max_errors, encoding=encoding, sheet=sheet, keep_ids=sync is not None,
                )
            finally:
                reject_out.close()
            for duplicate in report.duplicates[:50]:
                if not quiet:
                    typer.echo(f"duplicate {duplicate.describe()}", err=True)
            outcome = report.summary()
            if not dry_run:
                outcome["predicted_charges"] = predict_missing_charges(service, report.uncharged, writer.actor)
            if sync:
                outcome["sync_deleted"] = _sync(writer, sync, report.ids, yes and not dry_run)
    except TooManyRejections as exc:
        _write_summary(summary, exc.detail.get("summary", {}))
        _fail(exc.message, 3)
        return
    except CasedigestError as exc:
        _fail(exc.message)
        return
    except OSError as exc:  # the reject file on a full disk
        _fail_if_disk_full(exc)
        raise
    try:
        _write_summary(summary, outcome)
    except OSError as exc:
        _fail_if_disk_full(exc)
        raise
    typer.echo(json.dumps(outcome, ensure_ascii=False))
    if report.rejected and (max_errors is None or report.rejected > max_errors):
        raise typer.Exit(2)


def _fail_if_disk_full(exc: OSError) -> None:
    """A file of ours that a full disk refused: one line, not a traceback."""
    if is_disk_full(exc):
        where = Path(exc.filename).resolve().parent if exc.filename else Path.cwd()
        _fail(f"no space left on {where}")


def _actor() -> str:
    """Audit name of command-line writes."""
    return f"cli:{getpass.getuser()}"


def _count_lines(files: list[Path]) -> int | None:
    """Lines in the text files (for the ETA); None when unknown (spreadsheets, missing files)."""
    total = 0
    for path in files:
        if path.suffix.lower() not in (".jsonl", ".ndjson", ".csv", ".tsv", ".txt"):
            return None
        try:
            with path.open("rb") as handle:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        except OSError:
            return None
    return total


class _RejectFile:
    """Writes each rejection as it happens, so nothing is lost if the load is stopped."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path = path
        self.echo = echo
        self.count = 0
        self._handle: TextIO | None = None

    def __call__(self, rejection: Rejection) -> None:
        if self._handle is None:
            self._handle = self.path.open("w", encoding="utf-8")
        self._handle.write(json.dumps(asdict(rejection), ensure_ascii=False, default=str) + "\n")
        self._handle.flush()
        self.count += 1
        if self.echo and self.count <= 50:
            typer.echo(f"rejected {rejection.describe()}", err=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            if self.echo:
                typer.echo(f"{self.count} rejected lines written to {self.path}", err=True)


def _write_summary(path: Path, summary: dict[str, object]) -> None:
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _sync(writer: Writer, source: str, kept: set[str], confirmed: bool) -> int:
    """Delete records of `source` that the loaded files no longer hold (only when confirmed)."""
    gone = sorted(writer.engine.source_record_ids(source) - kept)
    if not gone:
        typer.echo(f"sync: every record of source {source!r} is in the files; nothing to delete", err=True)
        return 0
    if not confirmed:
        typer.echo(
            f"sync: {len(gone)} records of source {source!r} are not in the files "
            f"(e.g. {', '.join(gone[:5])}); run again with --yes to delete them",
            err=True,
        )
        return 0
    deleted = writer.delete(gone)
    typer.echo(f"sync: deleted {deleted} records of source {source!r} that the files no longer hold", err=True)
    return deleted


@app.command()
def delete(
    ids: Annotated[list[str], typer.Argument(help="record ids to delete")],
) -> None:
    """Delete records by id (audited)."""
    try:
        with _search_service(get_settings()) as service:
            deleted = Writer(service.engine, _actor()).delete(ids)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    missing = len(set(ids)) - deleted
    typer.echo(json.dumps({"deleted": deleted, "not_found": missing}))
    if missing:
        raise typer.Exit(2)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='查询，例如 "走私 文物" 或 charges:受贿')] = "",
    crime_form: Annotated[list[str], typer.Option("--crime-form", help="crime-form code or label")] = [],
    country: Annotated[list[str], typer.Option(help="ISO country code")] = [],
    court: Annotated[list[str], typer.Option(help="court name")] = [],
    charge: Annotated[list[str], typer.Option(help="charge name")] = [],
    doc_type: Annotated[list[str], typer.Option("--doc-type", help="case or resolution")] = [],
    year_from: Annotated[Optional[int], typer.Option("--year-from")] = None,
    year_to: Annotated[Optional[int], typer.Option("--year-to")] = None,
    size: Annotated[int, typer.Option(help="hits to show")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
) -> None:
    """Search from the terminal (same core as the API)."""
    request = SearchRequest(
        q=query, crime_form=crime_form, country=country, court=court, charge=charge, doc_type=doc_type,
        year_from=year_from, year_to=year_to, size=size,
    )
    try:
        with _search_service(get_settings()) as service:
            result = service.search(request)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    typer.echo(f"共 {result.total} 条（{result.took_ms} ms）")
    for hit in result.hits:
        where = "，".join(x for x in (hit.court, hit.date, hit.case_number) if x)
        forms = " ".join(f"[{b.label}{'·推断' if b.source == 'inferred' else ''}]" for b in hit.crime_forms)
        typer.echo(f"\n{hit.id}  {hit.title}\n  {where} {forms}")
        for snippet in hit.highlights[:1]:
            typer.echo("  " + snippet.replace("<mark>", "【").replace("</mark>", "】"))


@app.command()
def similar(
    text: Annotated[str, typer.Argument(help="案件事实（或用 --file 读取文件，- 为标准输入）")] = "",
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="read the facts from this file ('-': stdin)")] = None,
    crime_form: Annotated[list[str], typer.Option("--crime-form", help="crime-form code or label")] = [],
    court: Annotated[list[str], typer.Option(help="court name")] = [],
    charge: Annotated[list[str], typer.Option(help="charge name")] = [],
    year_from: Annotated[Optional[int], typer.Option("--year-from")] = None,
    year_to: Annotated[Optional[int], typer.Option("--year-to")] = None,
    size: Annotated[int, typer.Option(help="similar cases to show")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
    report: Annotated[Optional[Path], typer.Option(help="also write the 类案检索报告 of the cases shown (or --pick) to this .docx or .html file")] = None,
    pick: Annotated[list[str], typer.Option(help="case id to put in the report (default: every case shown)")] = [],
    searcher: Annotated[str, typer.Option(help="检索主体 named in the report")] = "",
    disputed: Annotated[str, typer.Option(help="待决案件争议焦点 named in the report")] = "",
) -> None:
    """Similar-case search (类案检索): the decided cases most like the facts, and why; optionally the report."""
    if report is not None and report.suffix.lower() not in (".docx", ".html"):
        _fail("--report must name a .docx or .html file")
        return
    try:
        facts = _read_facts(text, file)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
        return
    try:
        request = SimilarRequest(
            text=facts, crime_form=crime_form, court=court, charge=charge,
            year_from=year_from, year_to=year_to, size=size,
        )
        with _search_service(get_settings()) as service:
            result = service.similar(request)
            if report is not None:
                filters = {"crime_form": crime_form, "court": court, "charge": charge,
                           "year_from": year_from, "year_to": year_to}
                content = compose_report(
                    service, request, pick or [h.id for h in result.hits], lambda _id: ("consulted", ""),
                    searcher=searcher or _actor(), disputed=disputed,
                    platform=f"casedigest 有组织犯罪案例摘要检索（命令行，{service.engine.health().engine}）",
                    filters_used="；".join(f"{k}={v}" for k, v in filters.items() if v),
                )
                _write_report(report, content)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    except ValidationError as exc:
        _fail(exc.errors()[0]["msg"])
        return
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    charges = "、".join(f"{p.label}（{p.confidence:.0%}）" for p in result.predicted_charges) or "无"
    typer.echo(f"预测罪名：{charges}")
    typer.echo(f"关键词：{'、'.join(t.word for t in result.key_terms[:12])}")
    typer.echo(f"相似案例 {result.total} 件（{result.took_ms} ms）")
    for number, hit in enumerate(result.hits, start=1):
        where = "，".join(x for x in (hit.court, hit.date, hit.case_number) if x)
        typer.echo(f"\n{number}. {hit.id}  {hit.title}  相似度 {hit.similarity}\n   {where}")
        if hit.why.shared_charges:
            typer.echo("   相同罪名：" + "、".join(hit.why.shared_charges))
        if hit.why.shared_terms:
            typer.echo("   共有关键词：" + "、".join(t.word for t in hit.why.shared_terms[:8]))
    if report is not None:
        typer.echo(f"\n类案检索报告已写入 {report}", err=True)


def _read_facts(text: str, file: Path | None) -> str:
    """The facts: the argument, or a file's text, or standard input for `-`."""
    if file is None:
        return text
    if str(file) == "-":
        return sys.stdin.read()
    return file.read_text(encoding="utf-8-sig")


def _write_report(path: Path, report: "Report") -> None:
    if path.suffix.lower() == ".docx":
        from service.similar_docx import report_document

        path.write_bytes(report_document(report, USES))
        return
    from service.web import render

    page = render("similar_report.html", report=report, uses=USES)
    path.write_bytes(bytes(page.body))


@app.command()
def export(
    query: Annotated[str, typer.Argument(help="查询（空 = 全部记录）")] = "",
    crime_form: Annotated[list[str], typer.Option("--crime-form", help="crime-form code or label")] = [],
    country: Annotated[list[str], typer.Option(help="ISO country code")] = [],
    court: Annotated[list[str], typer.Option(help="court name")] = [],
    charge: Annotated[list[str], typer.Option(help="charge name")] = [],
    doc_type: Annotated[list[str], typer.Option("--doc-type", help="case or resolution")] = [],
    year_from: Annotated[Optional[int], typer.Option("--year-from")] = None,
    year_to: Annotated[Optional[int], typer.Option("--year-to")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
) -> None:
    """Export every record matching a search (the same core as the API), as JSONL or CSV."""
    if fmt not in ("jsonl", "csv"):
        _fail("--format must be jsonl or csv")
        return
    request = SearchRequest(
        q=query, crime_form=crime_form, country=country, court=court, charge=charge, doc_type=doc_type,
        year_from=year_from, year_to=year_to,
    )
    try:
        with _search_service(get_settings()) as service:
            chunks = export_chunks(service.matching_records(request), fmt)  # type: ignore[arg-type]
            if output is None:
                for chunk in chunks:
                    sys.stdout.write(chunk)
            else:
                with output.open("w", encoding="utf-8", newline="") as out:
                    for chunk in chunks:
                        out.write(chunk)
    except CasedigestError as exc:
        _fail(exc.message)


@app.command("predict-charges")
def predict_charges() -> None:
    """Predict the charges of every case stored without charges and without a prediction yet.

    `casedigest load` does this for the cases it loads; this catches the rest (cases written over
    HTTP before the charge model was ready, or by a process that stopped before filling them).
    """
    try:
        with _search_service(get_settings()) as service:
            waiting = {r.id for r in service.engine.iter_records() if needs_prediction(r)}
            if waiting and not service.charge_predictor.ready(TRAINING_WAIT_SECONDS):
                _fail("no charge model: the index holds too few cases with charges to learn from")
                return
            filled = predict_missing_charges(service, waiting, _actor())
            finish = getattr(service.engine, "finish_writes", None)
            if callable(finish):
                finish()
    except CasedigestError as exc:
        _fail(exc.message)
        return
    typer.echo(json.dumps({"without_charges": len(waiting), "predicted_charges": filled}))


@app.command()
def reindex() -> None:
    """Elasticsearch: rebuild the index from its records under the latest definition, then swap the alias."""
    settings = get_settings()
    if settings.engine != "elasticsearch":
        _fail("reindex applies to the Elasticsearch engine; the embedded index rebuilds itself when outdated")
        return
    try:
        with _search_service(settings) as service:
            old, new, count = service.engine.reindex(  # type: ignore[attr-defined]
                progress=lambda n: typer.echo(f"{n} records copied", err=True)
            )
    except CasedigestError as exc:
        _fail(exc.message)
        return
    typer.echo(json.dumps({"alias": settings.elasticsearch_index, "old": old, "new": new, "records": count}))


@app.command()
def stats() -> None:
    """Counts of records per type and per crime form, and the engine's state."""
    try:
        with _search_service(get_settings()) as service:
            health = service.engine.health()
            out = {
                "engine": health.engine,
                "ready": health.ready,
                "detail": health.detail,
                "records": service.engine.count_records(),
                "crime_forms": service.crime_form_counts(),
            }
    except CasedigestError as exc:
        _fail(exc.message)
        return
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
