"""Dressing engine hits for people: highlights, crime-form badges, matching parts, why a hit matched."""

from __future__ import annotations


from typing import Any


from indexing.records import countries
from indexing.records.crime_forms import TAXONOMY
from indexing.core.citable_parts import matching_parts
from indexing.engines.base import Record
from indexing.text.folding import fold
from indexing.text.highlight import marked, match_spans, snippets
from indexing.query.model import (
    Node,
    Term,
    Words,
    positive_terms,
)
from indexing.query.rewrite import Expansion
from indexing.records.model import CaseDigest
from indexing.text.segmenter import Segmenter

from indexing.core.models import CrimeFormBadge, Hit, MatchedWord, ParagraphRef, ResolutionRef


_EXPLAIN_FIELDS = ("title", "summary", "full_text", "charges", "keywords", "legal_basis", "court", "case_number")


def explain_words(node: Node, expansions: list[Expansion]) -> list[tuple[str, str | None]]:
    """(word, the query word it stands for) pairs to look for in a hit; None = the user's own."""
    words: list[tuple[str, str | None]] = [(w, None) for w in highlight_needles(node)]
    for expansion in expansions:
        words += [(fold(e), expansion.term) for e in expansion.expansions]
        words += [(c, expansion.term) for c in expansion.charges]
    return list(dict.fromkeys(words))


def explain_hit(record: Record, words: list[tuple[str, str | None]]) -> list[MatchedWord]:
    """Where each query word (or synonym) occurs in the hit, field by field.

    Checked on the record's own text, folded like the index, so it reads the same on both
    engines; a resolution's paragraphs are its `full_text`, as in the index.
    """
    texts: dict[str, str] = {}
    if isinstance(record, CaseDigest):
        for name in _EXPLAIN_FIELDS:
            value = getattr(record, name)
            texts[name] = "；".join(value) if isinstance(value, list) else (value or "")
    else:
        texts = {
            "title": record.title,
            "summary": record.summary or "",
            "full_text": "\n".join(p.text for p in record.paragraphs),
        }
    folded = {name: fold(text) for name, text in texts.items() if text}
    charges = set(record.charges) if isinstance(record, CaseDigest) else set()
    out = []
    for word, for_word in words:
        fields = [name for name, text in folded.items() if word and word in text]
        if word in charges and "charges" not in fields:
            fields.append("charges")
        if fields:
            out.append(MatchedWord(word=word, for_word=for_word, fields=fields))
    return out


def highlight_needles(node: Any) -> list[str]:
    """Folded strings to mark in hits: the query's words and phrases.

    A run cut into several words (`Words`) is marked where the text spells it, and by those
    of its words that are more than one character: a lone character (为 of 为他人谋取利益)
    is marked only where the user typed it as a word of its own.
    """
    needles = []
    for term in positive_terms(node):
        if isinstance(term, Term):
            needles.append(term.word)
        elif isinstance(term, Words):
            needles.append(term.text)
            needles.extend(p for p in term.parts if len(p) > 1)
        else:
            needles.append("".join(term.chars))
    return list(dict.fromkeys(needles))


def dress_hit(record: Record, score: float, needles: list[str], segmenter: Segmenter) -> Hit:
    """A search hit for a record; a resolution's matching paragraphs are its `parts`."""
    badges = [
        CrimeFormBadge(code=t.code, label=TAXONOMY.get(t.code).zh, source=t.source)  # type: ignore[union-attr]
        for t in record.crime_forms
    ]
    title_html = marked(record.title, needles, segmenter)
    if isinstance(record, CaseDigest):
        highlights = snippets(record.summary, needles, segmenter)
        if record.full_text and not match_spans(record.summary, needles, segmenter):
            highlights = snippets(record.full_text, needles, segmenter) or highlights
        return Hit(
            id=record.id,
            doc_type="case",
            title=record.title,
            title_html=title_html,
            court=record.court,
            country=record.country,
            country_name=countries.chinese_name(record.country) if record.country else None,
            date=record.decision_date,
            case_number=record.case_number,
            crime_forms=badges,
            charges=record.charges,
            highlights=highlights,
            score=round(score, 4),
            url=f"/v1/cases/{record.id}",
        )
    parts = matching_parts(record, needles, segmenter)
    best = record.paragraph(parts[0].anchor) if parts else None
    ref = ResolutionRef(
        id=record.id,
        number=record.number,
        body=record.body,
        paragraph=ParagraphRef(kind=best.kind, number=best.number, anchor=best.anchor, label=best.label)
        if best
        else None,
        url=f"/v1/resolutions/{record.id}" + (f"#{best.anchor}" if best else ""),
    )
    summary = record.summary or record.paragraphs[0].text
    if match_spans(summary, needles, segmenter) or not parts:
        highlights = snippets(summary, needles, segmenter)
    else:  # the summary holds no query word: the best paragraph's snippet says why it matched
        highlights = parts[0].highlights
    return Hit(
        id=record.id,
        doc_type="resolution",
        title=record.title,
        title_html=title_html,
        court=record.body,
        date=record.adoption_date,
        case_number=f"第{record.number}号决议",
        crime_forms=badges,
        highlights=highlights,
        score=round(score, 4),
        url=ref.url,
        resolution=ref,
        parts=parts,
    )


def facet_label(name: str, value: str) -> str:
    if name == "country":
        return countries.chinese_name(value)
    if name == "doc_type":
        return {"case": "案例", "resolution": "决议"}.get(value, value)
    return value
