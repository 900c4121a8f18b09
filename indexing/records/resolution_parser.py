"""Turn the plain text of a UN resolution (Chinese, markdown-ish) into a `Resolution` record.

The texts come from PDF conversion and look like this:

    ## 第6/1号决议
    ### 确保有效实施《联合国打击跨国有组织犯罪公约》及其各项议定书
    《联合国打击跨国有组织犯罪公约》缔约方会议，      <- opening line naming the body
    回顾……，                                         <- preambular paragraphs, unnumbered
    1. 赞赏地注意到，《公约》<sup>3</sup>……；          <- operative paragraphs, numbered
    7. 请……以便根据会
    ---                                                <- page separator
    <sup>3</sup> 联合国，《条约汇编》……                  <- the page's footnotes
    员国在打击……；                                     <- paragraph 7 continues here

Page separators and the footnote block after them are layout, not content: they are
dropped, and text that resumes after them is joined to the paragraph it interrupted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from indexing.records.model import Resolution, Source, parse_record

DEFAULT_BODY = "《联合国打击跨国有组织犯罪公约》缔约方会议"

_NUMBER_HEADING = re.compile(r"第\s*(?P<number>[0-9A-Za-z/.\-]+?)\s*号决议")
_SEPARATOR = re.compile(r"-{3,}")
_FOOTNOTE = re.compile(r"<sup>\s*(?P<number>\d+)\s*</sup>\s*(?P<text>.*)")
_MARKER = re.compile(r"<sup>\s*\d+\s*</sup>")
# "8." or "8．" but not "8.5亿".
_OPERATIVE = re.compile(r"(?P<number>\d{1,4})\s*[.．](?!\d)\s*(?P<text>.*)")
# The opening line names the adopting body and ends with a comma: "大会，", "……缔约方会议，".
_OPENING = re.compile(r"(?P<body>.{0,80}?(?:会议|大会|理事会|委员会))[，,]")
# Trailer lines under the last operative paragraph: "2012年10月19日", "第5次全体会议".
_ADOPTION_DATE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_PLENARY_MEETING = re.compile(r"第\s*\d+\s*次全体会议")
# A preambular paragraph ends with one of these; one that does not was cut by a page break.
_PARAGRAPH_END = "，；。：,;.:"
_CLOSING_QUOTES = "”’」』）)"


class ResolutionFormatError(ValueError):
    """A resolution text that does not have the expected shape; `line` is 1-based, if known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    kind: Literal["heading", "text", "footnote"]
    after_page_break: bool


@dataclass
class _Draft:
    line: int
    text: str


def _scan(text: str) -> Iterator[_Line]:
    """Yield the non-blank lines, classified, with page separators consumed.

    A footnote is a `<sup>N</sup> …` line in the block that directly follows a `---`
    separator; the first other line ends the block and is marked `after_page_break`.
    """
    in_footnotes = False
    pending_break = False
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if _SEPARATOR.fullmatch(line):
            in_footnotes = True
            pending_break = True
            continue
        if in_footnotes:
            if _FOOTNOTE.fullmatch(line):
                yield _Line(number, line, "footnote", after_page_break=False)
                continue
            in_footnotes = False
        kind: Literal["heading", "text"] = "heading" if line.startswith("#") else "text"
        yield _Line(number, line, kind, after_page_break=pending_break)
        pending_break = False


def parse_resolution_footnotes(text: str) -> dict[int, str]:
    """Return the footnotes of a resolution text, by number, without their markers."""
    footnotes: dict[int, str] = {}
    for line in _scan(text):
        if line.kind != "footnote":
            continue
        match = _FOOTNOTE.fullmatch(line.text)
        assert match is not None  # _scan only marks matching lines as footnotes
        number = int(match["number"])
        if number in footnotes:
            raise ResolutionFormatError(f"footnote {number} appears twice", line.number)
        footnotes[number] = match["text"].strip()
    return footnotes


def parse_resolution_text(
    text: str,
    *,
    record_id: str,
    body: str | None = None,
    adoption_date: str | None = None,
    source: Source | None = None,
) -> Resolution:
    """Parse one resolution's plain text into a `Resolution` with its paragraphs.

    The number comes from the `第6/1号决议` heading and the title from the next heading.
    `body` defaults to the body named in the opening line ("…缔约方会议，"), else to
    `DEFAULT_BODY`; `adoption_date` defaults to a trailing "2012年10月19日" line, if any.
    Preambular paragraphs are numbered 1..n in order; operative paragraphs keep their own
    numbers, which must run 1, 2, 3, … Footnote markers and footnote blocks are removed.

    A preambular paragraph that ends in punctuation right before a page break is taken
    as complete, so one cut exactly after a comma is read as two paragraphs; operative
    text is never ambiguous, since every unnumbered line there continues the paragraph.

    Raises `ResolutionFormatError` (a `ValueError`) naming the line at fault, and
    `RecordError` if the assembled record is invalid (e.g. a malformed `record_id`).
    """
    number: tuple[str, int] | None = None
    title: str | None = None
    opening_body: str | None = None
    found_date: str | None = None
    seen_text = False
    preambular: list[_Draft] = []
    operative: list[_Draft] = []

    for line in _scan(text):
        if line.kind == "footnote":
            continue
        if line.kind == "heading":
            heading = line.text.lstrip("#").strip()
            heading_number = _NUMBER_HEADING.fullmatch(heading)
            if heading_number:
                if number is not None:
                    raise ResolutionFormatError(
                        f"a second resolution heading {heading!r} (the first is on line "
                        f"{number[1]}); split the text into one resolution each",
                        line.number,
                    )
                number = (heading_number["number"], line.number)
            elif number is None:
                continue  # document headers before the resolution are not part of it
            elif title is None and not seen_text:
                title = heading
            else:
                raise ResolutionFormatError(
                    f"unexpected heading {heading!r} after the paragraphs began", line.number
                )
            continue

        if number is None:
            continue
        content = _MARKER.sub("", line.text).strip()
        if not content:
            continue
        first_text = not seen_text
        seen_text = True

        numbered = _OPERATIVE.fullmatch(content)
        if numbered:
            found, expected = int(numbered["number"]), len(operative) + 1
            if found != expected:
                after = f"after operative paragraph {expected - 1}" if operative else "first"
                raise ResolutionFormatError(
                    f"operative paragraph {found} comes {after}; expected {expected}",
                    line.number,
                )
            operative.append(_Draft(line.number, numbered["text"].strip()))
        elif operative:
            date = _ADOPTION_DATE.fullmatch(content)
            if date:
                found_date = f"{date['y']}-{int(date['m']):02d}-{int(date['d']):02d}"
            elif not _PLENARY_MEETING.fullmatch(content):
                # Chinese runs on without spaces, so a continuation is joined directly.
                operative[-1].text += content
        elif first_text and (opening := _OPENING.fullmatch(content)):
            opening_body = opening["body"]
        elif line.after_page_break and preambular and _is_cut(preambular[-1].text):
            preambular[-1].text += content
        else:
            preambular.append(_Draft(line.number, content))

    if number is None:
        raise ResolutionFormatError("no resolution number heading (a line like '## 第6/1号决议')")
    if title is None:
        raise ResolutionFormatError(
            "no title heading (a line like '### 确保有效实施……') after the number heading",
            number[1],
        )
    if not operative:
        raise ResolutionFormatError(
            "no operative paragraphs (lines starting '1.') after the number heading", number[1]
        )
    for draft in (*preambular, *operative):
        if not draft.text:
            raise ResolutionFormatError("paragraph has no text", draft.line)

    paragraphs = [
        {"kind": "preambular", "number": i, "text": draft.text}
        for i, draft in enumerate(preambular, start=1)
    ] + [
        {"kind": "operative", "number": i, "text": draft.text}
        for i, draft in enumerate(operative, start=1)
    ]
    record = parse_record(
        {
            "doc_type": "resolution",
            "id": record_id,
            "title": title,
            "body": body or opening_body or DEFAULT_BODY,
            "number": number[0],
            "adoption_date": adoption_date or found_date,
            "source": source,
            "paragraphs": paragraphs,
        }
    )
    assert isinstance(record, Resolution)  # doc_type "resolution" above
    return record


def _is_cut(paragraph: str) -> bool:
    """True if a paragraph stops mid-sentence, as one interrupted by a page break does."""
    stripped = paragraph.rstrip(_CLOSING_QUOTES)
    return not stripped or stripped[-1] not in _PARAGRAPH_END
