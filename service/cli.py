"""`casedigest`: a thin command line over the search core and the loader.

Library errors become a one-line message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from indexing.errors import CasedigestError
from indexing.export import export_chunks
from indexing.field_map import FieldMap, FieldMapError
from indexing.loader import LoadReport, load_files
from indexing.search import SearchRequest, SearchService
from indexing.segmenter import Segmenter
from service.settings import Settings, get_settings
from service.state import open_engine

app = typer.Typer(add_completion=False, no_args_is_help=True, help="有组织犯罪案例摘要检索服务 casedigest")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"casedigest: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _search_service(settings: Settings) -> Iterator[SearchService]:
    segmenter = Segmenter()
    engine = open_engine(settings, segmenter)
    try:
        yield SearchService(engine, segmenter)
    finally:
        engine.close()


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="listen address (default CASEDIGEST_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="listen port (default CASEDIGEST_PORT)")] = None,
) -> None:
    """Start the HTTP API (and load the demo records into an empty index)."""
    import uvicorn

    from service.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info")


@app.command()
def load(
    files: Annotated[list[Path], typer.Argument(help="JSONL files of records")],
    mapping: Annotated[Optional[Path], typer.Option(help="field map (TOML) for a foreign layout")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only, write nothing")] = False,
    rejects: Annotated[Optional[Path], typer.Option(help="write rejected lines here (JSONL)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="print only the summary")] = False,
) -> None:
    """Load records; bad lines are reported with file and line, the rest still loads."""
    try:
        field_map = FieldMap.load(mapping) if mapping else None
    except FieldMapError as exc:
        _fail(str(exc))
        return
    settings = get_settings()
    try:
        with _search_service(settings) as service:
            report = load_files(files, service.engine, field_map, dry_run=dry_run)
    except CasedigestError as exc:
        _fail(exc.message)
        return
    _print_report(report, quiet, rejects)
    if report.rejected:
        raise typer.Exit(2)


def _print_report(report: LoadReport, quiet: bool, rejects: Path | None) -> None:
    if not quiet:
        for rejection in report.rejections[:50]:
            typer.echo(f"rejected {rejection.describe()}", err=True)
        if len(report.rejections) > 50:
            typer.echo(f"... and {len(report.rejections) - 50} more rejected lines", err=True)
    if rejects is not None:
        with rejects.open("w", encoding="utf-8") as out:
            for r in report.rejections:
                out.write(json.dumps(r.__dict__, ensure_ascii=False, default=str) + "\n")
    typer.echo(json.dumps(report.summary(), ensure_ascii=False))


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
