"""Field maps: how a foreign JSONL/CSV/XLSX layout becomes casedigest records.

A field map is a TOML file (TOML only — no YAML — so there is one format to document and
check). Every section is optional:

    [fields]          # record field = source field (a JSON key or a column header)
    id = "案例编号"
    summary = "裁判摘要"
    source.name = "来源"          # a field of the nested `source` object
    [constants]       # record field = fixed value, used when [fields] gives none
    country = "CN"
    source = { name = "馆藏案例" }
    [templates]       # record field = text built from source fields ({name}; lists joined with 、)
    title = "{defendants}{charges}案"
    [each]            # record list field = [source list field, template for one item ({})]
    legal_basis = ["articles", "刑法第{}条"]
    [split]           # record list fields whose source value is one string to split
    fields = ["keywords", "charges", "crime_forms"]
    [split.separators]            # optional, per field: the characters to split on
    charges = "；;"               # default is any of ；;、,， — but charge names contain 、
    [dates]           # record date fields written in Chinese or other common ways
    fields = ["decision_date"]

`apply` turns one source row into record fields, in this order: constants; [fields] (numbers,
as XLSX gives them, become text); [split]; [dates]; crime-form labels; [each]; [templates].

[dates] accepts `2015年4月14日`, `二〇一五年四月十四日`, `2015年4月`, `2015年`, `2015-04-14`,
`2015-4-14`, `2015/4/14`, `2015.4.14`, `20150414`, `2015-04`, `2015` (full-width digits too, and a
trailing time such as ` 0:00` is dropped) and writes `YYYY-MM-DD`, `YYYY-MM` or `YYYY`, keeping
the precision given. It only rewrites the form: `2015年2月30日` becomes `2015-02-30`, and a text
it does not recognise is left as it is, so record validation rejects either with the reason.

`crime_forms` items that are Chinese or English labels or aliases of a crime form become its
code (`毒品犯罪`, `Money laundering` → `drugs`, `money_laundering`); an unknown label is kept,
so validation rejects the row with "unknown crime form '…'".

`FieldMap.load` checks the file itself: an unknown section or key, a target that is not a
record field, a split target that is not a list, a [dates] target that is not a date, or a
value of the wrong type raises `FieldMapError` naming it. Source fields not named are ignored;
without a field map a line must already be a record.
"""

from __future__ import annotations

import re
import string
import tomllib
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.records.crime_forms import TAXONOMY
from indexing.records.model import CaseDigest, Resolution, Source

DEFAULT_SEPARATORS = "；;、,，"
SECTIONS = ("fields", "constants", "templates", "each", "split", "dates")
DATE_FIELDS = ("decision_date", "adoption_date")

_RECORD_FIELDS = {*CaseDigest.model_fields, *Resolution.model_fields}
_LIST_FIELDS = {
    name
    for model in (CaseDigest, Resolution)
    for name, info in model.model_fields.items()
    if typing.get_origin(info.annotation) is list
}
# Record fields that are objects, and their fields (targets like `source.name`).
_NESTED_FIELDS = {"source": set(Source.model_fields)}


class FieldMapError(ValueError):
    pass


@dataclass(frozen=True)
class FieldMap:
    fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    each: dict[str, tuple[str, str]] = field(default_factory=dict)
    split: tuple[str, ...] = ()
    separators: dict[str, str] = field(default_factory=dict)
    dates: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> "FieldMap":
        """Read and check a field map file; `FieldMapError` names the file and the problem."""
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FieldMapError(f"{path}: {exc}") from None
        try:
            return cls.from_toml(text)
        except FieldMapError as exc:
            raise FieldMapError(f"{path}: {exc}") from None

    @classmethod
    def from_toml(cls, text: str) -> "FieldMap":
        """A field map from TOML text, checked as `load` does."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FieldMapError(str(exc)) from None
        return _parse(data)

    def apply(self, source: dict[str, Any]) -> dict[str, Any]:
        """The record fields for one source row (validation happens afterwards)."""
        out: dict[str, Any] = dict(self.constants)
        for target, name in self.fields.items():
            value = source.get(name)
            if value in (None, ""):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)  # every scalar record field is text; XLSX gives numbers
            head, _, tail = target.partition(".")
            if tail:
                # a new dict, so a nested constant (source = {name = ...}) is never modified
                nested = out.get(head)
                out[head] = {**(nested if isinstance(nested, dict) else {}), tail: value}
            else:
                out[target] = value
        for target in self.split:
            if isinstance(out.get(target), str):
                out[target] = split_list(out[target], self.separators.get(target, DEFAULT_SEPARATORS))
        for target in self.dates:
            if isinstance(out.get(target), (str, int)) and not isinstance(out.get(target), bool):
                out[target] = normalize_date(str(out[target]))
        if "crime_forms" in out:
            out["crime_forms"] = _crime_form_codes(out["crime_forms"])
        for target, (name, template) in self.each.items():
            values = source.get(name) or []
            if not isinstance(values, list):
                values = [values]
            out[target] = [template.format(v) for v in values]
        flat = {k: "、".join(map(str, v)) if isinstance(v, list) else v for k, v in source.items()}
        for target, template in self.templates.items():
            try:
                out[target] = template.format_map(_Blank(flat)).strip()
            except (ValueError, IndexError) as exc:
                raise FieldMapError(f"template for {target!r}: {exc}") from None
        return out


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def split_list(text: str, separators: str = DEFAULT_SEPARATORS) -> list[str]:
    """The non-empty, trimmed parts of `text` between any of the separator characters."""
    pattern = r"\s*[" + re.escape(separators) + r"]\s*"
    return [part.strip() for part in re.split(pattern, text) if part.strip()]


def _crime_form_codes(value: Any) -> Any:
    def code(item: Any) -> Any:
        return (TAXONOMY.resolve(item) or item) if isinstance(item, str) else item

    return [code(v) for v in value] if isinstance(value, list) else value


# --- dates -----------------------------------------------------------------------------------

_ZH_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0}
_NUM = r"[0-9〇○零一二三四五六七八九十]"
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_PATTERNS = (
    re.compile(rf"^(?P<y>{_NUM}{{4}})\s*年(?:\s*(?P<m>{_NUM}{{1,3}})\s*月(?:\s*(?P<d>{_NUM}{{1,3}})\s*[日号])?)?$"),
    re.compile(rf"^(?P<y>\d{{4}})\s*(?P<sep>[-/.])\s*(?P<m>\d{{1,2}})(?:\s*(?P=sep)\s*(?P<d>\d{{1,2}}))?{_TIME}$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<y>\d{4})$"),
)


def normalize_date(text: str) -> str:
    """`YYYY-MM-DD`, `YYYY-MM` or `YYYY` for a date in a recognised form; else `text` unchanged.

    Only the form is rewritten; whether the date exists is for record validation to say.
    """
    plain = unicodedata.normalize("NFKC", text).strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.match(plain)
        if match is None:
            continue
        parts = [match.group(name) for name in ("y", "m", "d") if match.groupdict().get(name)]
        numbers = [_zh_number(part) for part in parts]
        if any(n is None for n in numbers):
            return text
        year, *rest = typing.cast(list[int], numbers)
        return "-".join([f"{year:04d}", *(f"{n:02d}" for n in rest)])
    return text


def _zh_number(text: str) -> int | None:
    """An integer written in Arabic or Chinese digits (`2015`, `二〇一五`, `十四`, `二十`)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        high = _ZH_DIGITS.get(tens, None) if tens else 1
        low = _ZH_DIGITS.get(ones, None) if ones else 0
        return None if high is None or low is None else high * 10 + low
    digits = [_ZH_DIGITS.get(c) for c in text]
    if any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


# --- checking the file -----------------------------------------------------------------------

def _parse(data: dict[str, Any]) -> FieldMap:
    unknown = [name for name in data if name not in SECTIONS]
    if unknown:
        raise FieldMapError(f"unknown section [{unknown[0]}]; the sections are "
                            + ", ".join(f"[{s}]" for s in SECTIONS))
    for name in SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise FieldMapError(f"[{name}] must be a table")

    fields = {}
    for target, value in _flatten(data.get("fields", {})).items():
        _check_target("fields", target, nested=True)
        fields[target] = _string(f"[fields] {target}", value)

    constants = dict(data.get("constants", {}))
    for target in constants:
        _check_target("constants", target)

    templates = {}
    for target, template in data.get("templates", {}).items():
        _check_target("templates", target)
        templates[target] = _template(f"[templates] {target}", _string(f"[templates] {target}", template))

    each = {}
    for target, value in data.get("each", {}).items():
        _check_target("each", target, list_only=True)
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise FieldMapError(f"[each] {target}: expected [source field, template], got {value!r}")
        each[target] = (value[0], _template(f"[each] {target}", value[1]))

    split_section = dict(data.get("split", {}))
    _check_keys("split", split_section, ("fields", "separators"))
    split = _names("split", split_section.get("fields", []), list_only=True)
    separators_table = split_section.get("separators", {})
    if not isinstance(separators_table, dict):
        raise FieldMapError("[split] separators must be a table of field = \"characters\"")
    separators = {}
    for target, chars in separators_table.items():
        if target not in split:
            raise FieldMapError(f"[split.separators] {target}: not in [split] fields")
        separators[target] = _string(f"[split.separators] {target}", chars)

    dates_section = dict(data.get("dates", {}))
    _check_keys("dates", dates_section, ("fields",))
    dates = _names("dates", dates_section.get("fields", []))
    for target in dates:
        if target not in DATE_FIELDS:
            raise FieldMapError(f"[dates] {target!r} is not a date field ({', '.join(DATE_FIELDS)})")

    return FieldMap(fields=fields, constants=constants, templates=templates, each=each,
                    split=split, separators=separators, dates=dates)


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{source: {name: x}}` (what `source.name = x` parses to) as `{"source.name": x}`."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_target(section: str, target: str, nested: bool = False, list_only: bool = False) -> None:
    head, _, tail = target.partition(".")
    if head not in _RECORD_FIELDS:
        raise FieldMapError(f"[{section}] {target!r} is not a record field")
    if tail:
        if not nested or head not in _NESTED_FIELDS or tail not in _NESTED_FIELDS[head]:
            raise FieldMapError(f"[{section}] {target!r} is not a record field")
    if list_only and head not in _LIST_FIELDS:
        raise FieldMapError(f"[{section}] {target!r} is not a list field")


def _check_keys(section: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise FieldMapError(f"[{section}] unknown key {key!r}; allowed: {', '.join(allowed)}")


def _names(section: str, value: Any, list_only: bool = False) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise FieldMapError(f"[{section}] fields must be a list of field names")
    for target in value:
        _check_target(section, target, list_only=list_only)
    return tuple(value)


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise FieldMapError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _template(where: str, template: str) -> str:
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise FieldMapError(f"{where}: {exc}") from None
    return template
