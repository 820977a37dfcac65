"""The triage model without Rasa: features, four heads and the decision.

Kept free of Rasa imports so the component (rasa_addons/triage_classifier.py),
the tuning script and the unit tests share one implementation.

Features: TF-IDF over words (1-2) and characters (char_wb, typos stay close to
the right word), joined with dense sentence embeddings when a featurizer earlier
in the pipeline gave them (meaning-level: "the ladies who do the teas" lands
near "volunteers" though it shares no word with it). The dense block is scaled by
``dense_weight`` so the two kinds of evidence can be balanced on the dev split.

Heads, each a logistic regression (calibrated-ish probabilities that fall on
unfamiliar messages, which the FallbackClassifier can act on):
- intent: every intent of the training data;
- subtopic: one per retrieval intent (funding/gift_aid ...);
- person: "asks for a person", trained on request_human plus topic examples
  marked ``metadata: {person: true}`` (a call back about Gift Aid is a topic
  question *and* a request for a person);
- risk: report_risk against everything else, with the phrase rules
  (data/nlu/lookups/risk_phrases.txt) as a floor that fires whatever the
  statistics say.

Decision (``decide``): risk first, then a request for a person (keeping the
topic the message is about), then the intent head.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

TOPICS = ("funding", "governance", "volunteering")
RISK_INTENT = "report_risk"
PERSON_INTENT = "request_human"


def read_patterns(text: str) -> List[str]:
    """Return the regular expressions of a phrase file's text (comments skipped)."""
    return [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def compile_patterns(patterns: Sequence[str]) -> Optional["re.Pattern[str]"]:
    """One case-insensitive alternation on word boundaries, or None if empty."""
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


@dataclass
class Config:
    """The hyper-parameters, as in config.yml (chosen on the dev split)."""

    C: float = 10.0
    class_weight: Optional[str] = "balanced"
    word_ngram_max: int = 2
    char_ngram_min: int = 1
    char_ngram_max: int = 5
    # n-grams seen in fewer examples are dropped (fewer features: faster training)
    min_df: int = 1
    use_tfidf: bool = True
    dense_weight: float = 1.0
    max_iter: int = 3000
    person_threshold: float = 0.5
    risk_threshold: float = 0.5
    topic_keep_threshold: float = 0.3
    # the intent head's probabilities are sharpened (T < 1) or softened (T > 1)
    # by this temperature, fitted on the dev split so confidence matches accuracy
    temperature: float = 1.0

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "Config":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Example:
    """One training example: text, intent, optional subtopic, person flag."""

    text: str
    intent: str
    subtopic: Optional[str] = None
    person: bool = False
    dense: Optional[np.ndarray] = None


@dataclass
class Scores:
    """What the heads say about one message."""

    intents: List[Tuple[str, float]]  # ranked, best first
    person: float
    risk: float
    risk_rule: bool
    subtopics: Dict[str, List[Tuple[str, float]]] = field(default_factory=dict)


@dataclass
class Decision:
    """The triage of one message."""

    intent: str
    confidence: float
    ranking: List[Tuple[str, float]]
    topic: Optional[str]
    subtopic: Optional[str]
    subtopic_confidence: float
    subtopic_ranking: List[Tuple[str, float]]
    urgent: bool
    person: bool
    person_confidence: float
    risk_confidence: float
    risk_rule: bool


class Features:
    """TF-IDF (words, characters) joined with scaled dense embeddings."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.word: Optional[TfidfVectorizer] = None
        self.char: Optional[TfidfVectorizer] = None
        self.dense_dim = 0

    def fit(self, texts: Sequence[str], dense: Optional[np.ndarray]) -> "Features":
        c = self.config
        if c.use_tfidf:
            self.word = TfidfVectorizer(
                ngram_range=(1, c.word_ngram_max), sublinear_tf=True, lowercase=True,
                min_df=c.min_df,
            ).fit(texts)
            self.char = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(c.char_ngram_min, c.char_ngram_max),
                sublinear_tf=True,
                lowercase=True,
                min_df=c.min_df,
            ).fit(texts)
        self.dense_dim = 0 if dense is None else int(dense.shape[1])
        if self.word is None and not self.dense_dim:
            raise ValueError("no features: use_tfidf is off and no dense features")
        return self

    def transform(self, texts: Sequence[str], dense: Optional[np.ndarray]) -> Any:
        blocks: List[Any] = []
        if self.word is not None and self.char is not None:
            blocks += [self.word.transform(texts), self.char.transform(texts)]
        if self.dense_dim:
            if dense is None or dense.shape[1] != self.dense_dim:
                got = None if dense is None else dense.shape[1]
                raise ValueError(
                    f"trained with {self.dense_dim} dense dimensions, given {got}: "
                    "the featurizers in config.yml changed since training"
                )
            blocks.append(sp.csr_matrix(dense * self.config.dense_weight))
        return sp.hstack(blocks, format="csr")

    def rows(
        self, texts: Sequence[str], dense: Optional[np.ndarray]
    ) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Each text's non-zero features (column indices, values) of ``transform``.

        The same TF-IDF as scikit-learn's (the vectorizer's own analyzer,
        vocabulary and idf; sublinear tf; l2 norm per block), computed directly:
        scikit-learn's per-call checks, sparse-matrix assembly and ``hstack``
        cost five times the counting itself for one message, which is how Rasa
        asks (profiled: 7% of the Rasa process under load).
        """
        blocks: List[Tuple[Any, Any, Dict[str, int], np.ndarray, int]] = []
        offset = 0
        if self.word is not None and self.char is not None:
            for vec in (self.word, self.char):
                analyzer = self._analyzers().get(id(vec))
                if analyzer is None:
                    analyzer = self._analyzers()[id(vec)] = vec.build_analyzer()
                blocks.append((vec, analyzer, vec.vocabulary_, vec.idf_, offset))
                offset += len(vec.vocabulary_)
        if self.dense_dim and (dense is None or dense.shape[1] != self.dense_dim):
            self.transform(texts[:1], dense)  # raises the same error as transform
        out: List[Tuple[np.ndarray, np.ndarray]] = []
        for i, text in enumerate(texts):
            cols: List[np.ndarray] = []
            vals: List[np.ndarray] = []
            for _vec, analyzer, vocab, idf, start in blocks:
                counts: Dict[int, int] = {}
                for term in analyzer(text):
                    j = vocab.get(term)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                js = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
                tf = np.fromiter((counts[j] for j in js), dtype=np.float64,
                                 count=len(js))
                v = (np.log(tf) + 1.0) * idf[js]
                norm = float(np.sqrt(v @ v))
                if norm > 0.0:
                    v /= norm
                cols.append(js + start)
                vals.append(v)
            if self.dense_dim:
                assert dense is not None
                cols.append(np.arange(offset, offset + self.dense_dim))
                vals.append(np.asarray(dense[i], dtype=np.float64)
                            * self.config.dense_weight)
            out.append((np.concatenate(cols) if cols else np.zeros(0, np.int64),
                        np.concatenate(vals) if vals else np.zeros(0)))
        return out

    def _analyzers(self) -> Dict[int, Any]:
        # built on first use, not pickled (a lambda-free cache per process)
        cache = self.__dict__.get("_analyzer_cache")
        if cache is None:
            cache = self.__dict__["_analyzer_cache"] = {}
        return cache

    def __getstate__(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_analyzer_cache"}


def _logreg(config: Config) -> LogisticRegression:
    return LogisticRegression(
        C=config.C,
        class_weight=config.class_weight,
        max_iter=config.max_iter,
        random_state=42,
    )


def proba(model: LogisticRegression, x: Any) -> np.ndarray:
    """``model.predict_proba(x)`` without scikit-learn's per-call checks.

    The same arithmetic (softmax of the decision function for several classes,
    the logistic for two), a few milliseconds less for one message at a time.
    """
    return from_logits(np.asarray(x @ model.coef_.T) + model.intercept_)


def from_logits(z: np.ndarray) -> np.ndarray:
    """A logistic regression's probabilities from its decision function ``z``:
    the logistic for two classes (one column), the softmax for several."""
    if z.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Stacked:
    """Every head's coefficients side by side: one product for all of them.

    A message goes through ``x @ W`` once instead of once per head (there are a
    dozen, with the subtopics), then each head's slice of the logits becomes its
    probabilities exactly as ``proba`` computes them (``from_logits``).
    """

    def __init__(self, heads: Sequence[Tuple[str, LogisticRegression]]) -> None:
        self.names = [name for name, _ in heads]
        self.weights = np.ascontiguousarray(
            np.hstack([m.coef_.T for _, m in heads]))
        self.bias = np.concatenate([m.intercept_ for _, m in heads])
        self.slices: Dict[str, slice] = {}
        start = 0
        for name, model in heads:
            width = model.coef_.shape[0]
            self.slices[name] = slice(start, start + width)
            start += width

    def proba(self, x: Any) -> Dict[str, np.ndarray]:
        z = np.asarray(x @ self.weights) + self.bias
        return self._heads(z)

    def proba_rows(
        self, rows: Sequence[Tuple[np.ndarray, np.ndarray]]
    ) -> Dict[str, np.ndarray]:
        """``proba`` of the rows ``Features.rows`` gives: the logits are each
        row's values times the weights of its columns, no sparse matrix.

        Multiplied and summed elementwise, not by a matrix-vector product: that
        goes to BLAS, whose threads then spin on the other core after every
        message (measured: Rasa at 1.3 cores instead of 0.9, the gateway
        starved of the core it needs)."""
        z = np.vstack([
            (self.weights[cols] * vals[:, None]).sum(axis=0) for cols, vals in rows
        ]) + self.bias
        return self._heads(z)

    def _heads(self, z: np.ndarray) -> Dict[str, np.ndarray]:
        return {name: from_logits(z[:, cols]) for name, cols in self.slices.items()}


def _binary(config: Config, x: Any, y: Sequence[bool]) -> Optional[LogisticRegression]:
    if len(set(y)) < 2:
        return None
    return _logreg(config).fit(x, np.asarray(y, dtype=int))


class TriageModel:
    """The four heads over shared features; ``scores`` then ``decide``."""

    def __init__(self, config: Config, patterns: Sequence[str] = ()) -> None:
        self.config = config
        self.patterns = list(patterns)
        self.rule = compile_patterns(self.patterns)
        self.features = Features(config)
        self.intent: Optional[LogisticRegression] = None
        self.person: Optional[LogisticRegression] = None
        self.risk: Optional[LogisticRegression] = None
        self.subtopic: Dict[str, LogisticRegression] = {}

    @staticmethod
    def _dense(examples: Sequence[Example]) -> Optional[np.ndarray]:
        vectors = [e.dense for e in examples]
        if any(v is None for v in vectors):
            if any(v is not None for v in vectors):
                raise ValueError("dense features present on some examples only")
            return None
        return np.vstack(vectors)  # type: ignore[arg-type]

    def fit(self, examples: Sequence[Example]) -> "TriageModel":
        texts = [e.text for e in examples]
        dense = self._dense(examples)
        x = self.features.fit(texts, dense).transform(texts, dense)
        not_risk = [i for i, e in enumerate(examples) if e.intent != RISK_INTENT]
        jobs: Dict[str, Any] = {
            "intent": lambda: _logreg(self.config).fit(
                x, [e.intent for e in examples]),
            "person": lambda: _binary(
                self.config, x[not_risk],
                [examples[i].intent == PERSON_INTENT or examples[i].person
                 for i in not_risk]),
            "risk": lambda: _binary(
                self.config, x, [e.intent == RISK_INTENT for e in examples]),
        }
        for topic in sorted({e.intent for e in examples if e.subtopic}):
            idx = [i for i, e in enumerate(examples)
                   if e.intent == topic and e.subtopic]
            keys = [examples[i].subtopic for i in idx]
            if len(set(keys)) >= 2:
                jobs["subtopic:" + topic] = (
                    lambda idx=idx, keys=keys: _logreg(self.config).fit(x[idx], keys))
        # the solvers release the GIL in their numeric work: two cores, two threads
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = {name: pool.submit(job) for name, job in jobs.items()}
            fitted = {name: future.result() for name, future in done.items()}
        self.intent = fitted["intent"]
        self.person = fitted["person"]
        self.risk = fitted["risk"]
        self.subtopic = {name.split(":", 1)[1]: model for name, model in fitted.items()
                         if name.startswith("subtopic:")}
        self.__dict__.pop("_stack", None)
        return self

    def heads(self) -> List[Tuple[str, LogisticRegression]]:
        """The fitted heads by name: intent, person, risk, subtopic:<topic>."""
        named = [("intent", self.intent), ("person", self.person), ("risk", self.risk)]
        named += [("subtopic:" + t, m) for t, m in sorted(self.subtopic.items())]
        return [(n, m) for n, m in named if m is not None]

    def _stacked(self) -> "Stacked":
        # built on first use, not pickled (older model files load unchanged)
        stacked = self.__dict__.get("_stack")
        if stacked is None:
            stacked = self.__dict__["_stack"] = Stacked(self.heads())
        return stacked

    def __getstate__(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_stack"}

    def scores(
        self, texts: Sequence[str], dense: Optional[np.ndarray] = None
    ) -> List[Scores]:
        if self.intent is None:
            raise ValueError("the triage model is not trained")
        probs = self._stacked().proba_rows(self.features.rows(texts, dense))
        intent_p = sharpen(probs["intent"], self.config.temperature)
        classes = [str(c) for c in self.intent.classes_]
        person_p = (probs["person"][:, 1] if "person" in probs
                    else np.zeros(len(texts)))
        risk_p = (probs["risk"][:, 1] if "risk" in probs
                  else np.zeros(len(texts)))
        sub_p = {t: (m, probs["subtopic:" + t]) for t, m in self.subtopic.items()}
        out = []
        for i, text in enumerate(texts):
            ranked = sorted(zip(classes, (float(p) for p in intent_p[i]), strict=True),
                            key=lambda kv: -kv[1])
            subs = {
                t: sorted(zip([str(c) for c in m.classes_],
                              (float(p) for p in probs[i]), strict=True),
                          key=lambda kv: -kv[1])
                for t, (m, probs) in sub_p.items()
            }
            out.append(Scores(
                intents=ranked,
                person=float(person_p[i]),
                risk=float(risk_p[i]),
                risk_rule=bool(self.rule is not None and self.rule.search(text)),
                subtopics=subs,
            ))
        return out


def sharpen(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: p ** (1 / T), renormalised."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def decide(scores: Scores, config: Config) -> Decision:
    """Risk first, then a request for a person (topic kept), then the intent."""
    ranking = list(scores.intents)
    urgent = scores.risk_rule or scores.risk >= config.risk_threshold
    top_intent, top_conf = ranking[0]
    person = (
        not urgent
        and (scores.person >= config.person_threshold or top_intent == PERSON_INTENT)
    )
    # the topic the message is about, even when it asks for a person
    topic_scores = [(n, p) for n, p in ranking if n in TOPICS]
    best_topic, best_topic_p = topic_scores[0] if topic_scores else (None, 0.0)
    if urgent:
        intent, confidence = RISK_INTENT, 1.0
        topic = None
    elif person:
        intent = PERSON_INTENT
        confidence = max(scores.person, top_conf if top_intent == PERSON_INTENT else 0)
        others = sum(p for n, p in ranking if n != PERSON_INTENT) or 1.0
        topic = best_topic if best_topic_p / others >= config.topic_keep_threshold \
            else None
    else:
        intent, confidence = top_intent, top_conf
        topic = intent if intent in TOPICS else None
    if intent != top_intent:
        # beneath a risk or person decision, the intent head's ranking as a mixture
        # (scaled by 1 - confidence), capped at the decision's confidence so the
        # ranking stays in order: Rasa's FallbackClassifier reads a second intent
        # above the first as an ambiguous prediction
        rest = [(n, min(confidence, p * (1 - confidence)))
                for n, p in ranking if n != intent]
        ranking = [(intent, confidence)] + rest
    subtopic, sub_conf = None, 0.0
    sub_ranking: List[Tuple[str, float]] = []
    if topic is not None and scores.subtopics.get(topic):
        sub_ranking = scores.subtopics[topic][:5]
        subtopic, sub_conf = sub_ranking[0]
    return Decision(
        intent=intent,
        confidence=float(confidence),
        ranking=ranking,
        topic=topic,
        subtopic=subtopic,
        subtopic_confidence=float(sub_conf),
        subtopic_ranking=sub_ranking,
        urgent=urgent,
        person=person or urgent,
        person_confidence=scores.person,
        risk_confidence=scores.risk,
        risk_rule=scores.risk_rule,
    )
