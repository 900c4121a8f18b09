"""Charge prediction from facts by a linear model trained on the index's own cases.

A linear support-vector classifier over tf·idf of the segmenter's words (and word pairs) and of
character bigrams, trained on every case that carries charges: one training row per (case,
charge), so a case of two charges teaches both. Nothing is shipped: the model is learnt from
whatever the index holds, in the background, when the index first serves a prediction and
again whenever its record counts change (`ChargePredictor`). Until a model is ready the
nearest cases' vote (`charge_vote`) answers alone.

`bench/similar.py` compares the vote, the model and their blend on held-out real cases.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from indexing.engines.base import Record
from indexing.records.crime_form_inference import forms_in_context
from indexing.records.model import CaseDigest
from indexing.similar.charge_vote import Prediction
from indexing.text.folding import fold
from indexing.text.segmenter import Segmenter

# Fewer labelled cases than this and the vote alone is better than a model.
MIN_CASES = 50
# A charge needs this many cases to be learnt; rarer ones are left to the vote.
MIN_CHARGE_CASES = 2
# The SVM's margin scores become confidences by a softmax at this sharpness (tune split).
SHARPNESS = 10.0
# Weight of the model against the vote when both answer (tune split; 1.0 = model alone).
MODEL_WEIGHT = 0.9
# How many predictions are kept per text.
KEPT = 10
# Texts longer than this are cut before the model sees them: the facts come first.
MAX_CHARS = 4_000
# The regularization strength of the SVM (tune split).
C = 0.5
# Class weights of the SVM ("balanced": inverse to each charge's count; cross-validated).
CLASS_WEIGHT = "balanced"
# Character n-gram lengths (tune split).
CHAR_NGRAMS = (2, 2)
# Weight of the forms of the predicted charges against the candidates' vote on forms.
FORMS_FROM_CHARGES_WEIGHT = 0.7
# A trained model is kept until the index has grown or shrunk by more than this share of the
# records it learnt from: training takes seconds of CPU per thousand cases in the serving
# process, and a collection being loaded would otherwise be retrained at every check.
RETRAIN_SHARE = 0.05
# A model learns from at most about this many cases, a deterministic sample of a larger index:
# at 100k cases training took over 20 minutes and 4 GB in every serving process, and more
# cases than this add little to what a linear model learns of 200 charges.
MAX_TRAINING_CASES = 20_000
# ... but every charge keeps at least this many of its cases, so rare charges are still learnt.
MIN_CASES_PER_CHARGE = 30


def case_text(record: CaseDigest) -> str:
    """What the model learns from: the facts only (the title names the charges)."""
    return "\n".join(part for part in (record.summary, record.full_text or "") if part)


def training_sample(records: Iterable[Record], total: int | None, most: int = MAX_TRAINING_CASES) -> Iterator[CaseDigest]:
    """The charged cases of `records` a model learns from: about `most` of an index of `total`.

    A case is kept when its id falls in the sampled share (a hash, so the same index gives the
    same sample on either engine) or while one of its charges has fewer than
    MIN_CASES_PER_CHARGE cases kept.
    """
    step = max(1, math.ceil(total / most)) if total else 1
    kept: dict[str, int] = {}
    for record in records:
        if not (isinstance(record, CaseDigest) and record.charges):
            continue
        rare = any(kept.get(charge, 0) < MIN_CASES_PER_CHARGE for charge in record.charges)
        if step == 1 or rare or zlib.crc32(record.id.encode("utf-8")) % step == 0:
            for charge in record.charges:
                kept[charge] = kept.get(charge, 0) + 1
            yield record


@dataclass(frozen=True)
class ChargeModel:
    """A trained classifier: text in, charges with confidences out."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    classifier: LinearSVC
    segmenter: Segmenter
    cases: int

    @classmethod
    def train(cls, records: Iterable[Record], segmenter: Segmenter) -> "ChargeModel | None":
        """A model learnt from the records that carry charges; None when there are too few."""
        texts: list[str] = []
        labels: list[list[str]] = []
        for record in records:
            if isinstance(record, CaseDigest) and record.charges and record.summary:
                texts.append(fold(case_text(record))[:MAX_CHARS])
                labels.append(list(dict.fromkeys(record.charges)))
        counts: dict[str, int] = {}
        for charges in labels:
            for charge in charges:
                counts[charge] = counts.get(charge, 0) + 1
        kept = {charge for charge, n in counts.items() if n >= MIN_CHARGE_CASES}
        if len(texts) < MIN_CASES or len(kept) < 2:
            return None
        words = TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False,
                                sublinear_tf=True, min_df=2, ngram_range=(1, 2))
        chars = TfidfVectorizer(analyzer="char", ngram_range=CHAR_NGRAMS, lowercase=False,
                                sublinear_tf=True, min_df=2)
        cut = [" ".join(segmenter.words(text)) for text in texts]
        matrix = hstack([words.fit_transform(cut), chars.fit_transform(texts)]).tocsr()
        rows = [i for i, charges in enumerate(labels) for c in charges if c in kept]
        targets = [c for charges in labels for c in charges if c in kept]
        # a fixed seed: the same cases train the same model on either engine and in every run.
        # Charges weighted inversely to their frequency: most charges have few cases and would
        # otherwise lose every close call to 盗窃 or 诈骗 (two-fold cross-validation on the
        # indexed cases: top-1 0.795 → 0.809, top-3 0.870 → 0.888).
        classifier = LinearSVC(C=C, random_state=0, class_weight=CLASS_WEIGHT)
        classifier.fit(matrix[rows], targets)
        return cls(words, chars, classifier, segmenter, len(texts))

    def predict(self, text: str) -> list[Prediction]:
        """The likeliest charges of `text`, best first, confidences summing to at most 1."""
        folded = fold(text)[:MAX_CHARS]
        features = hstack([self.words.transform([" ".join(self.segmenter.words(folded))]),
                           self.chars.transform([folded])]).tocsr()
        if features.nnz == 0:
            return []
        margins = np.asarray(self.classifier.decision_function(features)).ravel()
        classes = self.classifier.classes_
        if margins.size == 1:  # two classes: one margin, for the second
            margins = np.array([-margins[0], margins[0]])
        best = np.argsort(-margins)[:KEPT]
        top = margins[best] * SHARPNESS
        weights = np.exp(top - top.max())
        total = float(np.exp(margins * SHARPNESS - top.max()).sum())
        return [Prediction(str(classes[i]), round(float(w) / total, 4)) for i, w in zip(best, weights)]


def blend(model: Sequence[Prediction], vote: Sequence[Prediction], weight: float | None = None) -> list[Prediction]:
    """The model's and the vote's confidences mixed, best first.

    Either side alone is returned as it is: the model is missing while it trains, the vote
    when no candidate was found.
    """
    if not model:
        return list(vote)
    if not vote:
        return list(model)
    w = MODEL_WEIGHT if weight is None else weight
    mixed: dict[str, float] = {}
    for p in model:
        mixed[p.value] = mixed.get(p.value, 0.0) + w * p.confidence
    for p in vote:
        mixed[p.value] = mixed.get(p.value, 0.0) + (1 - w) * p.confidence
    ranked = sorted(mixed.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Prediction(value, round(score, 4)) for value, score in ranked if score > 0]


def forms_of_charges(charges: Sequence[Prediction], text: str) -> list[Prediction]:
    """Crime forms of predicted charges, each as confident as the charges that give it together.

    Several charges of one form (受贿, 贪污, 挪用公款) add up, so a form is sure when the model
    only hesitates between charges of that form. A charge's context rules read `text`.
    """
    mass: dict[str, float] = {}
    for p in charges:
        for code in forms_in_context([p.value], text):
            mass[code] = mass.get(code, 0.0) + p.confidence
    ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Prediction(code, round(min(m, 1.0), 4)) for code, m in ranked]


class ChargePredictor:
    """Keeps a `ChargeModel` in step with an index: trained in the background, retrained on change.

    `signature` tells whether the index changed (its record counts); it is read at most once per
    `check_seconds`. A prediction never waits for training: it gets the model there is, or none.
    """

    def __init__(
        self,
        records: Callable[[], Iterable[Record]],
        signature: Callable[[], object],
        segmenter: Segmenter,
        check_seconds: float = 60.0,
    ) -> None:
        self._records, self._signature, self._segmenter = records, signature, segmenter
        self._check_seconds = check_seconds
        self._model: ChargeModel | None = None
        self._trained_for: object = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()
        self._training: threading.Thread | None = None

    def predict(self, text: str) -> list[Prediction]:
        """The model's charges for `text`; empty while no model is ready."""
        self._refresh()
        model = self._model
        return model.predict(text) if model is not None else []

    def ready(self, timeout: float | None = None) -> bool:
        """Start training if needed and wait up to `timeout` seconds for a model (for batch jobs)."""
        self._refresh()
        thread = self._training
        if thread is not None:
            thread.join(timeout)
        return self._model is not None

    @property
    def training(self) -> bool:
        """Whether a model is being trained now."""
        thread = self._training
        return thread is not None and thread.is_alive()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._check_seconds:
            return
        with self._lock:
            if now - self._checked_at < self._check_seconds or (self._training and self._training.is_alive()):
                return
            self._checked_at = now
            signature = self._signature()
            if not self._changed_enough(signature):
                return
            self._training = threading.Thread(target=self._train, args=(signature,), daemon=True,
                                              name="charge-model-training")
            self._training.start()

    def _changed_enough(self, signature: object) -> bool:
        """Whether the index differs enough from what the model learnt from to train again."""
        if self._model is None or self._trained_for is None:
            return signature != self._trained_for
        now, then = _size(signature), _size(self._trained_for)
        if now is None or then is None:
            return signature != self._trained_for
        return abs(now - then) > max(1.0, RETRAIN_SHARE * then)

    def _train(self, signature: object) -> None:
        try:
            model = ChargeModel.train(training_sample(self._records(), _size(signature)), self._segmenter)
        except Exception:  # a failed training keeps the old model and retries at the next check
            return
        self._model, self._trained_for = model, signature


def _size(signature: object) -> int | None:
    """The number of records a signature stands for (record counts per type), if it says."""
    if isinstance(signature, dict) and all(isinstance(v, int) for v in signature.values()):
        return sum(signature.values())
    return signature if isinstance(signature, int) else None
