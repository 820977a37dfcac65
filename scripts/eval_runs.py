"""The measurements behind `make eval`: places and the `make triage` contract.

Each ``run_*`` function does one measurement and returns its raw outcome; the
figures and the report are made from them in scripts/eval_report.py.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts import nlu_metrics as m
from scripts.report_common import DOCS, ROOT

TEST_DIR = ROOT / "tests" / "nlu"
TRAIN_DIR = ROOT / "data" / "nlu"
PLACES_CSV = ROOT / "tests" / "directory" / "place_mentions.csv"
NO_PLACE_TXT = ROOT / "tests" / "directory" / "no_place_messages.txt"
TRIAGE_SAMPLE = DOCS / "triage-sample.jsonl"
CONFIG = ROOT / "config.yml"
SPEED_LINES = 2000

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


# ----------------------------------------------------------------------- data


@dataclass(frozen=True)
class Example:
    """One labelled message: base intent and, for retrieval intents, subtopic."""

    text: str
    intent: str
    subtopic: str | None


def parse_nlu(text: str) -> list[Example]:
    """Parse one Rasa NLU YAML document into examples (entity markup removed)."""
    out: list[Example] = []
    doc = yaml.safe_load(text) or {}
    for item in doc.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        base, sub = m.split_intent(str(item["intent"]))
        for line in str(item.get("examples") or "").splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            example = _ANNOTATION.sub(r"\1", line[2:].strip())
            if example:
                out.append(Example(example, base, sub))
    return out


def read_nlu(paths: Sequence[Path]) -> list[Example]:
    """Read Rasa NLU YAML files into examples."""
    return [e for path in paths for e in parse_nlu(path.read_text(encoding="utf-8"))]


def fallback_config() -> tuple[float, float]:
    """Return the FallbackClassifier's (threshold, ambiguity_threshold)."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for step in config.get("pipeline") or []:
        if step.get("name") == "FallbackClassifier":
            return float(step.get("threshold", 0.3)), float(
                step.get("ambiguity_threshold", 0.1)
            )
    return 0.0, 0.0


# ------------------------------------------------------------------- locations


@dataclass
class PlaceRun:
    """Resolver accuracy on labelled mentions and false positives on no-place text."""

    total: int = 0
    right: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [right, n]
    wrong: list[tuple[str, str, str]] = field(default_factory=list)
    no_place: int = 0
    false_positives: list[str] = field(default_factory=list)
    note: str = ""


def _outcome(result: Any) -> str:
    # as scripts/bench_resolver.py scores it
    if result.best is None:
        return "AMBIGUOUS" if result.candidates else "NONE"
    return result.best.lad_code or f"AREA:{result.best.name}"


def _resolver_database() -> tuple[str | None, tempfile.TemporaryDirectory[str] | None]:
    """Return the configured database if its directory is loaded, else a temp one."""
    from sqlalchemy import func, select

    from bot.db.models import LocalAuthority
    from bot.db.session import session_scope

    try:
        with session_scope() as session:
            if session.scalar(select(func.count()).select_from(LocalAuthority)):
                return None, None
    except Exception:  # noqa: BLE001, S110 (any failure: use a temporary copy)
        pass
    from bot.db.migrate import upgrade
    from bot.directory.importer import import_directory
    from bot.settings import DIRECTORY_DATA_DIR

    tmp = tempfile.TemporaryDirectory(prefix="fd-eval-")
    url = f"sqlite:///{tmp.name}/eval.db"
    upgrade(url)
    with session_scope(url) as session:
        import_directory(session, DIRECTORY_DATA_DIR)
    return url, tmp


def run_places() -> PlaceRun:
    """Score bot.directory.resolver on tests/directory's labelled files."""
    run = PlaceRun()
    if not PLACES_CSV.exists() or not NO_PLACE_TXT.exists():
        run.note = "labelled place files not found"
        return run
    from bot.db.session import session_scope
    from bot.directory.resolver import LocationResolver

    url, tmp = _resolver_database()
    try:
        with session_scope(url) as session:
            resolver = LocationResolver.from_session(session)
            with PLACES_CSV.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    expected = row["expected"].strip()
                    result = resolver.resolve(
                        row["text"],
                        expecting_place=(row.get("expecting_place") or "") == "1",
                    )
                    got = _outcome(result)
                    kind = expected if expected in ("AMBIGUOUS", "NONE") else "LAD code"
                    tally = run.by_kind.setdefault(kind, [0, 0])
                    tally[1] += 1
                    run.total += 1
                    if got == expected:
                        run.right += 1
                        tally[0] += 1
                    else:
                        run.wrong.append((row["text"], expected, got))
            lines = NO_PLACE_TXT.read_text(encoding="utf-8").splitlines()
            texts = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
            run.no_place = len(texts)
            run.false_positives = [t for t in texts if resolver.resolve(t).candidates]
    finally:
        if tmp is not None:
            tmp.cleanup()
    return run


# ---------------------------------------------------------------------- triage

GOOD_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str, int, type(None)),
    "topic": (str,),
    "confidence": (float, int),
    "handoff": (bool,),
    "urgent": (bool,),
    "intent": (str, type(None)),
    "subtopic": (str, type(None)),
    "lad_code": (str, type(None)),
    "organisations": (list,),
    "language": (str,),
}


@dataclass
class TriageRun:
    """One `make triage` run: its lines, output, time and contract problems."""

    inputs: list[str]
    outputs: list[dict[str, Any]]
    seconds: float
    returncode: int
    problems: list[str] = field(default_factory=list)
    stderr_tail: str = ""


def make_triage(lines: Sequence[str], timeout: float = 600.0) -> TriageRun:
    """Run `make triage` with ``lines`` on stdin; time it and parse its output."""
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 (fixed argv)
        ["make", "--no-print-directory", "triage"],  # noqa: S607
        input=data, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
    )
    seconds = time.perf_counter() - started
    outputs: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, out in enumerate(proc.stdout.splitlines(), 1):
        try:
            obj = json.loads(out)
        except json.JSONDecodeError:
            problems.append(f"output line {n} is not JSON: {out[:80]!r}")
            continue
        outputs.append(obj if isinstance(obj, dict) else {"_not_object": obj})
    run = TriageRun(list(lines), outputs, seconds, proc.returncode, problems)
    run.stderr_tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
    return run


def expected_for(line: str) -> tuple[Any, bool]:
    """Return (id, is_error) that the contract promises for one input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None, True
    if not isinstance(obj, dict):
        return None, True
    text = obj.get("text")
    return obj.get("id"), not (isinstance(text, str) and text.strip())


def check_contract(run: TriageRun) -> list[str]:
    """Return the ways ``run`` breaks the contract (empty when it keeps it)."""
    problems = list(run.problems)
    inputs = [line for line in run.inputs if line.strip()]
    if run.returncode != 0:
        problems.append(f"exit status {run.returncode}")
    if len(run.outputs) != len(inputs):
        problems.append(f"{len(inputs)} input lines but {len(run.outputs)} outputs")
    for n, (line, out) in enumerate(zip(inputs, run.outputs, strict=False), 1):
        rid, is_error = expected_for(line)
        if out.get("id") != rid:
            problems.append(f"line {n}: id {out.get('id')!r}, expected {rid!r}")
        if is_error:
            if not isinstance(out.get("error"), str):
                problems.append(f"line {n}: expected an error message")
            continue
        if "error" in out:
            problems.append(f"line {n}: unexpected error {out['error']!r}")
            continue
        for key, types in GOOD_FIELDS.items():
            if key not in out:
                problems.append(f"line {n}: missing {key!r}")
            elif not isinstance(out[key], types) or (
                key == "confidence" and isinstance(out[key], bool)
            ):
                problems.append(f"line {n}: {key!r} is {type(out[key]).__name__}")
        if out.get("language") not in ("en", "cy"):
            problems.append(f"line {n}: language {out.get('language')!r}")
        if out.get("topic") not in (*m.TOPICS, m.OTHER):
            problems.append(f"line {n}: topic {out.get('topic')!r}")
        conf = out.get("confidence")
        if isinstance(conf, int | float) and not 0.0 <= conf <= 1.0:
            problems.append(f"line {n}: confidence {conf} outside 0..1")
        for org in out.get("organisations") or []:
            if not isinstance(org, dict) or not isinstance(org.get("name"), str):
                problems.append(f"line {n}: organisation without a name")
                break
    return problems




@dataclass
class Evaluation:
    """Everything one `make eval` run measured."""

    threshold: float
    ambiguity: float
    nlu_markdown: str
    places: PlaceRun
    sample: TriageRun
    speed: TriageRun | None
