//! The index token streams of `indexing/text/segmenter.py`, built in one native call per text.
//!
//! `Segmenter.index_text` and `Segmenter.chars_text` (Python, over jieba or nazrin) are the
//! reference; `StreamBuilder::streams` returns the very same two strings. It cuts with the
//! jieba-rs version the query side's native cutter (nazrin) uses, set up by Python with the
//! same dictionary and frequencies (`NativeCutter.entries`), and it is told which code points
//! Python's `\w` matches instead of using Rust's own notion of a word character, so a token
//! is kept or dropped exactly as the Python code would. The interpreter lock is released for
//! the whole call, so threads build the streams of several records at once.

use std::collections::HashSet;

use jieba_rs::Jieba;
use pyo3::prelude::*;

/// Longest dictionary word looked for inside a longer word (`segmenter.MAX_SUBWORD`).
const MAX_SUBWORD: usize = 8;
/// Code points of one character token each (`segmenter._HAN`).
const HAN: &[(u32, u32)] = &[(0x3400, 0x4dbf), (0x4e00, 0x9fff), (0xf900, 0xfaff), (0x20000, 0x323af)];
/// Code points jieba-rs cuts as Han and jieba does not (`cutters._HAN_ONLY_NATIVE`): each is
/// a word of its own, and the text between them is cut by jieba-rs.
const HAN_ONLY_NATIVE: &[(u32, u32)] = &[
    (0x3400, 0x4dbf),
    (0x9fd6, 0x9fff),
    (0xf900, 0xfaff),
    (0x20000, 0x2a6df),
    (0x2a700, 0x2ebef),
    (0x2f800, 0x2fa1f),
];

fn in_ranges(c: char, ranges: &[(u32, u32)]) -> bool {
    let code = c as u32;
    ranges.iter().any(|&(low, high)| low <= code && code <= high)
}

fn push_token(out: &mut String, token: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(token);
}

#[pyclass(frozen, module = "casedigest_native")]
struct StreamBuilder {
    jieba: Jieba,
    /// Words with a frequency above 0: the sub-words looked for inside longer words.
    words: HashSet<String>,
    /// One bit per code point: set where Python's `re` matches `\w`.
    word_chars: Vec<u8>,
}

impl StreamBuilder {
    fn is_word_char(&self, c: char) -> bool {
        let code = c as usize;
        self.word_chars.get(code >> 3).is_some_and(|bits| bits & (1 << (code & 7)) != 0)
    }

    /// `NativeCutter.cut`: jieba-rs between the code points it would cut differently from jieba.
    fn cut<'a>(&self, text: &'a str, out: &mut Vec<&'a str>) {
        let mut start = 0;
        for (at, c) in text.char_indices() {
            if in_ranges(c, HAN_ONLY_NATIVE) {
                if start < at {
                    out.extend(self.jieba.cut(&text[start..at], false).into_iter().map(|t| t.word));
                }
                start = at + c.len_utf8();
                out.push(&text[at..start]);
            }
        }
        if start < text.len() {
            out.extend(self.jieba.cut(&text[start..], false).into_iter().map(|t| t.word));
        }
    }

    /// `Segmenter.index_text`: each word followed by the dictionary words inside it.
    fn index_text(&self, folded: &str) -> String {
        let mut tokens = Vec::new();
        self.cut(folded, &mut tokens);
        let mut out = String::with_capacity(folded.len() * 2);
        let mut bounds = Vec::new();
        for token in tokens {
            if !token.chars().any(|c| self.is_word_char(c)) {
                continue; // punctuation and spaces are not indexed
            }
            push_token(&mut out, token);
            bounds.clear();
            bounds.extend(token.char_indices().map(|(at, _)| at));
            bounds.push(token.len());
            let length = bounds.len() - 1;
            // shortest first, then left to right, as `Segmenter._words_inside` lists them
            for size in 2..length.min(MAX_SUBWORD + 1) {
                for start in 0..=(length - size) {
                    let part = &token[bounds[start]..bounds[start + size]];
                    if self.words.contains(part) {
                        push_token(&mut out, part);
                    }
                }
            }
        }
        out
    }

    /// `Segmenter.chars_text`: each Han character; each run of other word characters (not
    /// `_`), with a decimal point and ASCII digits after it kept.
    fn chars_text(&self, folded: &str) -> String {
        let chars: Vec<(usize, char)> = folded.char_indices().collect();
        let end_of = |index: usize| chars.get(index).map_or(folded.len(), |&(at, _)| at);
        let in_run = |c: char| c != '_' && !in_ranges(c, HAN) && self.is_word_char(c);
        let mut out = String::with_capacity(folded.len() * 2);
        let mut index = 0;
        while index < chars.len() {
            let (at, c) = chars[index];
            if in_ranges(c, HAN) {
                push_token(&mut out, &folded[at..at + c.len_utf8()]);
                index += 1;
            } else if in_run(c) {
                let mut next = index + 1;
                while next < chars.len() && in_run(chars[next].1) {
                    next += 1;
                }
                if next + 1 < chars.len() && chars[next].1 == '.' && chars[next + 1].1.is_ascii_digit() {
                    next += 2;
                    while next < chars.len() && chars[next].1.is_ascii_digit() {
                        next += 1;
                    }
                }
                push_token(&mut out, &folded[at..end_of(next)]);
                index = next;
            } else {
                index += 1;
            }
        }
        out
    }
}

#[pymethods]
impl StreamBuilder {
    /// `entries`: every dictionary word with its frequency, as the native cutter holds them;
    /// `words`: the words looked for inside longer words; `word_chars`: a bit per code point,
    /// set where Python's `\w` matches.
    #[new]
    fn new(entries: Vec<(String, usize)>, words: Vec<String>, word_chars: &[u8]) -> Self {
        let mut jieba = Jieba::empty();
        for (word, freq) in &entries {
            jieba.add_word(word, Some(*freq), None);
        }
        StreamBuilder { jieba, words: words.into_iter().collect(), word_chars: word_chars.to_vec() }
    }

    /// The words-and-sub-words stream of already-folded text and, with `chars`, its character stream.
    fn streams(&self, py: Python<'_>, folded: String, chars: bool) -> (String, Option<String>) {
        py.detach(|| (self.index_text(&folded), chars.then(|| self.chars_text(&folded))))
    }

    /// The words-and-sub-words stream alone (`Segmenter.index_text`).
    #[pyo3(name = "index_text")]
    fn py_index_text(&self, py: Python<'_>, folded: String) -> String {
        py.detach(|| self.index_text(&folded))
    }

    /// The character stream alone (`Segmenter.chars_text`).
    #[pyo3(name = "chars_text")]
    fn py_chars_text(&self, py: Python<'_>, folded: String) -> String {
        py.detach(|| self.chars_text(&folded))
    }
}

#[pymodule]
fn casedigest_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<StreamBuilder>()?;
    Ok(())
}
