"""Checks of the query-side synonym dictionary `indexing/data/synonyms.toml`."""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import CAIL, CHARGE_LIST

REPO = Path(__file__).resolve().parents[1]
SYNONYMS = REPO / "indexing" / "data" / "synonyms.toml"

# Latin letters, digits and a little punctuation may appear next to Chinese (K粉, MDMA, P2P, DDoS,
# 偷越国（边）境, 走私、贩卖、运输、制造毒品).
_ALLOWED = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9、（）\-]+$")


@lru_cache(maxsize=1)
def _data() -> dict:
    with SYNONYMS.open("rb") as handle:
        return tomllib.load(handle)


def _entries() -> list[dict]:
    return _data()["entry"]


def _by_term() -> dict[str, dict]:
    return {entry["term"]: entry for entry in _entries()}


@lru_cache(maxsize=1)
def _known_charges() -> frozenset[str]:
    names: set[str] = set()
    if CAIL.exists():
        with CAIL.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    names.update(json.loads(line).get("charges", []))
    if CHARGE_LIST.exists():
        for line in CHARGE_LIST.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                names.add(line.removesuffix("罪"))
    return frozenset(names)


def test_parses_with_version():
    data = _data()
    assert isinstance(data.get("version"), str) and data["version"].strip()
    assert isinstance(data.get("entry"), list)


def test_at_least_220_entries():
    assert len(_entries()) >= 220


def test_entry_shape():
    for entry in _entries():
        assert set(entry) <= {"term", "expansions", "charges"}, entry
        assert isinstance(entry["term"], str) and entry["term"].strip() == entry["term"] != ""
        expansions = entry["expansions"]
        assert isinstance(expansions, list) and expansions, entry["term"]
        assert all(isinstance(x, str) and x.strip() == x != "" for x in expansions), entry["term"]
        assert len(set(expansions)) == len(expansions), f"repeated expansion in {entry['term']}"
        for text in [entry["term"], *expansions]:
            assert _ALLOWED.match(text), f"unexpected character in {text!r}"
        charges = entry.get("charges", [])
        assert isinstance(charges, list)
        assert len(set(charges)) == len(charges), f"repeated charge in {entry['term']}"


def test_no_duplicate_terms():
    seen: set[str] = set()
    duplicates = []
    for entry in _entries():
        key = entry["term"].lower()  # lookup folds Latin letters to lower case
        if key in seen:
            duplicates.append(entry["term"])
        seen.add(key)
    assert not duplicates


def test_no_self_expansion():
    offenders = [
        entry["term"]
        for entry in _entries()
        if entry["term"].lower() in {x.lower() for x in entry["expansions"]}
    ]
    assert not offenders


@pytest.mark.real_data
def test_charges_are_known_charge_names():
    known = _known_charges()
    unknown = [
        (entry["term"], charge)
        for entry in _entries()
        for charge in entry.get("charges", [])
        if charge not in known
    ]
    assert not unknown
    assert not [c for e in _entries() for c in e.get("charges", []) if c.endswith("罪")]


def test_terms_are_simplified():
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a project dependency
        pytest.skip("opencc not installed")
    converter = opencc.OpenCC("t2s")
    for entry in _entries():
        for text in [entry["term"], *entry["expansions"]]:
            assert converter.convert(text) == text, f"traditional characters in {text!r}"


@pytest.mark.parametrize(
    ("term", "expansion"),
    [
        ("醉驾", "醉酒驾驶"),
        ("冰毒", "甲基苯丙胺"),
        ("K粉", "氯胺酮"),
        ("黑社会", "黑社会性质组织"),
        ("电诈", "电信网络诈骗"),
    ],
)
def test_required_examples(term, expansion):
    entry = _by_term().get(term)
    assert entry is not None, f"missing entry {term}"
    assert expansion in entry["expansions"]


def test_example_charges():
    by_term = _by_term()
    assert "危险驾驶" in by_term["醉驾"]["charges"]
    assert "组织、领导、参加黑社会性质组织" in by_term["黑社会"]["charges"]
    assert "偷越国（边）境" in by_term["偷渡"]["charges"]
