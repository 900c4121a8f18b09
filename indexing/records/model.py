"""The record model: case digests and resolutions, validated at the edge.

Every record that enters the service passes through `parse_record`, which turns pydantic's
errors into `RecordError`s naming the field and the reason, so loaders and the API report
them the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from indexing.records import countries
from indexing.records.crime_forms import TAXONOMY

# A record id is what librarians call the record, often a court's case number such as
# `（2019）京01刑初12号`: any printable text, but one path segment of `/v1/cases/{id}` (so no `/`),
# and, with `#anchor` added for a resolution's paragraph, an Elasticsearch document id, which
# may not pass 512 bytes (so no `#`, and a bound on bytes as well as characters).
MAX_ID_CHARS = 128
MAX_ID_BYTES = 500
ID_FORBIDDEN = "/#"
MAX_SUMMARY_CHARS = 200_000
MAX_FULL_TEXT_CHARS = 2_000_000
MAX_LIST_ITEMS = 500

_DATE_FORMS = (
    re.compile(r"^(\d{4})$"),
    re.compile(r"^(\d{4})-(\d{2})$"),
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
)


def normalize_partial_date(value: str) -> str:
    """Check a `YYYY`, `YYYY-MM` or `YYYY-MM-DD` date and return it unchanged.

    Court decisions are often known only to the year, so the precision is kept as given.
    """
    text = value.strip()
    for form in _DATE_FORMS:
        match = form.match(text)
        if not match:
            continue
        parts = [int(p) for p in match.groups()]
        year = parts[0]
        if not 1800 <= year <= 2100:
            raise ValueError(f"year {year} is outside 1800–2100")
        month = parts[1] if len(parts) > 1 else 1
        day = parts[2] if len(parts) > 2 else 1
        try:
            date(year, month, day)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a real date ({exc})") from None
        return text
    raise ValueError(f"{text!r} is not a date; write YYYY, YYYY-MM or YYYY-MM-DD")


def _partial_date(value: Any) -> Any:
    """Validator input for a date field: a year as a number, blank as missing, text checked."""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        return normalize_partial_date(value) if value.strip() else None
    return value


def check_record_id(value: str) -> str:
    """Return `value` if it can be a record id (printable, no `/` or `#`, bounded), else raise ValueError."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_CHARS or len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise ValueError(f"must be at most {MAX_ID_CHARS} characters and {MAX_ID_BYTES} bytes of UTF-8")
    if not value.isprintable():
        raise ValueError("must be printable: no control characters, line breaks, tabs or spaces other than ' '")
    forbidden = [c for c in ID_FORBIDDEN if c in value]
    if forbidden:
        raise ValueError(f"must not contain {' or '.join(repr(c) for c in forbidden)}")
    if not value.strip("."):
        raise ValueError("must not be only dots (a URL path would read it as '.' or '..')")
    return value


def date_year(value: str | None) -> int | None:
    return int(value[:4]) if value else None


def date_sort_key(value: str | None) -> int:
    """An integer that orders partial dates; a bare year sorts as its first day."""
    if not value:
        return 0
    parts = value.split("-") + ["01", "01"]
    return int(parts[0]) * 10_000 + int(parts[1]) * 100 + int(parts[2])


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError("must be an http(s) URL")
        return value


class CrimeFormTag(BaseModel):
    """A crime-form code on a record and where it came from."""

    model_config = ConfigDict(extra="forbid")

    code: str
    source: Literal["curated", "inferred"] = "curated"

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        code = TAXONOMY.resolve(value)
        if code is None:
            raise ValueError(f"unknown crime form {value!r}; see GET /v1/crime-forms")
        return code


def _tags(value: Any) -> Any:
    """Accept plain codes or labels (`"drugs"`, `"毒品犯罪"`) as curated tags."""
    if isinstance(value, list):
        return [{"code": v} if isinstance(v, str) else v for v in value]
    return value


class _RecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    title: str = Field(min_length=1, max_length=500)
    summary: str | None = Field(default=None, max_length=MAX_SUMMARY_CHARS)
    crime_forms: list[CrimeFormTag] = Field(default_factory=list, max_length=50)
    legal_basis: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    keywords: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    source: Source | None = None
    language: Literal["zh-Hans", "zh-Hant"] = "zh-Hans"

    _id = field_validator("id")(lambda cls, v: check_record_id(v))
    _tags_in = field_validator("crime_forms", mode="before")(lambda cls, v: _tags(v))

    @field_validator("legal_basis", "keywords", mode="after")
    @classmethod
    def _clean_list(cls, value: list[str]) -> list[str]:
        return _dedupe(value)

    @field_validator("crime_forms", mode="after")
    @classmethod
    def _dedupe_forms(cls, value: list[CrimeFormTag]) -> list[CrimeFormTag]:
        seen: dict[str, CrimeFormTag] = {}
        for tag in value:
            if tag.code not in seen or tag.source == "curated":
                seen[tag.code] = tag
        return list(seen.values())

    def content_hash(self) -> str:
        """A digest of the record's content, used to skip unchanged records on reload."""
        payload = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def crime_form_codes(self) -> list[str]:
        return [tag.code for tag in self.crime_forms]


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


class PredictedCharge(BaseModel):
    """A charge predicted from the facts of a case that arrived without charges (never the court's)."""

    model_config = ConfigDict(extra="forbid")

    charge: str = Field(min_length=1, max_length=200)
    confidence: float = Field(ge=0, le=1)


class CaseDigest(_RecordBase):
    """A summary of one court decision."""

    doc_type: Literal["case"] = "case"
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    full_text: str | None = Field(default=None, max_length=MAX_FULL_TEXT_CHARS)
    country: str | None = None
    court: str | None = Field(default=None, max_length=200)
    decision_date: str | None = None
    case_number: str | None = Field(default=None, max_length=200)
    charges: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    # Filled after a load for cases without charges (`similar/charge_fill.py`); kept apart from
    # `charges` so a prediction is never taken for the court's qualification.
    predicted_charges: list[PredictedCharge] = Field(default_factory=list, max_length=10)
    defendants: list[str] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    outcome: str | None = Field(default=None, max_length=5000)

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str | None) -> str | None:
        return countries.normalize(value) if value else None

    _date = field_validator("decision_date", mode="before")(lambda cls, v: _partial_date(v))

    @field_validator("charges", "defendants", mode="after")
    @classmethod
    def _clean_people(cls, value: list[str]) -> list[str]:
        return _dedupe(value)

    @property
    def year(self) -> int | None:
        return date_year(self.decision_date)


class Paragraph(BaseModel):
    """One paragraph of a resolution: preambular (unnumbered in the text) or operative."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["preambular", "operative"]
    number: int = Field(ge=1, le=10_000)
    text: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)

    @property
    def anchor(self) -> str:
        """The fragment a link points at: `p16` for operative ¶16, `pp3` for preambular 3."""
        return f"p{self.number}" if self.kind == "operative" else f"pp{self.number}"

    @property
    def label(self) -> str:
        return f"第{self.number}段" if self.kind == "operative" else f"序言部分第{self.number}段"


class Resolution(_RecordBase):
    """A resolution of an intergovernmental body, searchable paragraph by paragraph."""

    doc_type: Literal["resolution"] = "resolution"
    body: str = Field(min_length=1, max_length=500)
    number: str = Field(min_length=1, max_length=50)
    adoption_date: str | None = None
    paragraphs: list[Paragraph] = Field(min_length=1, max_length=2000)

    _date = field_validator("adoption_date", mode="before")(lambda cls, v: _partial_date(v))

    @model_validator(mode="after")
    def _unique_paragraphs(self) -> "Resolution":
        seen = set()
        for paragraph in self.paragraphs:
            if paragraph.anchor in seen:
                raise ValueError(f"paragraph {paragraph.anchor} appears twice")
            seen.add(paragraph.anchor)
        return self

    @property
    def year(self) -> int | None:
        return date_year(self.adoption_date)

    def paragraph(self, anchor: str) -> Paragraph | None:
        return next((p for p in self.paragraphs if p.anchor == anchor), None)


Record = Annotated[Union[CaseDigest, Resolution], Field(discriminator="doc_type")]
_RECORD_ADAPTER: TypeAdapter[CaseDigest | Resolution] = TypeAdapter(Record)


class RecordError(ValueError):
    """A record that cannot be accepted, with the field at fault and the reason."""

    def __init__(self, field: str, reason: str, record_id: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.record_id = record_id

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "reason": self.reason, "id": self.record_id}


def parse_record(data: Any) -> CaseDigest | Resolution:
    """Validate a mapping as a record; a missing `doc_type` means a case digest.

    Raises `RecordError` for the first problem found, naming the field (dotted path for
    nested fields) and the reason in plain words.
    """
    if not isinstance(data, dict):
        raise RecordError("(record)", f"expected a JSON object, got {type(data).__name__}")
    if "doc_type" not in data:
        data = {**data, "doc_type": "case"}
    record_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        return _RECORD_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(p) for p in first["loc"]]
        if location and location[0] in ("case", "resolution"):
            location = location[1:]
        field = ".".join(location) or "(record)"
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            reason = "is required"
        elif first["type"] == "extra_forbidden":
            reason = "is not a field of this record"
        elif first["type"] == "union_tag_invalid":
            field, reason = "doc_type", "must be 'case' or 'resolution'"
        raise RecordError(field, reason, record_id) from None


def record_from_json(text: str) -> CaseDigest | Resolution:
    """Parse one stored record (trusted JSON written by `record_to_json`)."""
    return _RECORD_ADAPTER.validate_json(text)


def record_to_json(record: CaseDigest | Resolution) -> str:
    return record.model_dump_json(exclude_none=False)
