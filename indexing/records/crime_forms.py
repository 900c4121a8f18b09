"""The crime-form taxonomy: stable codes, Chinese and English labels, and nesting.

The taxonomy lives in `data/crime_forms.toml`; this module only reads it. Inference of crime
forms for records that arrive without them is in `crime_form_inference.py`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterable


@dataclass(frozen=True)
class CrimeForm:
    code: str
    zh: str
    en: str
    description: str
    citation: str  # the UNTOC / SHERLOC instrument that defines the form
    parent: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    version: str
    forms: tuple[CrimeForm, ...]
    _by_label: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_toml(cls, text: str) -> "Taxonomy":
        data = tomllib.loads(text)
        forms = tuple(
            CrimeForm(
                code=item["code"],
                zh=item["zh"],
                en=item["en"],
                description=item["description"],
                citation=item["citation"],
                parent=item.get("parent"),
                aliases=tuple(item.get("aliases", ())),
            )
            for item in data["form"]
        )
        by_label: dict[str, str] = {}
        for form in forms:
            for label in (form.code, form.zh, form.en, *form.aliases):
                by_label[_label_key(label)] = form.code
        return cls(version=str(data["version"]), forms=forms, _by_label=by_label)

    def get(self, code: str) -> CrimeForm | None:
        return next((f for f in self.forms if f.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [form.code for form in self.forms]

    def resolve(self, code_or_label: str) -> str | None:
        """The code for a code, a Chinese or English label or an alias; None if unknown."""
        return self._by_label.get(_label_key(code_or_label))

    def with_ancestors(self, codes: Iterable[str]) -> list[str]:
        """The codes plus every parent of them, in taxonomy order, without repeats."""
        wanted = set()
        for code in codes:
            form = self.get(code)
            while form is not None:
                wanted.add(form.code)
                form = self.get(form.parent) if form.parent else None
        return [code for code in self.codes if code in wanted]


def _label_key(label: str) -> str:
    return " ".join(label.strip().casefold().replace("_", " ").replace("-", " ").split())


def load_taxonomy() -> Taxonomy:
    text = resources.files("indexing").joinpath("data/crime_forms.toml").read_text("utf-8")
    return Taxonomy.from_toml(text)


TAXONOMY = load_taxonomy()
