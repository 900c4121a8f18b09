"""Server time of the search page against the JSON API for the same request, and page weight.

    python bench/web_page.py [--rounds 50]

Both run in-process on the demo fixtures (embedded engine, a temporary data file); the page
makes one call to the same search core as the API, so the difference is template rendering.
Target: page ≤ 1.5 × API; page weight (HTML + CSS + JS, no fonts) ≤ 150 KB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

REQUESTS = [
    {"q": "贩卖毒品 主犯", "crime_form": ["drugs", "organized_crime_group"], "sort": "relevance"},
    {"q": "醉驾"},
    {"q": "器官", "country": ["CN"]},
    {"crime_form": ["environment"]},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, TestClient(create_app(Settings(data_path=Path(tmp) / "db.sqlite3"))) as client:
        print(f"`python bench/web_page.py --rounds {args.rounds}`\n")
        print("| request | page median ms | API median ms | ratio | page weight KB |")
        print("|---|---:|---:|---:|---:|")
        for params in REQUESTS:
            api_params = {**params, "explain": "true", "facet_size": "12", "size": "10"}
            for _ in range(3):
                client.get("/", params=params)
                client.get("/v1/search", params=api_params)
            page, api = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                html = client.get("/", params=params)
                page.append(time.perf_counter() - started)
                started = time.perf_counter()
                client.get("/v1/search", params=api_params)
                api.append(time.perf_counter() - started)
            weight = len(html.content) + sum(
                len(client.get(f"/static/{name}").content) for name in ("site.css", "app.js")
            )
            p, a = statistics.median(page) * 1000, statistics.median(api) * 1000
            label = " ".join(f"{k}={v}" for k, v in params.items())
            print(f"| {label} | {p:.1f} | {a:.1f} | {p / a:.2f} | {weight / 1024:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
