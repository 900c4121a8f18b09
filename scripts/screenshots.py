"""Regenerate docs/search.png and docs/case.png from the demo fixtures.

Serves the app (embedded engine, a temporary data folder, the fixtures) on a loopback port and
photographs the pages with Debian's chromium through Playwright.
Usage: .venv/bin/python scripts/screenshots.py [--chromium /usr/lib/chromium/chromium]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import web  # noqa: E402
from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

SHOTS = {
    "search.png": "/?q=贩卖毒品+主犯&crime_form=drugs&crime_form=organized_crime_group&country=CN",
    "case.png": "/cases/demo-cn-2016-001?q=器官+组织",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/lib/chromium/chromium", help="chromium binary")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNG files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(engine="embedded", data_path=Path(folder) / "db.sqlite3", load_fixtures=True))
        if "/" not in {getattr(r, "path", None) for r in app.routes}:
            app.include_router(web.router)
            web.mount_static(app)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                sys.exit("the app did not start")
            time.sleep(0.05)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1100}, locale="zh-CN")
                for name, path in SHOTS.items():
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.screenshot(path=str(args.out / name))
                    print(args.out / name)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)


if __name__ == "__main__":
    main()
