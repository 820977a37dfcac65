"""NLU latency of the trained model, in process, as the server runs it.

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
        .venv-rasa/bin/python -m scripts.nlu_latency [MODEL]

Loads the model (the server's settings: TensorFlow on one thread, as
bot/runner.py starts Rasa), parses every dev message once, one at a time after a
warm-up, and writes the median and 95th percentile per message, the resident
memory the model adds and the machine's load to docs/nlu/latency.json, which
`make eval` shows. Run it on a quiet machine: the figure is a speed target.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys

from scripts.bakeoff_arm import _quiet, parse_all, rss_mb
from scripts.nlu_data import ROOT, load_splits

OUT = ROOT / "docs" / "nlu" / "latency.json"


def main(model: str = "models/frontdoor.tar.gz") -> None:
    _quiet()
    from rasa.core.agent import Agent

    texts = [e.text for e in load_splits().dev]
    before = rss_mb()
    agent = Agent.load(model)
    loaded = rss_mb()
    asyncio.run(parse_all(agent, ["hello", "how do we claim gift aid"] * 5))
    parsed = asyncio.run(parse_all(agent, texts))
    ms = sorted(p["ms"] for p in parsed)
    result = {
        "model": model,
        "messages": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "rss_model_mb": loaded - before,
        "rss_after_mb": rss_mb(),
        "load_average": os.getloadavg(),
        "tf_intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "default"),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:2])
