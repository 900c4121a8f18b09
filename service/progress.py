"""Load progress for people and for scripts: a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from indexing.loading.loader import LoadReport

Reporter = Callable[[LoadReport], None]


class LoadProgress:
    """Shows records/s, ETA (when the total is known) and rejections so far.

    On a terminal this is a live bar; otherwise a line every `every` seconds, so logs of
    scheduled jobs stay readable; `quiet` shows nothing.
    """

    def __init__(self, total: int | None, quiet: bool = False, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.total = total
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.every = every
        self.started = time.monotonic()
        self.last_line = self.started
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> "LoadProgress":
        if not self.quiet and self.stream.isatty():
            self._bar = Progress(
                TextColumn("载入"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.0f} 条/秒"),
                TextColumn("拒收 {task.fields[rejected]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("load", total=self.total, rate=0.0, rejected=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, report: LoadReport) -> None:
        if self.quiet:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = report.read / elapsed
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=report.read, rate=rate, rejected=report.rejected)
            return
        now = time.monotonic()
        if now - self.last_line >= self.every:
            self.last_line = now
            total = f"/{self.total}" if self.total else ""
            eta = ""
            if self.total and rate > 0:
                eta = f", ETA {max(self.total - report.read, 0) / rate:.0f} s"
            self.stream.write(
                f"loaded {report.read}{total} records, {rate:.0f}/s, {report.rejected} rejected{eta}\n"
            )
            self.stream.flush()
