"""Field maps: how a foreign JSONL/CSV layout becomes casedigest records.

A field map is a TOML file:

    [fields]          # record field = source field
    id = "id"
    summary = "fact"
    [constants]       # record field = fixed value
    country = "CN"
    [templates]       # record field = text built from source fields ({name}; lists joined with 、)
    title = "{defendants}{charges}案"
    [each]            # record list field = [source list field, template for one item ({})]
    legal_basis = ["articles", "刑法第{}条"]
    [split]           # record list fields whose source value is one string to split
    fields = ["keywords"]

Source fields not named are ignored; without a field map a line must already be a record.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SPLIT = re.compile(r"\s*[；;、,，]\s*")


class FieldMapError(ValueError):
    pass


@dataclass(frozen=True)
class FieldMap:
    fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    each: dict[str, tuple[str, str]] = field(default_factory=dict)
    split: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> "FieldMap":
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise FieldMapError(f"{path}: {exc}") from None
        each = {k: (v[0], v[1]) for k, v in data.get("each", {}).items()}
        for name, template in [*data.get("templates", {}).items(), *((k, v[1]) for k, v in each.items())]:
            try:
                list(string.Formatter().parse(template))
            except ValueError as exc:
                raise FieldMapError(f"{path}: template for {name!r}: {exc}") from None
        return cls(
            fields=dict(data.get("fields", {})),
            constants=dict(data.get("constants", {})),
            templates=dict(data.get("templates", {})),
            each=each,
            split=tuple(data.get("split", {}).get("fields", ())),
        )

    def apply(self, source: dict[str, Any]) -> dict[str, Any]:
        """The record fields for one source row (validation happens afterwards)."""
        out: dict[str, Any] = dict(self.constants)
        for target, name in self.fields.items():
            value = source.get(name)
            if value not in (None, ""):
                out[target] = value
        for target in self.split:
            if isinstance(out.get(target), str):
                out[target] = [p for p in _SPLIT.split(out[target]) if p]
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
