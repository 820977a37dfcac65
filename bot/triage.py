"""`make triage`: JSON Lines in, one triage result per line out, in order.

The NLU and dialogue prediction run in the Rasa environment with the same trained
model as the server (rasa_addons/triage_worker.py, a child process); the place
and its organisations come from the directory and resolver, as in the actions.
No running services are needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bot import language
from bot.db.session import session_scope
from bot.directory.resolver import get_resolver
from bot.directory.service import organisations_for_lad
from bot.runner import child_env
from bot.settings import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
MODEL = PROJECT_ROOT / "models" / "frontdoor.tar.gz"
MAX_TEXT = 5000


def parse_line(line: str) -> tuple[Any, str | None, str | None]:
    """Return (id, text, error) for one input line."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"not valid JSON: {exc.msg}"
    if not isinstance(request, dict):
        return None, None, "each line must be a JSON object"
    rid = request.get("id")
    text = request.get("text")
    if not isinstance(text, str):
        return rid, None, 'missing "text" (a string)'
    if not text.strip():
        return rid, None, '"text" is empty'
    return rid, text[:MAX_TEXT], None


def start_worker(model: Path = MODEL) -> subprocess.Popen[str]:
    """Start the Rasa-side worker with the trained model."""
    if not model.exists():
        raise SystemExit(f"error: no trained model at {model}; run `make model` first")
    return subprocess.Popen(  # noqa: S603 (fixed argv, our own interpreter)
        [str(RASA_PYTHON), "-m", "rasa_addons.triage_worker", str(model)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
        env=child_env(),
    )


def classify(
    texts: list[tuple[int, str]], model: Path = MODEL
) -> dict[int, dict[str, Any]]:
    """Return the worker's result for each (index, text), keyed by index."""
    worker = start_worker(model)
    assert worker.stdin is not None and worker.stdout is not None

    def feed(stdin: TextIO) -> None:
        for i, text in texts:
            stdin.write(json.dumps({"id": i, "text": text}) + "\n")
        stdin.close()

    writer = threading.Thread(target=feed, args=(worker.stdin,), daemon=True)
    writer.start()
    results: dict[int, dict[str, Any]] = {}
    for line in worker.stdout:
        result = json.loads(line)
        results[int(result.pop("id"))] = result
    writer.join()
    if worker.wait() != 0 and len(results) < len(texts):
        raise SystemExit("error: the Rasa triage worker stopped; try `make model`")
    return results


def organisations_by_lad(lad_codes: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Return the recommended organisations (name, website) for each LAD."""
    out: dict[str, list[dict[str, Any]]] = {}
    with session_scope() as session:
        for code in set(lad_codes):
            area = organisations_for_lad(session, lad_code=code)
            out[code] = (
                [{"name": o.name, "website": o.website} for o in area.recommended]
                if area
                else []
            )
    return out


def triage(lines: Iterable[str], model: Path = MODEL) -> Iterator[dict[str, Any]]:
    """Yield one triage result per non-blank input line, in order."""
    parsed = [parse_line(line) for line in lines if line.strip()]
    good = [(i, text) for i, (_rid, text, err) in enumerate(parsed) if err is None]
    nlu = classify([(i, t) for i, t in good if t is not None], model) if good else {}
    resolver = get_resolver()
    places: dict[int, str | None] = {}
    for i, text in good:
        assert text is not None
        result = resolver.resolve(text)
        best = result.best
        places[i] = best.lad_code if best is not None else None
    orgs = organisations_by_lad(code for code in places.values() if code)
    for i, (rid, text, err) in enumerate(parsed):
        if err is not None:
            yield {"id": rid, "error": err}
            continue
        r = nlu.get(i)
        if r is None or "error" in r:
            yield {"id": rid, "error": (r or {}).get("error", "not classified")}
            continue
        lad = places.get(i)
        assert text is not None
        yield {
            "id": rid,
            "topic": r["topic"],
            "confidence": r["confidence"],
            "handoff": r["handoff"],
            "urgent": bool(r.get("urgent")),
            "intent": r.get("intent"),
            "subtopic": r.get("subtopic"),
            "lad_code": lad,
            "organisations": orgs.get(lad, []) if lad else [],
            "language": language.detect(text).language,
        }


def main() -> None:
    """Read JSON Lines from stdin and write results to stdout."""
    for result in triage(sys.stdin):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
