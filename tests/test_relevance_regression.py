"""Ranking quality does not regress: nDCG@10 on the judged set stays at the committed figure.

The figure is `bench/relevance/baseline.json`, written by
`python bench/relevance.py --systems embedded --write-baseline`; this test fails when the
default configuration falls more than 0.02 below it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import CAIL
from indexing.text.segmenter import Segmenter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relevance import embedded_service, evaluate_service, mean_ndcg  # noqa: E402

pytestmark = pytest.mark.real_data


@pytest.mark.slow
def test_ndcg_does_not_fall_below_the_committed_figure(segmenter: Segmenter, tmp_path: Path) -> None:
    baseline = json.loads((ROOT / "bench/relevance/baseline.json").read_text("utf-8"))["ndcg_at_10"]
    service = embedded_service(CAIL, tmp_path, segmenter)
    try:
        with_synonyms = evaluate_service(service, CAIL)
        without = evaluate_service(service, CAIL, expand=False)
    finally:
        service.engine.close()
    score = mean_ndcg(with_synonyms)
    print(f"nDCG@10 {score:.4f} (committed {baseline:.4f}); without expansion {mean_ndcg(without):.4f}")
    assert score >= baseline - 0.02
    assert score > mean_ndcg(without)  # the synonym dictionary earns its place
