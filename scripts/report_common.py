"""Shared pieces of the `make eval` and `make bench` reports: provenance, targets."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
IMG = DOCS / "img"
TRAIN_SECONDS = ROOT / "models" / ".train-seconds"


def git_commit() -> str:
    """Return the short commit the report was made from (+ "dirty" if so)."""
    try:
        sha = subprocess.run(  # noqa: S603 (fixed argv)
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha} (working tree had uncommitted changes)" if dirty else sha


def now_utc() -> str:
    """Return the current time, UTC, to the minute."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def training_seconds() -> int | None:
    """Return the last training time of the model in seconds, if recorded."""
    try:
        return int(TRAIN_SECONDS.read_text().strip())
    except (OSError, ValueError):
        return None


def machine() -> str:
    """Describe the machine in one line: CPU cores, memory, OS, Python."""
    mem = psutil.virtual_memory().total / 2**30
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {mem:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


@dataclass(frozen=True)
class Target:
    """A figure the project aims for: at least (``higher``) or at most ``limit``."""

    limit: float
    higher: bool = True

    def met(self, value: float) -> bool:
        return value >= self.limit if self.higher else value <= self.limit

    def verdict(self, value: float, fmt: str = "{:.3f}") -> str:
        """Say whether ``value`` meets the target, and if not by how much it misses."""
        if self.met(value):
            return "met"
        gap = abs(value - self.limit)
        rel = f", {gap / self.limit:.0%}" if self.limit else ""
        word = "short" if self.higher else "over"
        return f"**missed** by {fmt.format(gap)} ({word}{rel})"


def pct(value: float, digits: int = 1) -> str:
    """Format a share 0..1 as a percentage."""
    return f"{value * 100:.{digits}f}%"


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)
