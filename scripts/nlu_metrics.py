"""Pure metric functions for `make eval`: per-intent scores, topic F1, the sweep."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TOPICS = ("funding", "governance", "volunteering")
OTHER = "other"
FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
# First replies that offer or make a hand-over (data/rules): used when the run did
# not show an intent's first reply.
HANDOFF_INTENTS = frozenset(
    {FALLBACK, OUT_OF_SCOPE, "other_enquiry", "request_human", "report_risk"}
)


def topic_of(intent: str | None) -> str:
    """Return the topic of an intent: one of TOPICS, else "other"."""
    return intent if intent in TOPICS else OTHER


def split_intent(label: str) -> tuple[str, str | None]:
    """Split a retrieval intent ``funding/gift_aid`` into (base, subtopic)."""
    base, _, sub = label.partition("/")
    return base, sub or None


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of one label, with its support (gold count)."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


def label_scores(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> dict[str, Score]:
    """Return precision/recall/F1 per label (0 where undefined, as sklearn does)."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    tp: Counter[str] = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    n_gold = Counter(gold)
    n_pred = Counter(pred)
    out: dict[str, Score] = {}
    for label in labels:
        p = tp[label] / n_pred[label] if n_pred[label] else 0.0
        r = tp[label] / n_gold[label] if n_gold[label] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = Score(p, r, f, n_gold[label], n_pred[label])
    return out


def macro_f1(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = TOPICS
) -> float:
    """Return the unweighted mean F1 over ``labels``."""
    scores = label_scores(gold, pred, labels)
    return sum(s.f1 for s in scores.values()) / len(labels)


def kept_out(gold_intents: Sequence[str], pred_topics: Sequence[str]) -> float:
    """Return the share of out_of_scope messages not put under one of the topics."""
    idx = [i for i, g in enumerate(gold_intents) if g == OUT_OF_SCOPE]
    if not idx:
        return float("nan")
    return sum(pred_topics[i] == OTHER for i in idx) / len(idx)


def handed_over(gold_topics: Sequence[str], handoffs: Sequence[bool]) -> float:
    """Return the share of topic messages whose first reply hands over."""
    idx = [i for i, g in enumerate(gold_topics) if g in TOPICS]
    if not idx:
        return float("nan")
    return sum(bool(handoffs[i]) for i in idx) / len(idx)


def subtopic_accuracy(
    gold_topics: Sequence[str],
    gold_subtopics: Sequence[str | None],
    pred_topics: Sequence[str],
    pred_subtopics: Sequence[str | None],
) -> tuple[float, int]:
    """Return (accuracy, n) of subtopics over topic messages whose topic was right."""
    idx = [
        i
        for i, (g, p) in enumerate(zip(gold_topics, pred_topics, strict=True))
        if g in TOPICS and g == p
    ]
    if not idx:
        return float("nan"), 0
    right = sum(gold_subtopics[i] == pred_subtopics[i] for i in idx)
    return right / len(idx), len(idx)


def with_fallback(
    ranking: Sequence[Mapping[str, object]], threshold: float, ambiguity: float
) -> tuple[str, float]:
    """Return (intent, top confidence) as Rasa's FallbackClassifier would decide.

    ``ranking`` is the classifier's ranking before fallback, best first. Below
    ``threshold``, or when the top two are within ``ambiguity``, it is nlu_fallback.
    """
    real = [r for r in ranking if r.get("name") != FALLBACK]
    if not real:
        return FALLBACK, 0.0
    top = float(real[0]["confidence"])  # type: ignore[arg-type]
    second = float(real[1]["confidence"]) if len(real) > 1 else 0.0  # type: ignore[arg-type]
    if top < threshold or top - second < ambiguity:
        return FALLBACK, top
    return str(real[0]["name"]), top


def handoff_map(intents: Sequence[str], handoffs: Sequence[bool]) -> dict[str, bool]:
    """Learn whether each predicted intent's first reply hands over (majority)."""
    votes: dict[str, Counter[bool]] = {}
    for intent, h in zip(intents, handoffs, strict=True):
        votes.setdefault(intent, Counter())[bool(h)] += 1
    return {k: v.most_common(1)[0][0] for k, v in votes.items()}


def predicts_handoff(intent: str, learned: Mapping[str, bool]) -> bool:
    """Return whether the first reply to ``intent`` hands over."""
    if intent in learned:
        return learned[intent]
    return intent in HANDOFF_INTENTS


@dataclass(frozen=True)
class SweepRow:
    """What the held-out figures would be at one fallback threshold."""

    threshold: float
    topic_macro_f1: float
    kept_out: float
    handed_over: float
    fallback_share: float


def sweep(
    gold_intents: Sequence[str],
    rankings: Sequence[Sequence[Mapping[str, object]]],
    thresholds: Sequence[float],
    ambiguity: float,
    learned: Mapping[str, bool],
) -> list[SweepRow]:
    """Replay the fallback decision at each threshold over the stored rankings."""
    gold_topics = [topic_of(g) for g in gold_intents]
    rows = []
    for t in thresholds:
        intents = [with_fallback(r, t, ambiguity)[0] for r in rankings]
        topics = [topic_of(i) for i in intents]
        hand = [predicts_handoff(i, learned) for i in intents]
        rows.append(
            SweepRow(
                threshold=t,
                topic_macro_f1=macro_f1(gold_topics, topics),
                kept_out=kept_out(gold_intents, topics),
                handed_over=handed_over(gold_topics, hand),
                fallback_share=sum(i == FALLBACK for i in intents) / len(intents),
            )
        )
    return rows


def confusion(
    gold: Sequence[str], pred: Sequence[str], rows: Sequence[str], cols: Sequence[str]
) -> list[list[int]]:
    """Return counts[gold row][pred column]."""
    r_index = {label: i for i, label in enumerate(rows)}
    c_index = {label: j for j, label in enumerate(cols)}
    matrix = [[0] * len(cols) for _ in rows]
    for g, p in zip(gold, pred, strict=True):
        if g in r_index and p in c_index:
            matrix[r_index[g]][c_index[p]] += 1
    return matrix


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
