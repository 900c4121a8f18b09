"""Predicted charges for cases that arrive without charges, filled in after a load.

The charge model of the index (`charge_model.ChargePredictor`) predicts from a case's facts; the
best few charges are kept in `predicted_charges` with their confidence, apart from the court's
`charges`, and the crime forms of those charges (read in the context of the facts) join the
record's inferred forms. Curated forms are never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from indexing.engines.base import Record
from indexing.loading.writes import Writer
from indexing.records.crime_forms import TAXONOMY
from indexing.records.model import CaseDigest, CrimeFormTag, PredictedCharge
from indexing.similar.charge_model import case_text, forms_of_charges
from indexing.similar.charge_vote import Prediction

if TYPE_CHECKING:
    from indexing.core.search import SearchService

# How many predicted charges a record keeps, and from which confidence.
KEPT = 3
MIN_CONFIDENCE = 0.1
# A form of the predicted charges is added from this summed confidence up (the threshold of
# `bench/crime_form_inference.py`, chosen on its tuning part).
FORM_CONFIDENCE = 0.15
# How long a load waits for the charge model to be trained.
TRAINING_WAIT_SECONDS = 900.0
BATCH = 500


def with_predicted_charges(record: CaseDigest, predicted: Sequence[Prediction]) -> CaseDigest:
    """A copy of a case without charges, carrying the predicted charges and their forms."""
    kept = [p for p in predicted if p.confidence >= MIN_CONFIDENCE][:KEPT]
    update: dict[str, object] = {
        "predicted_charges": [PredictedCharge(charge=p.value, confidence=p.confidence) for p in kept]
    }
    if not any(tag.source == "curated" for tag in record.crime_forms):
        text = case_text(record)
        codes = [p.value for p in forms_of_charges(kept, text) if p.confidence >= FORM_CONFIDENCE]
        if codes:
            every = TAXONOMY.with_ancestors([*record.crime_form_codes, *codes])
            update["crime_forms"] = [CrimeFormTag(code=code, source="inferred") for code in every]
    return record.model_copy(update=update)


def predict_missing_charges(service: "SearchService", record_ids: Iterable[str], actor: str) -> int:
    """Predict the charges of those of `record_ids` that are cases without any; how many got some.

    Trains the index's charge model first if it has none (waiting up to TRAINING_WAIT_SECONDS);
    a case that already carries predicted charges keeps them.
    """
    ids = sorted(record_ids)
    waiting: list[CaseDigest] = []
    for start in range(0, len(ids), BATCH):
        found = service.engine.get_many(ids[start : start + BATCH])
        waiting += [r for r in found.values() if needs_prediction(r)]
    if not waiting or not service.charge_predictor.ready(TRAINING_WAIT_SECONDS):
        return 0
    writer = Writer(service.engine, actor)
    filled = 0
    for start in range(0, len(waiting), BATCH):
        batch = []
        for record in waiting[start : start + BATCH]:
            predicted = service.charge_predictor.predict(case_text(record))
            if predicted:
                batch.append(with_predicted_charges(record, predicted))
        writer.upsert(batch)
        filled += len(batch)
    return filled


def needs_prediction(record: Record) -> bool:
    """Whether a record is a case with neither charges nor predicted ones."""
    return isinstance(record, CaseDigest) and not record.charges and not record.predicted_charges
