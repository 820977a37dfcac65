"""The figures issue 8 asks for, from labelled messages and their predictions.

Pure functions (Python 3.10 and 3.11): the tuning lab (scripts/nlu_lab.py, in the
Rasa environment) and `make eval` (the app environment) compute them the same way.

A prediction is a mapping with ``intent`` (after the fallback), ``topic`` (the
topic the reply is about, or "other"), ``subtopic``, ``urgent`` and ``handoff``
(the reply hands over to, or offers, a person).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scripts.nlu_data import TOPICS, Labelled

PERSON_INTENTS = frozenset({"request_human", "report_risk"})
OFFER_INTENTS = frozenset(
    {"other_enquiry", "request_human", "report_risk", "nlu_fallback"}
)

Pred = Mapping[str, Any]


def _f1(gold: Sequence[str], pred: Sequence[str], label: str) -> float:
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    n_pred = sum(p == label for p in pred)
    n_gold = sum(g == label for g in gold)
    if not tp:
        return 0.0
    precision, recall = tp / n_pred, tp / n_gold
    return 2 * precision * recall / (precision + recall)


def topic_macro_f1(items: Sequence[Labelled], preds: Sequence[Pred]) -> float:
    """Mean F1 of the three topics over every message (others count as "other")."""
    gold = [e.topic for e in items]
    pred = [str(p.get("topic") or "other") for p in preds]
    present = [t for t in TOPICS if t in gold]
    if not present:
        return float("nan")
    return sum(_f1(gold, pred, t) for t in present) / len(present)


def _share(
    items: Sequence[Labelled],
    preds: Sequence[Pred],
    which: Callable[[Labelled], bool],
    good: Callable[[Labelled, Pred], bool],
) -> tuple[float, int, int]:
    idx = [i for i, e in enumerate(items) if which(e)]
    right = sum(good(items[i], preds[i]) for i in idx)
    return (right / len(idx) if idx else float("nan")), right, len(idx)


def is_topic_question(e: Labelled) -> bool:
    return e.intent in TOPICS and not e.person and not e.urgent


# name -> (which messages, what counts as right), in report order
Measure = tuple[Callable[[Labelled], bool], Callable[[Labelled, Pred], bool]]
MEASURES: dict[str, Measure] = {
    "off_topic_kept_out": (
        lambda e: e.intent == "out_of_scope",
        lambda e, p: (p.get("topic") or "other") == "other",
    ),
    "person_handed_over": (
        lambda e: e.person and not e.urgent,
        lambda e, p: p.get("intent") in PERSON_INTENTS,
    ),
    "person_topic_kept": (
        lambda e: e.person and not e.urgent and e.intent in TOPICS,
        lambda e, p: p.get("intent") in PERSON_INTENTS and p.get("topic") == e.intent,
    ),
    "plain_topic_handed_over": (
        is_topic_question,
        lambda e, p: p.get("intent") in PERSON_INTENTS,
    ),
    "other_offered_person": (
        lambda e: e.intent == "other_enquiry",
        # an honest "this needs a person" and the offer: never the off-topic reply
        lambda e, p: p.get("intent") in OFFER_INTENTS
        and (p.get("topic") or "other") == "other",
    ),
    "in_topic_answered": (
        is_topic_question,
        lambda e, p: p.get("intent") in TOPICS,
    ),
    "urgent_recall": (
        lambda e: e.urgent,
        lambda e, p: bool(p.get("urgent")) and bool(p.get("handoff")),
    ),
    "urgent_false_alarms_safety_worded": (
        lambda e: e.kind == "safety_nonurgent",
        lambda e, p: bool(p.get("urgent")),
    ),
    "urgent_false_alarms_all": (
        lambda e: not e.urgent,
        lambda e, p: bool(p.get("urgent")),
    ),
    "subtopic_right": (
        lambda e: e.intent in TOPICS and e.subtopic is not None,
        lambda e, p: p.get("topic") == e.intent and p.get("subtopic") == e.subtopic,
    ),
}


def figures(items: Sequence[Labelled], preds: Sequence[Pred]) -> dict[str, Any]:
    """Every figure: name -> value, plus "n:<name>" and "right:<name>" counts."""
    if len(items) != len(preds):
        raise ValueError("items and predictions differ in length")
    out: dict[str, Any] = {"topic_macro_f1": topic_macro_f1(items, preds)}
    for name, (which, good) in MEASURES.items():
        value, right, n = _share(items, preds, which, good)
        out[name] = value
        out["n:" + name] = n
        out["right:" + name] = right
    return out


def per_topic(
    items: Sequence[Labelled], preds: Sequence[Pred]
) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of each topic."""
    gold = [e.topic for e in items]
    pred = [str(p.get("topic") or "other") for p in preds]
    out = {}
    for t in TOPICS:
        tp = sum(g == t and p == t for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = pred.count(t), gold.count(t)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        out[t] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}
    return out


def bootstrap(
    items: Sequence[Labelled],
    preds: Sequence[Pred],
    metric: Callable[[Sequence[Labelled], Sequence[Pred]], float],
    *,
    rounds: int = 1000,
    seed: int = 7,
) -> tuple[float, float]:
    """A 95% percentile bootstrap interval of ``metric`` over the messages."""
    rng = random.Random(seed)  # noqa: S311 (resampling, not secrets)
    n = len(items)
    values = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        v = metric([items[i] for i in idx], [preds[i] for i in idx])
        if not math.isnan(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson 95% interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and a 95% t interval (for the five cross-validation folds)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 10: 2.26}.get(n, 2.0)
    half = t * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per equal-width confidence bin."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences)
               if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if idx:
            out.append((
                sum(confidences[i] for i in idx) / len(idx),
                sum(bool(correct[i]) for i in idx) / len(idx),
                len(idx),
            ))
    return out


def expected_calibration_error(rows: Sequence[tuple[float, float, int]]) -> float:
    total = sum(n for _, _, n in rows)
    return sum(abs(c - a) * n for c, a, n in rows) / total if total else float("nan")
