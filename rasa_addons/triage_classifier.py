"""Front Door's intent classifier: TF-IDF + dense embeddings, four heads.

The model itself (features, heads, decision) is rasa_addons/triage_model.py;
this module is the Rasa graph component around it.

Why not DIET: on held-out data DIET gave confidences of 1.0 to messages it had
never seen anything like ("is fortnite down" -> funding), so no fallback
threshold could keep off-topic messages out; logistic regression's probabilities
fall when a message is unlike the training data (the bake-off in
docs/evaluation.md compares both on the dev and test splits).

Output, beside Rasa's usual ``intent`` and ``intent_ranking``:
- ``response_selector``: the subtopic where Rasa's ResponseSelector would put
  it, so the retrieval actions (utter_funding) and custom actions read it as
  usual (this component replaces the ResponseSelector);
- ``triage``: ``urgent`` (someone at risk: intent report_risk), ``person``
  (asked for a person: intent request_human), the ``topic``/``subtopic`` the
  message is about even when it asks for a person, and each head's confidence.

The risk phrase file is read at training time, stored in the model and hashed
into the component's fingerprint, so a change to it always retrains.
"""

from __future__ import annotations

import hashlib
import logging
import pickle  # noqa: S403 (loads only the model file this component wrote)
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_RESPONSE_KEY,
    METADATA,
    METADATA_EXAMPLE,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.triage_model import (
    Config,
    Decision,
    Example,
    TriageModel,
    decide,
    read_patterns,
)

logger = logging.getLogger(__name__)

TRIAGE_KEY = "triage"


class MissingTrainingInput(InvalidConfigException):
    """A file the component trains from is missing: training stops, and Rasa
    shows this message rather than a wrapped graph error."""


def _patterns_path(config: Dict[Text, Any]) -> Path:
    return Path(str(config.get("risk_patterns_file") or ""))


def _dense(messages: List[Message]) -> Optional[np.ndarray]:
    """The dense sentence features of each message (all or none), as rows."""
    rows = []
    for message in messages:
        _, sentence = message.get_dense_features(TEXT)
        rows.append(None if sentence is None else np.asarray(sentence.features))
    if all(r is None for r in rows):
        return None
    if any(r is None for r in rows):
        raise ValueError("some messages have dense features and some don't")
    return np.vstack([r.reshape(1, -1) for r in rows])  # type: ignore[union-attr]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class TriageClassifier(GraphComponent, IntentClassifier):
    """Sets intent, intent_ranking, response_selector and triage."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        defaults = Config()
        return {
            **{k: getattr(defaults, k) for k in defaults.__dataclass_fields__},
            "ranking_length": 10,
            "risk_patterns_file": "data/nlu/lookups/risk_phrases.txt",
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "scipy", "numpy"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The phrase file's content is part of what the model is trained from."""
        path = _patterns_path({**cls.get_default_config(), **config})
        if not path.is_file():
            return f"missing:{path}"
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[TriageModel] = None,
        responses: Optional[Dict[str, List[Dict[str, Any]]]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._settings = Config.from_dict(self._config)
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._responses = responses or {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TriageClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        path = _patterns_path(self._config)
        if not path.is_file():
            raise MissingTrainingInput(
                f"risk phrase file {path} not found: the safety net cannot be "
                "trained without it (set risk_patterns_file in config.yml)"
            )
        patterns = read_patterns(path.read_text(encoding="utf-8"))
        if not patterns:
            raise MissingTrainingInput(f"risk phrase file {path} has no phrases")
        messages = [
            e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)
        ]
        dense = _dense(messages)
        examples = [
            Example(
                text=m.get(TEXT),
                intent=m.get(INTENT),
                subtopic=m.get(INTENT_RESPONSE_KEY),
                person=bool(
                    ((m.get(METADATA) or {}).get(METADATA_EXAMPLE) or {}).get("person")
                ),
                dense=None if dense is None else dense[i],
            )
            for i, m in enumerate(messages)
        ]
        if not any(e.intent == "report_risk" for e in examples):
            raise MissingTrainingInput("no report_risk examples in the training data")
        self._model = TriageModel(self._settings, patterns).fit(examples)
        self._responses = dict(training_data.responses)
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        all_scores = self._model.scores(texts, _dense(messages))
        for message, scores in zip(messages, all_scores, strict=True):
            self._set(message, decide(scores, self._settings))
        return messages

    def _set(self, message: Message, d: Decision) -> None:
        ranking = [
            {"name": n, "confidence": float(p)}
            for n, p in d.ranking[: self._config["ranking_length"]]
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
        message.set(
            TRIAGE_KEY,
            {
                "urgent": d.urgent,
                "risk_confidence": round(d.risk_confidence, 4),
                "risk_rule": d.risk_rule,
                "person": d.person,
                "person_confidence": round(d.person_confidence, 4),
                "topic": d.topic,
                "subtopic": d.subtopic,
            },
            add_to_output=True,
        )
        if d.topic is not None and d.subtopic is not None:
            self._select_response(message, d)

    def _select_response(self, message: Message, d: Decision) -> None:
        """Record the subtopic where Rasa's ResponseSelector would."""
        assert d.topic is not None
        utter = f"utter_{d.subtopic}"
        prediction = {
            RESPONSE_SELECTOR_PREDICTION_KEY: {
                RESPONSE_SELECTOR_RESPONSES_KEY: self._responses.get(utter, []),
                PREDICTED_CONFIDENCE_KEY: d.subtopic_confidence,
                INTENT_RESPONSE_KEY: d.subtopic,
                RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter,
            },
            RESPONSE_SELECTOR_RANKING_KEY: [
                {INTENT_RESPONSE_KEY: k, PREDICTED_CONFIDENCE_KEY: float(p)}
                for k, p in d.subtopic_ranking
            ],
        }
        properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
        properties[d.topic] = prediction
        message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            with (model_dir / "triage.pkl").open("wb") as fh:
                pickle.dump({"model": self._model, "responses": self._responses}, fh)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TriageClassifier":
        try:
            with model_storage.read_from(resource) as model_dir:
                with (model_dir / "triage.pkl").open("rb") as fh:
                    saved = pickle.load(fh)  # noqa: S301 (our own model file)
        except (ValueError, FileNotFoundError):
            logger.warning("no trained %s found; it will predict nothing", cls.__name__)
            return cls(config, model_storage, resource)
        return cls(
            config, model_storage, resource, saved["model"], saved.get("responses")
        )
