"""The user's query syntax, parsed into the engine-neutral tree of `query_model`.

Syntax: words are ANDed; `OR` between alternatives; `-word` or `NOT word` excludes;
`"exact phrase"`; parentheses group; `title:`, `charges:`, `court:` (and the other scopes in
`query_model.TEXT_SCOPES`) restrict a word, phrase or group to one field. Full-width quotes,
parentheses and colons are read as their ASCII forms. Anything else is literal text: it is
segmented into words and never reaches an engine as syntax.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from indexing.engines.units import CHAR_FIELDS
from indexing.errors import QuerySyntaxError
from indexing.text.folding import fold
from indexing.query.model import TEXT_SCOPES, And, MatchAll, Node, Not, Or, Phrase, Term, Words
from indexing.text.segmenter import Segmenter

MAX_QUERY_CHARS = 500
MAX_TERMS = 64
# Parentheses, NOTs and field scopes nest; the parser and every walker of the tree recurse
# once per level, so the depth is bounded well below Python's recursion limit.
MAX_NESTING = 32

_SCOPE_ALIASES = {"charge": "charges", "fulltext": "full_text", "keyword": "keywords", "basis": "legal_basis"}
_SCOPED_WORD = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, PHRASE, LPAREN, RPAREN, OR, AND, NOT, MINUS, SCOPE
    text: str
    pos: int


@dataclass(frozen=True)
class ParsedQuery:
    node: Node
    # Multi-word terms whose characters also score as a phrase (title and phrase boosts).
    phrase_boosts: tuple[Phrase, ...]


def parse_query(text: str, segmenter: Segmenter) -> ParsedQuery:
    """Parse `text`; an empty query is MatchAll. Raises `QuerySyntaxError` with a position."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}",
            {"limit": MAX_QUERY_CHARS},
        )
    tokens = _lex(fold_punctuation(text), text)
    if not tokens:
        return ParsedQuery(MatchAll(), ())
    parser = _Parser(tokens, segmenter, text)
    node = parser.parse()
    if parser.term_count > MAX_TERMS:
        raise QuerySyntaxError(f"query has {parser.term_count} words; the limit is {MAX_TERMS}")
    return ParsedQuery(node, tuple(parser.phrase_boosts))


# Anything the query syntax reads: quotes, parentheses, OR/AND/NOT, a leading minus, field:word.
_OPERATOR = re.compile(r'["()]|(?:^|\s)(?:OR|AND|NOT)(?=\s|$)|(?:^|\s)-\S|(?:^|\s)[A-Za-z_]+:')


def is_long_plain_text(text: str, segmenter: Segmenter) -> bool:
    """Whether a query is pasted prose rather than a query: no operators, past the short-query size.

    Such a text is searched as similar-case facts instead of being refused.
    """
    folded = fold_punctuation(text)
    if _OPERATOR.search(folded):
        return False
    return len(text) > MAX_QUERY_CHARS or len(segmenter.query_words(text)) > MAX_TERMS


def fold_punctuation(text: str) -> str:
    """Fold only what the syntax reads (quotes, parentheses, colons, spaces), keeping case."""
    return "".join(ch if ch.isalpha() else fold(ch) for ch in text)


def _lex(text: str, original: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(
                    f"unclosed quotation mark at position {i + 1}",
                    {"position": i + 1, "suggestion": original + '"'},
                )
            tokens.append(_Token("PHRASE", text[i + 1 : end], i))
            i = end + 1
        elif ch in "()":
            tokens.append(_Token("LPAREN" if ch == "(" else "RPAREN", ch, i))
            i += 1
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in "-)":
            tokens.append(_Token("MINUS", ch, i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '"()':
                i += 1
            word = text[start:i]
            scoped = _SCOPED_WORD.match(word)
            if word in ("OR", "AND", "NOT"):
                tokens.append(_Token(word, word, start))
            elif scoped and _scope_name(scoped.group(1)):
                tokens.append(_Token("SCOPE", _scope_name(scoped.group(1)) or "", start))
                rest = scoped.group(2)
                if rest:
                    tokens.append(_Token("WORD", rest, start + len(scoped.group(1)) + 1))
            else:
                tokens.append(_Token("WORD", word, start))
    return tokens


def _scope_name(prefix: str) -> str | None:
    name = prefix.lower()
    name = _SCOPE_ALIASES.get(name, name)
    return name if name in TEXT_SCOPES else None


class _Parser:
    def __init__(self, tokens: list[_Token], segmenter: Segmenter, original: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.segmenter = segmenter
        self.original = original
        self.term_count = 0
        self.phrase_boosts: list[Phrase] = []
        self.depth = 0

    def parse(self) -> Node:
        node = self._or(None)
        if self.i < len(self.tokens):
            token = self.tokens[self.i]
            raise self._error(
                f"unmatched closing parenthesis at position {token.pos + 1}",
                token,
                self.original[: token.pos] + self.original[token.pos + 1 :],
            )
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _error(self, message: str, token: _Token | None, suggestion: str | None = None) -> QuerySyntaxError:
        detail: dict[str, object] = {}
        if token is not None:
            detail["position"] = token.pos + 1
        if suggestion is not None and suggestion.strip():
            detail["suggestion"] = suggestion.strip()
        return QuerySyntaxError(message, detail)

    def _or(self, scope: str | None) -> Node:
        clauses = [self._and(scope)]
        while (token := self._peek()) is not None and token.kind == "OR":
            self.i += 1
            if self._peek() is None or self._peek().kind in ("OR", "AND", "RPAREN"):  # type: ignore[union-attr]
                raise self._error(
                    f"OR at position {token.pos + 1} has nothing after it",
                    token,
                    self.original[: token.pos] + self.original[token.pos + 2 :],
                )
            clauses.append(self._and(scope))
        return clauses[0] if len(clauses) == 1 else Or(tuple(clauses))

    def _and(self, scope: str | None) -> Node:
        clauses: list[Node] = []
        while (token := self._peek()) is not None and token.kind not in ("OR", "RPAREN"):
            if token.kind == "AND":
                if not clauses:
                    raise self._error(
                        f"AND at position {token.pos + 1} has nothing before it",
                        token,
                        self.original[: token.pos] + self.original[token.pos + 3 :],
                    )
                self.i += 1
                continue
            node = self._unary(scope)
            if node is not None:
                clauses.append(node)
        if not clauses:
            token = self._peek()
            if token is not None and token.kind == "OR":
                raise self._error(
                    f"OR at position {token.pos + 1} has nothing before it",
                    token,
                    self.original[: token.pos] + self.original[token.pos + 2 :],
                )
            return MatchAll()
        if all(isinstance(c, Not) for c in clauses):
            clauses.insert(0, MatchAll())
        return clauses[0] if len(clauses) == 1 else And(tuple(clauses))

    @contextmanager
    def _level(self, token: _Token) -> Iterator[None]:
        """One more level of nesting, entered at `token`; too deep a query is a syntax error."""
        if self.depth >= MAX_NESTING:
            raise self._error(
                f"the query nests parentheses, NOT and field scopes more than {MAX_NESTING} deep "
                f"(at position {token.pos + 1})",
                token,
            )
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def _unary(self, scope: str | None) -> Node | None:
        token = self._peek()
        assert token is not None
        if token.kind in ("NOT", "MINUS"):
            self.i += 1
            nxt = self._peek()
            if nxt is None or nxt.kind in ("OR", "AND", "RPAREN"):
                raise self._error(
                    f"{token.text} at position {token.pos + 1} has nothing to exclude", token,
                    self.original[: token.pos] + self.original[token.pos + len(token.text) :],
                )
            with self._level(token):
                inner = self._unary(scope)
            return Not(inner) if inner is not None else None
        return self._primary(scope)

    def _primary(self, scope: str | None) -> Node | None:
        token = self._peek()
        assert token is not None
        self.i += 1
        if token.kind == "SCOPE":
            nxt = self._peek()
            if nxt is None or nxt.kind not in ("WORD", "PHRASE", "LPAREN") or nxt.pos > token.pos + len(token.text) + 20:
                raise self._error(f"{token.text}: at position {token.pos + 1} needs a word after the colon", token)
            with self._level(token):
                return self._primary(token.text)
        if token.kind == "LPAREN":
            if self._peek() is not None and self._peek().kind == "RPAREN":  # type: ignore[union-attr]
                raise self._error(
                    f"empty parentheses at position {token.pos + 1}", token,
                    self.original[: token.pos] + self.original[token.pos + 2 :],
                )
            with self._level(token):
                node = self._or(scope)
            closing = self._peek()
            if closing is None or closing.kind != "RPAREN":
                raise self._error(
                    f"parenthesis opened at position {token.pos + 1} is never closed", token, self.original + ")"
                )
            self.i += 1
            return node
        if token.kind == "PHRASE":
            return self._phrase(token.text, scope)
        if token.kind == "WORD":
            return self._word(token.text, scope)
        raise self._error(f"unexpected {token.text!r} at position {token.pos + 1}", token)

    def _phrase(self, text: str, scope: str | None) -> Node | None:
        if scope is not None and scope not in CHAR_FIELDS:
            # Short fields (charges, court, legal basis …) keep no character positions: a
            # phrase there means all of its words.
            return self._word(text, scope)
        chars = tuple(Segmenter.chars(fold(text)))
        if not chars:
            return None
        self.term_count += 1
        return Phrase(chars, scope)

    def _word(self, text: str, scope: str | None) -> Node | None:
        folded = fold(text)
        words = self.segmenter.words(folded)
        if not words:
            return None
        self.term_count += len(words)
        if len(words) == 1:
            return Term(words[0], scope)
        # A run of characters typed without spaces: each word is required (or the run as
        # consecutive characters), and the run as a whole scores as a phrase.
        chars = tuple(Segmenter.chars(folded))
        if len(chars) > 1:
            self.phrase_boosts.append(Phrase(chars, scope))
        return Words("".join(chars), tuple(words), scope)
