"""Latency, memory and training cost of the MiniLM featurizers (docs/featurizers.md).

Run in the Rasa environment, one featurizer per process so memory figures are
its own:

    .venv-rasa/bin/python -m scripts.bench_featurizers dense
    .venv-rasa/bin/python -m scripts.bench_featurizers static

Prints one JSON object. Messages: 150 held-out test messages (tests/nlu) as
they are, and 50 long ones made by joining 4-12 of them (about 30-110 words).
Training: the first 6,000 examples of data/nlu.
"""

from __future__ import annotations

import glob
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


TRIPLE = [
    "we need volunteers for our litter pick",
    "looking for helpers to pick up rubbish in the park",
    "how do we register as a charity",
]


def rss_mb() -> float:
    """Resident memory of this process now (MB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Highest resident memory of this process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def examples(pattern: str) -> List[Any]:
    from rasa.shared.nlu.training_data.loading import load_data

    found = []
    for path in sorted(glob.glob(str(ROOT / pattern))):
        found += [e for e in load_data(path).intent_examples if e.get("text")]
    return found


def messages() -> List[str]:
    held_out = [e.get("text") for e in examples("tests/nlu/*.yml")]
    if len(held_out) < 150:
        raise SystemExit("expected at least 150 messages in tests/nlu/*.yml")
    rng = random.Random(7)  # noqa: S311 (reproducible sample, not security)
    long = [" ".join(rng.sample(held_out, rng.randint(4, 12))) for _ in range(50)]
    return held_out[:150] + long


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def static_parts(store: str) -> Tuple[Any, ...]:
    """Config, model storage, resource and context of a static featurizer."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from rasa_addons.static_featurizer import MiniLMStaticFeaturizer

    # no cache: the figure is the cost of a distillation
    config = {**MiniLMStaticFeaturizer.get_default_config(), "cache_dir": None}
    context = ExecutionContext(GraphSchema({}), node_name="bench_static")
    return config, LocalModelStorage(Path(store)), Resource("bench_static"), context


def distil_into(store: str) -> Dict[str, Any]:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from rasa_addons.static_featurizer import MiniLMStaticFeaturizer

    started = time.perf_counter()
    MiniLMStaticFeaturizer.create(*static_parts(store)).train(TrainingData([]))
    return {"distil_s": round(time.perf_counter() - started, 1),
            "distil_rss_peak_mb": round(peak_rss_mb(), 1)}  # fmt: skip


def main(which: str) -> Dict[str, Any]:
    import numpy as np
    from rasa.core.agent import Agent  # noqa: F401  (what a Rasa server has loaded)
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from rasa_addons.dense_featurizer import MiniLMFeaturizer
    from rasa_addons.static_featurizer import MiniLMStaticFeaturizer

    out: Dict[str, Any] = {"featurizer": which, "load_average": os.getloadavg()}
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    texts = messages()
    train_examples = examples("data/nlu/*.yml")[:6000]
    out["rss_before_mb"] = round(rss_mb(), 1)

    started = time.perf_counter()
    if which == "dense":
        featurizer: Any = MiniLMFeaturizer({}, "bench")
    else:
        # distilled in a child process (it loads the network), loaded here
        store = tempfile.mkdtemp()
        child = subprocess.run(  # noqa: S603 (fixed argv, our own interpreter)
            [sys.executable, "-m", "scripts.bench_featurizers", "distil", store],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        out.update(json.loads(child.stdout.strip().splitlines()[-1]))
        started = time.perf_counter()
        featurizer = MiniLMStaticFeaturizer.load(*static_parts(store))
    out["load_s"] = round(time.perf_counter() - started, 1)
    out["rss_loaded_mb"] = round(rss_mb(), 1)

    latencies, tokenizer_ms, words = [], [], []
    for text in texts:
        message = Message.build(text=text)
        t0 = time.perf_counter()
        tokenizer.process([message])
        t1 = time.perf_counter()
        featurizer.process([message])
        t2 = time.perf_counter()
        tokenizer_ms.append((t1 - t0) * 1000)
        latencies.append((t2 - t1) * 1000)
        words.append(len(message.get("text_tokens")))
    out["messages"] = len(texts)
    out["words_median_max"] = [statistics.median(words), max(words)]
    out["latency_ms"] = {
        "median": round(statistics.median(latencies), 2),
        "p95": round(percentile(latencies, 0.95), 2),
        "max": round(max(latencies), 2),
        "short_median": round(statistics.median(latencies[:150]), 2),
        "long_median": round(statistics.median(latencies[150:]), 2),
    }
    out["tokenizer_ms_median"] = round(statistics.median(tokenizer_ms), 3)
    out["rss_after_messages_mb"] = round(rss_mb(), 1)

    copies = [
        Message.build(text=e.get("text"), intent=e.get("intent"))
        for e in train_examples
    ]
    data = TrainingData(copies)
    tokenizer.process_training_data(data)
    started = time.perf_counter()
    featurizer.process_training_data(data)
    out["train_examples"] = len(copies)
    out["featurize_training_s"] = round(time.perf_counter() - started, 1)
    out["rss_end_mb"] = round(rss_mb(), 1)
    out["rss_peak_mb"] = round(peak_rss_mb(), 1)

    # how much intent signal the sentence vectors carry alone (5-fold, training data)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x = np.concatenate([m.get_dense_features("text")[1].features for m in copies])
    y = [m.get("intent") for m in copies]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    model = LogisticRegression(C=10, max_iter=3000)
    out["sentence_lr_5fold_accuracy"] = round(
        float(cross_val_score(model, x, y, cv=folds).mean()), 3
    )
    triple = [Message.build(text=t) for t in TRIPLE]
    tokenizer.process(triple)
    featurizer.process(triple)
    v = np.concatenate([m.get_dense_features("text")[1].features for m in triple])
    out["triple_cosines"] = [round(float(v[0] @ v[i]), 3) for i in (1, 2)] + [
        round(float(v[1] @ v[2]), 3)
    ]
    out["load_average_end"] = os.getloadavg()
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["distil"]:
        print(json.dumps(distil_into(sys.argv[2])))
    else:
        print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "dense")))
