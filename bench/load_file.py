"""`casedigest load` on files of N replicated real cases: load rate, peak resident memory, profile.

For each size in `--cases`, a JSONL file of that many records is written to a temporary folder
(the real CAIL2018 cases replicated under new ids, as `bench/bulk_load.py` writes them), loaded
into a fresh embedded store by `casedigest load FILE --quiet` in a subprocess, and deleted.
Printed per size: wall time (interpreter start-up and dictionary loading included), cases/s,
the child's CPU time per case (user + system, all its threads: a figure that holds up on a
shared machine), the child's peak resident set size (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, i.e. what
`/usr/bin/time -v` reports as "Maximum resident set size"), split into the peaks of its
anonymous memory and of its mapped-file pages (sampled from /proc every 0.25 s: tantivy maps
the segments it merges, and those pages of the index files count as resident while it reads
them), and the load average, as the machine may be shared. An anonymous peak that stays flat
from one size to the next shows that the process's memory does not grow with the file.

With `--profile`, the smallest size is also loaded in this process under cProfile, and the
time is split into the stages of a load (reading and validation, segmentation, the engine's
writes) from the cumulative times of the functions that do each; the top functions follow.

    python bench/load_file.py [--cases 100000,400000,1000000] [--profile] [--workers N]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import json
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `bench` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

from bench.bulk_load import VENV_BIN, write_jsonl  # noqa: E402
from bench.load_and_query import DEFAULT_DATA, machine_info, progress  # noqa: E402

SAMPLE_EVERY_S = 0.25  # how often the child's /proc status is read for its peak sizes
# Stages of a load and the function whose cumulative time measures each (file, function name).
STAGES = (
    ("reading ids (last occurrence of each id)", "loader.py", "last_occurrences"),
    ("reading + validating records (pydantic, crime forms)", "loader.py", "read_records"),
    ("segmentation: folding", "folding.py", "fold"),
    ("segmentation: word cutter (native)", "cutters.py", "cut"),
    ("segmentation: words + sub-words joined", "segmenter.py", "index_text"),
    ("segmentation: character tokens", "segmenter.py", "chars_text"),
    ("index units, all of segmentation", "units.py", "units_for"),
    ("content hashes", "model.py", "content_hash"),
    ("record JSON for SQLite", "model.py", "record_to_json"),
    ("tantivy documents", "embedded.py", "_document"),
    ("engine write transaction (SQLite + tantivy, units made inside)", "embedded.py", "_commit"),
    ("whole upsert", "embedded.py", "upsert"),
)


@dataclass
class Peaks:
    """Peak resident sizes of a child, in bytes."""

    rss: int = 0  # everything resident: what `ru_maxrss` and `/usr/bin/time -v` report
    anon: int = 0  # the process's own memory, without the index files tantivy maps while merging
    file: int = 0  # pages of mapped files (tantivy reads its segments through mmap)

    def sample(self, pid: int) -> None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # already gone
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

        def kib(name: str) -> int:
            return int(fields.get(name, "0 kB").split()[0]) * 1024

        self.anon = max(self.anon, kib("RssAnon"))
        self.file = max(self.file, kib("RssFile"))


def children_cpu() -> float:
    """CPU seconds (user + system) of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_subprocess(path: Path, store: Path, workers: int | None) -> tuple[float, float, Peaks, dict[str, int]]:
    """Seconds, CPU seconds, peak resident sizes and summary of `casedigest load` on a fresh embedded store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDIGEST_")}
    env.update(CASEDIGEST_ENGINE="embedded", CASEDIGEST_DATA_PATH=str(store), CASEDIGEST_LOAD_FIXTURES="false")
    if workers is not None:
        env["CASEDIGEST_SEGMENTATION_WORKERS"] = str(workers)
    peaks = Peaks()
    cpu_before = children_cpu()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([str(VENV_BIN / "casedigest"), "load", str(path), "--quiet",
                                  "--rejects", str(store.parent / "rejects.jsonl"),
                                  "--summary", str(store.parent / "summary.json")],
                                 env=env, cwd=store.parent, stdout=out, stderr=err, text=True)
        while child.poll() is None:
            peaks.sample(child.pid)
            time.sleep(SAMPLE_EVERY_S)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"casedigest load exited {child.returncode}: {stderr[-2000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    # ru_maxrss is the largest of the waited-for children, in KiB on Linux; a smaller child
    # after a larger one would be hidden, so sizes run smallest first.
    peaks.rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, children_cpu() - cpu_before, peaks, summary


def profile_in_process(path: Path, folder: Path, workers: int | None) -> None:
    from indexing.engines.embedded import EmbeddedEngine
    from indexing.loading.loader import load_files
    from indexing.loading.writes import Writer
    from indexing.text.segmenter import Segmenter

    engine = EmbeddedEngine(folder / "profile.db", Segmenter(), workers=workers, replay_every=None)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    report = load_files([path], Writer(engine, "bench"))
    profiler.disable()
    wall = time.perf_counter() - started
    engine.close()
    print(f"\nprofile: {report.inserted:,} cases loaded in this process in {wall:.1f} s under cProfile "
          f"({report.inserted / wall:,.0f} cases/s), load average {os.getloadavg()[0]:.1f}")
    stats = pstats.Stats(profiler)
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _, name), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = (Path(filename).name, name)
        cumulative[key] = max(cumulative.get(key, 0.0), ct)
    print(f"{'stage':<66} {'s':>7} {'share':>6}")
    for label, filename, name in STAGES:
        seconds = cumulative.get((filename, name), 0.0)
        print(f"{label:<66} {seconds:7.2f} {seconds / wall:6.0%}")
    print()
    stats.sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="100000,400000,1000000",
                        help="comma-separated file sizes, loaded smallest first (default 100000,400000,1000000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CAIL2018 JSONL file of the real cases")
    parser.add_argument("--workers", type=int, help="CASEDIGEST_SEGMENTATION_WORKERS for the loads (default: its own default)")
    parser.add_argument("--profile", action="store_true", help="also profile a load of the smallest size in this process")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.cases.split(","))
    print(f"python bench/load_file.py --cases {','.join(map(str, sizes))}"
          + (f" --workers {args.workers}" if args.workers else "") + (" --profile" if args.profile else ""))
    print(machine_info())
    print(f"{'cases':>10} {'file MB':>8} {'seconds':>8} {'cases/s':>8} {'CPU ms/case':>12} {'peak RSS MB':>12} "
          f"{'anon MB':>9} {'file MB':>9} {'load avg':>9}")
    with tempfile.TemporaryDirectory(prefix="casedigest-load-file-") as tmp:
        folder = Path(tmp)
        for size in sizes:
            path = folder / f"cases-{size}.jsonl"
            progress(f"writing {size:,} cases to {path} …")
            write_jsonl(args.data, size, path)
            megabytes = path.stat().st_size / 1e6
            store = folder / f"store-{size}" / "casedigest.db"
            store.parent.mkdir()
            progress(f"loading {size:,} cases …")
            seconds, cpu, peaks, summary = load_subprocess(path, store, args.workers)
            if summary.get("inserted") != size or summary.get("rejected"):
                raise RuntimeError(f"load of {size:,} cases did not insert them all: {summary}")
            print(f"{size:>10,} {megabytes:>8,.0f} {seconds:>8.1f} {size / seconds:>8,.0f} {cpu / size * 1000:>12.3f} "
                  f"{peaks.rss / 1e6:>12,.0f} "
                  f"{peaks.anon / 1e6:>9,.0f} {peaks.file / 1e6:>9,.0f} {os.getloadavg()[0]:>9.1f}", flush=True)
            if args.profile and size == sizes[0]:
                profile_in_process(path, folder, args.workers)
            path.unlink()
            shutil.rmtree(store.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
