"""GET /v1/cases/{id}, /v1/cases/{id}/related and /v1/resolutions/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from indexing.records import countries
from indexing.records.crime_forms import TAXONOMY
from indexing.engines.base import Record
from indexing.errors import NotFound
from indexing.records.model import Resolution
from indexing.core.models import Hit
from indexing.similar.models import SimilarHit
from service.state import Search

router = APIRouter(prefix="/v1", tags=["records"])

RecordId = Annotated[str, Path(max_length=128, description="记录编号")]


def record_view(record: Record) -> dict[str, Any]:
    """The stored record plus display names (country, crime-form labels)."""
    data = record.model_dump(mode="json")
    for tag in data["crime_forms"]:
        form = TAXONOMY.get(tag["code"])
        tag["label"] = form.zh if form else tag["code"]
    if data.get("country"):
        data["country_name"] = countries.chinese_name(data["country"])
    if isinstance(record, Resolution):
        for paragraph, model in zip(data["paragraphs"], record.paragraphs):
            paragraph["anchor"] = model.anchor
            paragraph["label"] = model.label
    return data


@router.get("/cases/{record_id}", summary="一条记录的全部内容")
def get_case(record_id: RecordId, service: Search) -> dict[str, Any]:
    return record_view(service.get(record_id))


@router.get("/cases/{record_id}/related", response_model=list[SimilarHit], summary="相关案例（类案检索方法，以本案全文为事实）")
def related(record_id: RecordId, service: Search, size: Annotated[int, Query(ge=1, le=100)] = 10) -> list[Hit]:
    return service.related(record_id, size)


@router.get("/resolutions/{record_id}", summary="一项决议及其全部段落")
def get_resolution(record_id: RecordId, service: Search) -> dict[str, Any]:
    record = service.get(record_id)
    if not isinstance(record, Resolution):
        raise NotFound(f"{record_id!r} is a case, not a resolution; see /v1/cases/{record_id}", {"id": record_id})
    return record_view(record)
