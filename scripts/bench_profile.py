"""Where the time goes under load: py-spy samples of each service, summarised."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scripts.report_common import ROOT

RATE_HZ = 97
_PATH_MARKERS = ("site-packages/", f"{ROOT}/", "lib/python3.10/", "lib/python3.11/")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


def find_py_spy() -> str | None:
    """Return py-spy's path if installed (PATH or the app environment)."""
    found = shutil.which("py-spy")
    if found:
        return found
    local = ROOT / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else None


def _short(frame: str) -> str:
    """Shorten "func (/long/path/site-packages/pkg/mod.py:12)" to "pkg/mod.py:func"."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in _PATH_MARKERS:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{m.group('func')}"


@dataclass
class Profile:
    """Summed py-spy samples of one process."""

    samples: int = 0
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def parse_collapsed(text: str) -> Profile:
    """Sum py-spy's raw (collapsed) output: "f1;f2;...;fn count" per line."""
    prof = Profile()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        # py-spy may prefix a "process"/"thread" pseudo-frame
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        prof.samples += n
        prof.self_time[frames[-1]] += n
        for f in set(frames):
            prof.inclusive[f] += n
    return prof


def top_lines(prof: Profile, n: int = 10, *, skip_over: float = 0.9) -> list[str]:
    """Return the top inclusive functions, leaving out plumbing seen in ~every stack."""
    if not prof.samples:
        return []
    rows = []
    for func, count in prof.inclusive.most_common():
        share = count / prof.samples
        if share >= skip_over:
            continue
        rows.append(f"{share:5.1%}  {func}")
        if len(rows) >= n:
            break
    return rows


async def record(
    py_spy: str, pids: dict[str, int], seconds: float, out_dir: Path
) -> dict[str, Profile]:
    """Sample each process for ``seconds`` (non-blocking) and return the profiles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, pid in pids.items():
        path = out_dir / f"profile-{name}.txt"
        path.unlink(missing_ok=True)
        procs[name] = (
            await asyncio.create_subprocess_exec(
                py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                "--rate", str(RATE_HZ), "--format", "raw", "--nonblocking",
                "--subprocesses",  # Sanic runs the action server in a child
                "--output", str(path),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            ),
            path,
        )
    profiles: dict[str, Profile] = {}
    for name, (proc, path) in procs.items():
        try:
            _, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            continue
        if path.exists():
            profiles[name] = parse_collapsed(path.read_text(errors="replace"))
        elif err:
            profiles[name] = Profile()
    return profiles
