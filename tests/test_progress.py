"""Load progress: plain periodic lines when the output is not a terminal, nothing when quiet."""

from __future__ import annotations

import io

from indexing.loading.loader import LoadReport
from service.progress import LoadProgress


def test_plain_lines_with_rate_eta_and_rejections() -> None:
    out = io.StringIO()  # not a terminal
    with LoadProgress(total=1000, stream=out, every=0.0) as progress:
        progress(LoadReport(read=250, rejected=3))
    line = out.getvalue().strip()
    assert line.startswith("loaded 250/1000 records,") and "/s, 3 rejected, ETA" in line


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    with LoadProgress(total=None, quiet=True, stream=out, every=0.0) as progress:
        progress(LoadReport(read=10))
    assert out.getvalue() == ""


def test_a_terminal_gets_a_bar_not_lines() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    with LoadProgress(total=100, stream=out, every=0.0) as progress:
        progress(LoadReport(read=50, rejected=1))
    drawn = out.getvalue()
    assert "50/100" in drawn and "拒收 1" in drawn and "loaded 50" not in drawn
