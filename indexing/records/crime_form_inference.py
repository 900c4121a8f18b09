"""Crime-form inference for records that arrive without crime forms.

A record's charges (罪名) decide its forms when it has any; a record without charges gets the
forms that precise cues find in its fact text. The rules are data, in `data/charge_forms.toml`,
read once at import time; this module only applies them. How well the text cues do against
the court's charges is measured by `bench/crime_form_inference.py`.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterable, Sequence

from indexing.records.crime_forms import TAXONOMY, Taxonomy

RULES_PATH = "data/charge_forms.toml"


class InferenceRulesError(ValueError):
    """The inference rules file is malformed or names a code the taxonomy does not have."""


@dataclass(frozen=True)
class ChargeRule:
    """Forms for the charges named exactly in `names` or matched by one of `patterns`."""

    forms: tuple[str, ...]
    names: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class TextCue:
    """Forms for a fact text that matches one of `patterns` and none of `unless`."""

    forms: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...]

    def fires(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns) and not any(
            u.search(text) for u in self.unless
        )


@dataclass(frozen=True)
class ContextRule:
    """Forms for a record charged with one of `charges` whose text matches one of `patterns`.

    One charge can cover conduct of several forms (诈骗 by telephone or online is telecom and
    network fraud; 劫持船只、汽车 of a ship is piracy); the text says which it was.
    """

    forms: tuple[str, ...]
    charges: frozenset[str]
    cue: TextCue

    def fires(self, charges: Iterable[str], text: str) -> bool:
        return any(normalize_charge(c) in self.charges for c in charges) and self.cue.fires(text)


@dataclass(frozen=True)
class InferenceRules:
    """The parsed rules file: charge rules, charges in context, text cues and the exact-name index."""

    version: str
    charge_rules: tuple[ChargeRule, ...]
    cues: tuple[TextCue, ...]
    by_name: dict[str, tuple[str, ...]]
    contexts: tuple[ContextRule, ...] = ()

    @property
    def codes(self) -> set[str]:
        """Every code any rule can produce."""
        return {
            code
            for rule in (*self.charge_rules, *self.cues, *self.contexts)
            for code in rule.forms
        }


def normalize_charge(charge: str) -> str:
    """The matching key of a charge name: NFKC width folding, no spaces, no trailing 罪.

    NFKC turns the full-width parentheses of "偷越国（边）境" into ASCII ones, so both spellings
    meet; quotes and book-title marks around a name are dropped because judgments quote charges.
    """
    key = unicodedata.normalize("NFKC", charge)
    key = "".join(key.split()).strip("\"'“”‘’《》「」")
    if key.endswith("罪") and len(key) > 1:
        key = key[:-1]
    return key


def _compile_all(patterns: Iterable[str], where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            re.compile(pattern)
            compiled.extend(re.compile(branch) for branch in _top_level_branches(pattern))
        except re.error as exc:
            raise InferenceRulesError(f"{where}: bad pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def _top_level_branches(pattern: str) -> list[str]:
    """Split `a|b` at the top level into `a` and `b`.

    Searching for either branch is the same as searching for the alternation, but the regex
    engine only skips ahead quickly to a pattern's literal prefix when it has one; an
    alternation at the top has none and is several times slower on long texts.
    """
    branches, start, depth, in_class, escaped = [], 0, 0, False, False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
    branches.append(pattern[start:])
    return branches


_TERM = re.compile(r"\{([a-z_]+)\}")


def _expand_terms(pattern: str, terms: dict[str, str], index: int) -> str:
    # Only lower-case names are placeholders, so regex counts such as {0,30} pass untouched.
    def term(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in terms:
            raise InferenceRulesError(f"cue {index + 1}: unknown term {{{name}}}")
        return f"(?:{terms[name]})"

    return _TERM.sub(term, pattern)


def _checked_forms(item: dict[str, Any], where: str, taxonomy: Taxonomy) -> tuple[str, ...]:
    forms = tuple(item.get("forms", ()))
    unknown = [code for code in forms if taxonomy.get(code) is None]
    if unknown:
        raise InferenceRulesError(f"{where}: unknown crime-form codes {unknown}")
    return forms


def parse_rules(text: str, taxonomy: Taxonomy = TAXONOMY) -> InferenceRules:
    """Parse and check a rules file; every code must exist in `taxonomy`."""
    data = tomllib.loads(text)
    charge_rules: list[ChargeRule] = []
    by_name: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(data.get("charge", ())):
        where = f"charge rule {index + 1}"
        names = tuple(normalize_charge(name) for name in item.get("names", ()))
        forms = _checked_forms(item, where, taxonomy)
        for name in names:
            if name in by_name:
                raise InferenceRulesError(f"{where}: charge {name!r} is named twice")
            by_name[name] = forms
        charge_rules.append(
            ChargeRule(forms, names, _compile_all(item.get("patterns", ()), where))
        )
    terms = {name: str(value) for name, value in data.get("terms", {}).items()}
    cues = tuple(
        TextCue(
            forms=_checked_forms(item, f"cue {index + 1}", taxonomy),
            patterns=_compile_all(
                (_expand_terms(p, terms, index) for p in item["patterns"]), f"cue {index + 1}"
            ),
            unless=_compile_all(
                (_expand_terms(p, terms, index) for p in item.get("unless", ())),
                f"cue {index + 1}",
            ),
        )
        for index, item in enumerate(data.get("cue", ()))
    )
    contexts = []
    for index, item in enumerate(data.get("context", ())):
        where = f"context rule {index + 1}"
        forms = _checked_forms(item, where, taxonomy)
        cue = TextCue(
            forms=forms,
            patterns=_compile_all((_expand_terms(p, terms, index) for p in item["patterns"]), where),
            unless=_compile_all((_expand_terms(p, terms, index) for p in item.get("unless", ())), where),
        )
        charges = frozenset(normalize_charge(name) for name in item["charges"])
        contexts.append(ContextRule(forms, charges, cue))
    return InferenceRules(str(data["version"]), tuple(charge_rules), cues, by_name, tuple(contexts))


def load_rules() -> InferenceRules:
    """Read the rules shipped with the `indexing` package."""
    text = resources.files("indexing").joinpath(RULES_PATH).read_text("utf-8")
    return parse_rules(text)


RULES = load_rules()


def _charge_forms(charge: str) -> tuple[str, ...]:
    key = normalize_charge(charge)
    exact = RULES.by_name.get(key)
    if exact is not None:
        return exact
    return tuple(
        code
        for rule in RULES.charge_rules
        if any(p.search(key) for p in rule.patterns)
        for code in rule.forms
    )


def forms_for_charge(charge: str) -> list[str]:
    """The crime forms one charge name stands for, with ancestors, in taxonomy order.

    "污染环境罪", "污染环境" and "污染环境 罪" are the same charge; an ordinary crime such as
    盗窃 gives an empty list.
    """
    return TAXONOMY.with_ancestors(_charge_forms(charge))


def infer_from_charges(charges: Sequence[str]) -> list[str]:
    """The union of the forms of all charges, with ancestors, in taxonomy order."""
    return TAXONOMY.with_ancestors(code for charge in charges for code in _charge_forms(charge))


def forms_in_context(charges: Sequence[str], text: str) -> list[str]:
    """The forms of the charges plus those their context rules find in the text.

    "诈骗" alone is no form; "诈骗" with facts of deceiving victims by telephone or online is
    telecom and network fraud, a cybercrime.
    """
    return TAXONOMY.with_ancestors(
        [*(code for charge in charges for code in _charge_forms(charge)),
         *(code for rule in RULES.contexts if rule.fires(charges, text) for code in rule.forms)]
    )


def infer_from_text(text: str) -> list[str]:
    """The forms the text cues find in a fact text, with ancestors, in taxonomy order.

    Cues prefer precision over recall: they need a specific offence described (a named drug
    with a trading verb, not the word 毒打), so many texts get no form at all.
    """
    return TAXONOMY.with_ancestors(
        code for cue in RULES.cues if cue.fires(text) for code in cue.forms
    )


def infer_crime_forms(charges: Sequence[str], text: str) -> list[str]:
    """Forms from the charges when there are any, otherwise from the fact text.

    Charges are the court's own legal qualification, so they are trusted over the text even
    when they map to no form (a theft case stays without forms whatever its text says); the
    text only decides between the forms a charge's context rules allow.
    """
    if any(charge.strip() for charge in charges):
        return forms_in_context(charges, text)
    return infer_from_text(text)
