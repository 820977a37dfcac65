"""Benchmark the location resolver: load time, memory, speed, FP rate, accuracy."""

# Run with `python -m scripts.bench_resolver [--url DATABASE_URL] [--json]`. Without
# --url the configured database is used if its directory is loaded; otherwise the
# directory is imported into a temporary SQLite file first (about 10 s).

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.db.models import LocalAuthority
from bot.db.session import get_engine, get_sessionmaker
from bot.directory.importer import import_directory
from bot.directory.resolver import LocationResolver, Resolution
from bot.settings import DIRECTORY_DATA_DIR, get_settings

ROOT = Path(__file__).resolve().parent.parent
NO_PLACE_FILE = ROOT / "tests" / "directory" / "no_place_messages.txt"
MENTIONS_FILE = ROOT / "tests" / "directory" / "place_mentions.csv"

FILLER = (
    "Hello, I'm the volunteer treasurer of a small charity that runs a lunch club "
    "and a befriending service for older people. We have about twenty volunteers "
    "and an income of around twelve thousand pounds a year. "
)


def _directory_loaded(url: str) -> bool:
    try:
        with Session(get_engine(url)) as session:
            return bool(
                session.scalar(select(func.count()).select_from(LocalAuthority))
            )
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def _database_url(url: str | None, tmp: Path) -> str:
    """Return a database URL with the directory loaded, importing one if needed."""
    url = url or get_settings().database_url
    if _directory_loaded(url):
        return url
    url = f"sqlite:///{tmp / 'bench.db'}"
    print(f"directory not loaded; importing into {url} ...", file=sys.stderr)
    upgrade(url)
    with get_sessionmaker(url)() as session, session.begin():
        import_directory(session, DIRECTORY_DATA_DIR)
    return url


def _outcome(result: Resolution) -> str:
    if result.best is None:
        return "AMBIGUOUS" if result.candidates else "NONE"
    return result.best.lad_code or f"AREA:{result.best.name}"


def _load_sets() -> tuple[list[str], list[dict[str, str]]]:
    import csv

    lines = NO_PLACE_FILE.read_text(encoding="utf-8").splitlines()
    no_place = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
    with MENTIONS_FILE.open(encoding="utf-8", newline="") as f:
        mentions = list(csv.DictReader(f))
    return no_place, mentions


def _timing_messages(no_place: list[str], mentions: list[dict[str, str]]) -> list[str]:
    """A few hundred varied messages: short, labelled, and long with a place inside."""
    rng = random.Random(20261125)  # noqa: S311 - reproducible sample, not security
    texts = [*no_place, *(r["text"] for r in mentions)]
    long = [
        FILLER * rng.randint(1, 4) + f"We're based in {r['text']}. " + FILLER
        for r in rng.sample(mentions, 60)
    ]
    return texts + long + [FILLER * 30]  # one ~5 KB message


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark report (Markdown, or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: configured)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--repeat", type=int, default=5, help="timing passes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = _database_url(args.url, Path(tmp))
        engine = get_engine(url)
        proc = psutil.Process()
        gc.collect()
        rss_before = proc.memory_info().rss
        t0 = time.perf_counter()
        resolver = LocationResolver.from_engine(engine)
        load_s = time.perf_counter() - t0
        gc.collect()
        rss_growth = proc.memory_info().rss - rss_before

        no_place, mentions = _load_sets()
        texts = _timing_messages(no_place, mentions)
        for text in texts:  # warm-up: connection pool, lazy tables
            resolver.resolve(text)
        samples: list[float] = []
        for _ in range(args.repeat):
            for text in texts:
                t = time.perf_counter()
                resolver.resolve(text)
                samples.append((time.perf_counter() - t) * 1000)
        samples.sort()

        false_pos = [m for m in no_place if resolver.resolve(m).candidates]
        wrong = []
        for row in mentions:
            result = resolver.resolve(
                row["text"], expecting_place=row["expecting_place"] == "1"
            )
            if _outcome(result) != row["expected"]:
                wrong.append((row["text"], row["expected"], _outcome(result)))
        engine.dispose()

    report = {
        "names_indexed": len(resolver.gazetteer.names),
        "load_s": round(load_s, 2),
        "rss_growth_mb": round(rss_growth / 2**20, 1),
        "messages_timed": len(texts),
        "timings": len(samples),
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
        "max_ms": round(samples[-1], 3),
        "false_positive_rate": round(len(false_pos) / len(no_place), 4),
        "no_place_messages": len(no_place),
        "accuracy": round(1 - len(wrong) / len(mentions), 4),
        "labelled_mentions": len(mentions),
        "false_positives": false_pos,
        "wrong": wrong,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("# Location resolver benchmark\n")
    print("| measure | value |\n| --- | --- |")
    for key in (
        "names_indexed",
        "load_s",
        "rss_growth_mb",
        "messages_timed",
        "timings",
        "median_ms",
        "p95_ms",
        "max_ms",
        "false_positive_rate",
        "no_place_messages",
        "accuracy",
        "labelled_mentions",
    ):
        print(f"| {key} | {report[key]} |")
    for text in false_pos:
        print(f"\nfalse positive: {text!r}")
    for text, expected, got in wrong:
        print(f"\nwrong: {text!r} expected {expected}, got {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
