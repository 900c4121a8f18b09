"""Measure crime-form inference from fact text against the court's charges on real cases.

Gold forms of a case are its charges mapped through the charge rules, read in the context of
its facts (`infer_crime_forms(case["charges"], case["fact"])`); the prediction is made from the
fact with the charges withheld, two ways: `text cues` (`infer_from_text`, what a record gets at
load time) and `cues + model` (the cues plus the forms of the charges that a charge model
trained on the tuning part predicts, read in context). Cases are split by a hash of their id: one third is held out and was not
read while the text cues were written, the rest is the tuning part. Every code a record would
carry counts, so a sub-form and its parent are two labels.

    python bench/crime_form_inference.py [--data PATH] [--markdown] [--verbose] [--no-model]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from indexing.records.crime_form_inference import (
    RULES,
    forms_for_charge,
    infer_crime_forms,
    infer_from_charges,
    infer_from_text,
)
from indexing.records.crime_forms import TAXONOMY
from indexing.records.model import CaseDigest
from indexing.similar.charge_model import ChargeModel, forms_of_charges
from indexing.text.segmenter import Segmenter

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"
TUNING, HELD_OUT = "tuning", "held-out"


def load_cases(path: Path) -> list[dict[str, object]]:
    """The cases of a CAIL-style JSON-lines file."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def split_of(case_id: str) -> str:
    """HELD_OUT for a third of the ids, chosen by hash so the split never changes."""
    digest = hashlib.sha1(case_id.encode("utf-8")).digest()
    return HELD_OUT if int.from_bytes(digest[:8], "big") % 3 == 0 else TUNING


@dataclass
class Score:
    """True positives, false positives and false negatives of one form or of all of them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    """Micro scores over all (case, form) labels and a score per form."""

    cases: int = 0
    micro: Score = field(default_factory=Score)
    per_form: dict[str, Score] = field(default_factory=dict)

    def add(self, gold: set[str], predicted: set[str]) -> None:
        self.cases += 1
        for code in gold | predicted:
            score = self.per_form.setdefault(code, Score())
            for target in (score, self.micro):
                if code in gold and code in predicted:
                    target.tp += 1
                elif code in predicted:
                    target.fp += 1
                else:
                    target.fn += 1


# A form of the predicted charges counts from this confidence up (tuning part, two halves).
MODEL_CONFIDENCE = 0.15


def evaluate(cases: Iterable[dict[str, object]], model: ChargeModel | None = None) -> dict[str, Evaluation]:
    """Text inference scored against charge-derived gold, per part of the split.

    With a `model`, the forms of the charges it predicts (from MODEL_CONFIDENCE up) join the cues.
    """
    parts = {TUNING: Evaluation(), HELD_OUT: Evaluation()}
    for case in cases:
        fact = str(case["fact"])
        gold = set(infer_crime_forms(_charges(case), fact))
        predicted = set(infer_from_text(fact))
        if model is not None:
            predicted |= {p.value for p in forms_of_charges(model.predict(fact), fact) if p.confidence >= MODEL_CONFIDENCE}
        parts[split_of(str(case["id"]))].add(gold, predicted)
    return parts


def train_model(cases: Iterable[dict[str, object]]) -> ChargeModel | None:
    """The charge model learnt from the tuning part only."""
    records = [
        CaseDigest(id=str(case["id"]), title=str(case["id"]), summary=str(case["fact"]), charges=_charges(case))
        for case in cases if split_of(str(case["id"])) == TUNING and _charges(case)
    ]
    return ChargeModel.train(records, Segmenter())


def _charges(case: dict[str, object]) -> list[str]:
    charges = case.get("charges") or []
    return [str(c) for c in charges] if isinstance(charges, list) else []


def charge_coverage(cases: Iterable[dict[str, object]]) -> tuple[Counter[str], Counter[str]]:
    """Case counts of the distinct charges that map to some form and of those that map to none."""
    mapped: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for case in cases:
        for charge in _charges(case):
            (mapped if forms_for_charge(charge) else unmapped)[charge] += 1
    return mapped, unmapped


def text_speed(cases: list[dict[str, object]], rounds: int = 3) -> float:
    """Milliseconds of `infer_from_text` per 1,000 characters of fact text (best of `rounds`)."""
    facts = [str(case["fact"]) for case in cases]
    chars = sum(len(fact) for fact in facts)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for fact in facts:
            infer_from_text(fact)
        best = min(best, time.perf_counter() - start)
    return best * 1000 / (chars / 1000)


def _rows(evaluation: Evaluation) -> Iterator[tuple[str, Score]]:
    yield "micro (all forms)", evaluation.micro
    for code in TAXONOMY.codes:
        if code in evaluation.per_form:
            yield code, evaluation.per_form[code]


def text_table(parts: dict[str, Evaluation]) -> str:
    """A plain table: one block of rows per part of the split."""
    lines = []
    for name, evaluation in parts.items():
        lines.append(f"\n{name}: {evaluation.cases} cases")
        lines.append(f"  {'form':<26}{'support':>8}{'P':>8}{'R':>8}{'F1':>8}{'FP':>6}")
        for code, s in _rows(evaluation):
            lines.append(
                f"  {code:<26}{s.support:>8}{s.precision:>8.3f}{s.recall:>8.3f}"
                f"{s.f1:>8.3f}{s.fp:>6}"
            )
    return "\n".join(lines)


def markdown_table(parts: dict[str, Evaluation]) -> str:
    """A README table with tuning and held-out figures side by side."""
    tuning, held = parts[TUNING], parts[HELD_OUT]
    lines = [
        "| 犯罪形态 form | 调参 support | P | R | 留出 held-out support | P | R |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    codes = ["micro (all forms)"] + [
        c for c in TAXONOMY.codes if c in tuning.per_form or c in held.per_form
    ]
    for code in codes:
        form = TAXONOMY.get(code)
        label = f"{form.zh} `{code}`" if form else "**合计 micro**"
        a = tuning.micro if code.startswith("micro") else tuning.per_form.get(code, Score())
        b = held.micro if code.startswith("micro") else held.per_form.get(code, Score())
        lines.append(
            f"| {label} | {a.support} | {a.precision:.3f} | {a.recall:.3f} "
            f"| {b.support} | {b.precision:.3f} | {b.recall:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL JSON-lines file")
    parser.add_argument("--markdown", action="store_true", help="also print a README table")
    parser.add_argument("--verbose", action="store_true", help="list the unmapped charges")
    parser.add_argument("--no-model", action="store_true", help="text cues only (no charge model)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data file at {args.data}", file=sys.stderr)
        return 2

    cases = load_cases(args.data)
    model = None if args.no_model else train_model(cases)
    parts = evaluate(cases, model)
    mapped, unmapped = charge_coverage(cases)
    distinct = len(mapped) + len(unmapped)
    with_form = sum(1 for case in cases if infer_crime_forms(_charges(case), str(case["fact"])))

    method = "text cues" if model is None else f"text cues + charge model ({model.cases} tuning cases)"
    print(f"crime-form inference, rules {RULES.version}, {method}, {len(cases)} cases from {args.data}")
    print(text_table(parts))
    print(
        f"\ncharge coverage: {len(mapped)} of {distinct} distinct charges map to a form "
        f"({sum(mapped.values())} of {sum(mapped.values()) + sum(unmapped.values())} charge "
        f"mentions); {with_form} cases have a gold form"
    )
    print(f"speed: {text_speed(cases):.3f} ms of infer_from_text per 1,000 characters")
    if args.markdown:
        print("\n" + markdown_table(parts))
    if args.verbose:
        print("\ncharges that map to no form (cases):")
        for charge, count in unmapped.most_common():
            print(f"  {count:>5}  {charge}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
