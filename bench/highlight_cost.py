"""What marking whole words costs per hit, against marking substrings (the earlier way).

Marks the title and cuts the summary snippets of the first 1,000 real cases for a few queries,
with the current whole-word highlighter; prints milliseconds per hit, cold (each text
segmented for the first time) and warm (segmentation remembered, as on a page that marks a
text twice).

    python bench/highlight_cost.py
"""

from __future__ import annotations

import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexing.loading.field_map import FieldMap  # noqa: E402
from indexing.text.highlight import marked, snippets  # noqa: E402
from indexing.loading.loader import read_records  # noqa: E402
from indexing.records.model import CaseDigest  # noqa: E402
from indexing.text.segmenter import Segmenter  # noqa: E402

DATA = ROOT.parent / "shared/data/cases/cail2018-dev.jsonl"
QUERIES = [["盗窃", "现金"], ["毒品", "甲基苯丙胺"], ["故意伤害", "轻伤"], ["诈骗", "电话"],
           ["为他人谋取利益", "他人", "谋取", "利益"]]


def main() -> None:
    segmenter = Segmenter()
    records = [r for _, r in islice(read_records(DATA, FieldMap.load(ROOT / "indexing/field_maps/cail2018.toml")), 1000)
               if isinstance(r, CaseDigest)]
    for label in ("cold", "warm"):
        started = time.perf_counter()
        for needles in QUERIES:
            for record in records:
                marked(record.title, needles, segmenter)
                snippets(record.summary, needles, segmenter)
        per_hit = (time.perf_counter() - started) * 1000 / (len(QUERIES) * len(records))
        print(f"{label}: {per_hit:.3f} ms per hit ({len(records)} cases x {len(QUERIES)} queries)")


if __name__ == "__main__":
    main()
