"""Run in the Rasa environment by test_featurizers.py: prints one JSON report.

    .venv-rasa/bin/python tests/rasa_addons/featurizer_probe.py dense|static|hash|parse

Each mode exercises the real components (no mocks of the model) and reports
plain numbers and strings; the assertions live in the test module.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from rasa_addons import minilm  # noqa: E402

TRIPLE = [
    "we need volunteers for our litter pick",
    "looking for helpers to pick up rubbish in the park",
    "how do we register as a charity",
]
WORDS = "our village hall needs new trustees and a treasurer before spring".split()
ALIGN = [
    "Hi!! Can we claim Gift Aid on raffle tickets???",
    "litter-pick on Sunday 😀 at 10:30, bring gloves (and bags).",
    "😀😀",
    "safeguarding... policy?! e.g. for under-18s & volunteers",
    " ".join(WORDS[i % len(WORDS)] for i in range(500)),
]


def tokenized(texts: List[str]) -> List[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    messages = [Message.build(text=t) for t in texts]
    tokenizer.process(messages)
    return messages


def naive_pool(spans: List[List[int]], offsets: Any, vectors: Any) -> Any:
    """The alignment written the slow, obvious way, to check pool_words."""
    out = np.zeros((len(spans), vectors.shape[1]), np.float32)
    for j, (start, end) in enumerate(spans):
        rows = [
            i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start
        ]
        if rows:
            out[j] = vectors[rows].mean(axis=0)
    return out


def report(featurizer: Any) -> Dict[str, Any]:
    """Features of the triple and of the alignment messages, as numbers."""
    out: Dict[str, Any] = {}
    messages = tokenized(TRIPLE)
    featurizer.process(messages)
    sentences = [m.get_dense_features("text")[1].features for m in messages]
    out["sentence_shapes"] = [list(s.shape) for s in sentences]
    out["norms"] = [float(np.linalg.norm(s)) for s in sentences]
    v = np.concatenate(sentences)
    out["cosines"] = {"ab": float(v[0] @ v[1]), "ac": float(v[0] @ v[2]),
                      "bc": float(v[1] @ v[2])}  # fmt: skip
    out["align"] = []
    messages = tokenized(ALIGN)
    featurizer.process(messages)
    embedded = featurizer.embed(ALIGN)
    for message, (_, offsets, vectors) in zip(messages, embedded, strict=True):
        sequence, sentence = message.get_dense_features("text")
        spans = [[t.start, t.end] for t in message.get("text_tokens")]
        zero = np.abs(sequence.features).sum(axis=1) == 0
        expected = naive_pool(spans, offsets.tolist(), vectors)
        out["align"].append({
            "tokens": [t.text for t in message.get("text_tokens")],
            "sequence_shape": list(sequence.features.shape),
            "sentence_shape": list(sentence.features.shape),
            "zero_rows": [int(i) for i in np.flatnonzero(zero)],
            "max_abs_vs_naive": float(np.abs(sequence.features - expected).max()),
            "subwords": int(len(offsets)),
        })  # fmt: skip
    return out


def dense() -> Dict[str, Any]:
    """The default featurizer (ONNX Runtime, int8), checked against TensorFlow."""
    import tensorflow as tf

    from rasa_addons.dense_featurizer import MiniLMFeaturizer

    featurizer = MiniLMFeaturizer({}, "probe_dense")
    out = report(featurizer)
    out["runtime"] = featurizer.runtime
    out["quantize"] = featurizer._config["quantize"]
    reference = MiniLMFeaturizer({"runtime": "tensorflow"}, "probe_tf")
    fp32 = MiniLMFeaturizer({"quantize": False}, "probe_fp32")
    texts = TRIPLE + ALIGN
    # each against transformers' plain eager TFBertModel on unpadded input
    diffs: Dict[str, List[float]] = {"tf_graph": [], "onnx_fp32": [], "tf_hidden": [],
                                     "onnx_fp32_hidden": []}
    cosines: List[float] = []
    for text, graph, onnx32, onnx8 in zip(
        texts, reference.embed(texts), fp32.embed(texts), featurizer.embed(texts),
        strict=True,
    ):
        enc = reference._tokenizer.encode(text)
        ids = tf.constant([enc.ids], tf.int32)
        hidden = reference.model(input_ids=ids, training=False).last_hidden_state
        hidden = hidden.numpy()[0]
        eager = hidden.mean(axis=0)
        eager = eager / np.linalg.norm(eager)
        keep = np.flatnonzero(np.array(enc.special_tokens_mask) == 0)
        diffs["tf_graph"].append(float(np.abs(eager - graph[0]).max()))
        diffs["tf_hidden"].append(float(np.abs(hidden[keep] - graph[2]).max()))
        diffs["onnx_fp32"].append(float(np.abs(eager - onnx32[0]).max()))
        diffs["onnx_fp32_hidden"].append(float(np.abs(hidden[keep] - onnx32[2]).max()))
        cosines.append(float(eager @ onnx8[0]))
    out["max_abs"] = {k: max(v) for k, v in diffs.items()}
    out["int8_cosine_min"] = min(cosines)
    # one batch (padded to its longest) gives what one text at a time gives
    alone = [featurizer.embed([t])[0][0] for t in texts]
    batched = [r[0] for r in featurizer.embed(texts)]
    out["batch_vs_alone_max_abs"] = max(
        float(np.abs(a - b).max()) for a, b in zip(alone, batched, strict=True))
    reference.process(tokenized([f"message {i} " * i for i in range(1, 80, 7)]))
    out["traces"] = reference.traces
    out["buckets"] = reference._config["buckets"]
    out["fingerprints"] = sorted({
        MiniLMFeaturizer.fingerprint_addon(c)
        for c in ({}, {"quantize": False}, {"runtime": "tensorflow"})
    })
    return out


def static() -> Dict[str, Any]:
    """Load the static featurizer from a model `rasa train` made (path in argv)."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    from rasa_addons.static_featurizer import MiniLMStaticFeaturizer as Static

    storage, metadata = LocalModelStorage.from_model_archive(
        Path(tempfile.mkdtemp()), Path(sys.argv[2])
    )
    schema = metadata.predict_schema
    name, node = next((n, x) for n, x in schema.nodes.items() if x.uses is Static)
    context = ExecutionContext(schema, node_name=name)
    featurizer = Static.load(node.config, storage, node.resource, context)
    out = report(featurizer)
    # a token's row is the mean of its own word pieces' rows
    tokenizer = featurizer._tokenizer
    message = tokenized(["Volunteering opportunities for teenagers"])[0]
    featurizer.process([message])
    rows = message.get_dense_features("text")[0].features
    alone = [
        featurizer._matrix[tokenizer.encode(t.text, add_special_tokens=False).ids]
        .astype(np.float32)
        .mean(axis=0)
        for t in message.get("text_tokens")
    ]
    out["word_alone_max_abs"] = float(np.abs(rows - np.stack(alone)).max())
    out["matrix_shape"] = list(featurizer._matrix.shape)
    return out


def expect_error(start: Callable[[Dict[str, Any]], Any], config: Dict[str, Any]) -> str:
    try:
        start(config)
    except minilm.MiniLMError as e:
        return f"MiniLMError: {e}"
    return "no error"


def hash_checks() -> Dict[str, Any]:
    from rasa_addons.dense_featurizer import MiniLMFeaturizer
    from rasa_addons.static_featurizer import MiniLMStaticFeaturizer, distil

    real = minilm.model_dir({})
    fake = Path(tempfile.mkdtemp())
    (fake / minilm.WEIGHTS_FILE).write_bytes(b"not the weights")
    (fake / minilm.TOKENIZER_FILE).write_bytes(
        (real / minilm.TOKENIZER_FILE).read_bytes()
    )
    empty = Path(tempfile.mkdtemp())
    # what each featurizer does first when trained: both check the weights
    starts: Dict[Any, Callable[[Dict[str, Any]], Any]] = {
        MiniLMFeaturizer: lambda c: MiniLMFeaturizer(c, "probe"),
        MiniLMStaticFeaturizer: lambda c: distil(c, dims=8, sif=1e-4),
    }
    out: Dict[str, Any] = {}
    for cls, start in starts.items():
        base = cls.get_default_config()
        out[cls.__name__] = {
            "fingerprint": cls.fingerprint_addon(base),
            "fingerprint_again": cls.fingerprint_addon(dict(base)),
            "fingerprint_other_file": cls.fingerprint_addon(
                {**base, "model_dir": fake}
            ),
            "wrong_pin": expect_error(start, {**base, "weights_sha256": "0" * 64}),
            "other_file": expect_error(start, {**base, "model_dir": fake}),
            "missing_file": expect_error(start, {**base, "model_dir": empty}),
        }
    real_find_spec = minilm.importlib.util.find_spec
    minilm.importlib.util.find_spec = lambda name, *a: (  # type: ignore[assignment]
        None if name == minilm.PACKAGE else real_find_spec(name, *a)
    )
    out["package_missing"] = expect_error(
        MiniLMFeaturizer.fingerprint_addon, MiniLMFeaturizer.get_default_config()
    )
    minilm.importlib.util.find_spec = real_find_spec
    out["pinned"] = minilm.WEIGHTS_SHA256
    out["actual"] = minilm.file_sha256(real / minilm.WEIGHTS_FILE)
    return out


def parse() -> Dict[str, Any]:
    """Parse messages with a model trained by `rasa train nlu` (path in argv)."""
    import asyncio

    from rasa.core.agent import Agent

    agent = Agent.load(sys.argv[2])
    texts = sys.argv[3:]
    results = [asyncio.run(agent.parse_message(t)) for t in texts]
    return {"intents": [r["intent"]["name"] for r in results]}


if __name__ == "__main__":
    modes = {"dense": dense, "static": static, "hash": hash_checks, "parse": parse}
    print("PROBE-JSON " + json.dumps(modes[sys.argv[1]]()))
