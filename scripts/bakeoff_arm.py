"""One arm of the NLU bake-off, in the Rasa environment (Python 3.10).

    .venv-rasa/bin/python -m scripts.bakeoff_arm CONFIG.yml OUT.json

Trains an NLU-only model from data/nlu with the pipeline in CONFIG.yml (Rasa's
own `rasa train nlu`), loads it, and parses every dev and test message one at a
time, timing each parse. Writes the training time, the process's resident memory
before and after loading the model, and the parse results to OUT.json.
scripts/bakeoff.py runs each arm in its own process and scores them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List


def rss_mb() -> float:
    """This process's resident set size in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")


async def parse_all(agent: Any, texts: List[str]) -> List[Dict[str, Any]]:
    out = []
    for text in texts:
        t0 = time.perf_counter()
        parse = await agent.parse_message(text)
        ms = (time.perf_counter() - t0) * 1000
        selectors = parse.get("response_selector") or {}
        subtopics = {
            topic: ((sel.get("response") or {}).get("intent_response_key") or "")
            for topic, sel in selectors.items()
            if isinstance(sel, dict)
        }
        out.append({
            "intent": (parse.get("intent") or {}).get("name"),
            "confidence": float((parse.get("intent") or {}).get("confidence") or 0),
            "ranking": [
                [r.get("name"), float(r.get("confidence") or 0)]
                for r in (parse.get("intent_ranking") or [])[:5]
            ],
            "triage": parse.get("triage"),
            "subtopics": subtopics,
            "ms": ms,
        })
    return out


def main(config: str, out_path: str) -> None:
    _quiet()
    from scripts.nlu_data import ROOT, load_splits

    os.chdir(ROOT)
    splits = load_splits()
    import subprocess

    with tempfile.TemporaryDirectory(prefix="fd-bakeoff-") as tmp:
        # trained in a child process, so this one's memory is the served model's
        t0 = time.perf_counter()
        subprocess.run(  # noqa: S603 (fixed argv, our own interpreter)
            [str(Path(sys.executable).parent / "rasa"), "train", "nlu",
             "--config", config, "--nlu", "data/nlu", "--out", tmp,
             "--fixed-model-name", "arm"],
            check=True, stdout=subprocess.DEVNULL,
        )
        train_s = time.perf_counter() - t0
        model = str(Path(tmp) / "arm.tar.gz")
        from rasa.core.agent import Agent

        before = rss_mb()
        agent = Agent.load(model)
        loaded = rss_mb()
        # warm-up (first parse traces graphs, fills caches): not timed
        asyncio.run(parse_all(agent, ["hello", "how do we claim gift aid"] * 3))
        dev = asyncio.run(parse_all(agent, [e.text for e in splits.dev]))
        test = asyncio.run(parse_all(agent, [e.text for e in splits.test]))
        after = rss_mb()
        size_mb = Path(model).stat().st_size / 1e6
    Path(out_path).write_text(json.dumps({
        "config": config,
        "train_seconds": train_s,
        "rss_before_load_mb": before,
        "rss_loaded_mb": loaded,
        "rss_after_mb": after,
        "model_mb": size_mb,
        "dev": dev,
        "test": test,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
