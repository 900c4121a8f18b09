"""GET /v1/search and GET /v1/crime-forms."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from indexing.records.crime_forms import TAXONOMY
from indexing.loading.export import MEDIA_TYPES, export_chunks
from indexing.core.models import SearchRequest, SearchResult
from service.state import Search

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchResult, summary="全文检索案例摘要与决议段落；format=csv|jsonl 导出全部结果")
def search(
    service: Search,
    q: Annotated[str, Query(description='查询：词语默认同时满足；支持 OR、-词、"短语"、括号、title:/charges:/court: 字段限定')] = "",
    crime_form: Annotated[list[str], Query(description="犯罪形式代码或名称，可重复（同字段内为“或”）")] = [],
    doc_type: Annotated[list[str], Query(description="case 或 resolution，可重复")] = [],
    country: Annotated[list[str], Query(description="ISO 3166 国家代码，可重复")] = [],
    court: Annotated[list[str], Query(description="法院（或决议的通过机构）全称，可重复")] = [],
    charge: Annotated[list[str], Query(description="罪名，可重复")] = [],
    year_from: Annotated[int | None, Query(ge=1800, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1800, le=2100)] = None,
    sort: Annotated[Literal["relevance", "date"] | None, Query(description="默认：有查询词时按相关度，否则按日期")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 10,
    cursor: Annotated[str | None, Query(description="上一页返回的 next_cursor，用于深度翻页")] = None,
    facet_size: Annotated[int, Query(ge=1, le=100)] = 10,
    expand: Annotated[bool, Query(description="用法律同义词与简称扩展查询（如 醉驾→醉酒驾驶）")] = True,
    partial: Annotated[bool, Query(description="全部词语都命中的结果过少时，改为返回最佳部分匹配（响应中 match=partial）")] = True,
    explain: Annotated[bool, Query(description="为每条结果说明命中的词语与字段")] = False,
    format: Annotated[
        Literal["json", "csv", "jsonl"], Query(description="json：一页结果；csv 或 jsonl：流式导出全部匹配记录")
    ] = "json",
) -> SearchResult | StreamingResponse:
    request = SearchRequest(
        q=q, crime_form=crime_form, doc_type=doc_type, country=country, court=court, charge=charge,
        year_from=year_from, year_to=year_to, sort=sort, page=page, size=size, cursor=cursor,
        facet_size=facet_size, expand=expand, partial=partial, explain=explain,
    )
    if format == "json":
        return service.search(request)
    records = service.matching_records(request)  # validates before streaming starts
    return StreamingResponse(
        export_chunks(records, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="casedigest-export.{format}"'},
    )


@router.get("/crime-forms", summary="犯罪形式分类及各类记录数")
def crime_forms(service: Search) -> dict[str, object]:
    counts = service.crime_form_counts()
    return {
        "version": TAXONOMY.version,
        "crime_forms": [
            {
                "code": form.code,
                "label": form.zh,
                "label_en": form.en,
                "description": form.description,
                "parent": form.parent,
                "count": counts.get(form.code, 0),
            }
            for form in TAXONOMY.forms
        ],
    }
