"""The triage model's heads and decision (rasa_addons/triage_model.py), no Rasa."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

# rasa_addons/__init__ patches Rasa on import; the model module itself imports
# only NumPy, SciPy and scikit-learn, so load it alone, by path.
_PATH = Path(__file__).resolve().parents[2] / "rasa_addons" / "triage_model.py"
_spec = importlib.util.spec_from_file_location("triage_model_under_test", _PATH)
assert _spec is not None and _spec.loader is not None
tmod = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = tmod
_spec.loader.exec_module(tmod)
Config, Example, Scores = tmod.Config, tmod.Example, tmod.Scores
TriageModel, decide = tmod.TriageModel, tmod.decide
compile_patterns, read_patterns = tmod.compile_patterns, tmod.read_patterns

pytestmark = pytest.mark.unit

TRAIN = [
    Example("how do we claim gift aid on donations", "funding", "gift_aid"),
    Example("can we claim gift aid on raffle tickets", "funding", "gift_aid"),
    Example("any grants for a new minibus", "funding", "grants"),
    Example("who gives money for a community fridge", "funding", "grants"),
    Example("how many trustees do we need", "governance", "trustees"),
    Example("can the treasurer also be the chair", "governance", "trustees"),
    Example("when is the annual return due", "governance", "annual_return"),
    Example("filing the accounts with the regulator", "governance", "annual_return"),
    Example("do helpers need a dbs check", "volunteering", "checks"),
    Example("disclosure checks for the youth leaders", "volunteering", "checks"),
    Example("how do we find more helpers", "volunteering", "recruiting"),
    Example("nobody wants to join the rota", "volunteering", "recruiting"),
    Example("can I speak to a person", "request_human"),
    Example("put me through to an adviser please", "request_human"),
    Example("is there a human I could talk to", "request_human"),
    Example("could someone ring me about gift aid", "funding", "gift_aid", person=True),
    Example("a child told me she is being hurt at home", "report_risk"),
    Example("someone has collapsed in the hall", "report_risk"),
    Example("what's the weather tomorrow", "out_of_scope"),
    Example("best pizza in town", "out_of_scope"),
]


@pytest.fixture(scope="module")
def model() -> TriageModel:
    return TriageModel(Config(C=10.0), read_patterns("# c\nnot breathing\n")).fit(TRAIN)


def test_patterns_skip_comments_and_match_on_word_boundaries() -> None:
    rule = compile_patterns(read_patterns("# comment\n\nnot breathing\nsuicid\\w*\n"))
    assert rule is not None
    assert rule.search("he's NOT BREATHING")
    assert rule.search("talking about suicide")
    assert not rule.search("notbreathing")
    assert compile_patterns([]) is None


def test_heads_rank_the_trained_intents(model: TriageModel) -> None:
    [s] = model.scores(["how do I claim gift aid"])
    assert s.intents[0][0] == "funding"
    assert abs(sum(p for _, p in s.intents) - 1.0) < 1e-6
    assert s.subtopics["funding"][0][0] == "gift_aid"


def test_the_phrase_floor_fires_whatever_the_statistics_say(model: TriageModel) -> None:
    [s] = model.scores(["my dad is not breathing"])
    assert s.risk_rule
    d = decide(s, Config(risk_threshold=1.01))
    assert d.urgent and d.intent == "report_risk" and d.topic is None
    assert d.ranking[0] == ("report_risk", 1.0)


def _scores(intents: list[tuple[str, float]], person: float = 0.0, risk: float = 0.0,
            rule: bool = False) -> Scores:
    return Scores(intents=intents, person=person, risk=risk, risk_rule=rule,
                  subtopics={"funding": [("gift_aid", 0.8), ("grants", 0.2)]})


def test_a_request_for_a_person_keeps_the_topic() -> None:
    s = _scores([("funding", 0.7), ("request_human", 0.2), ("out_of_scope", 0.1)],
                person=0.8)
    d = decide(s, Config(person_threshold=0.5))
    assert d.intent == "request_human" and d.person and not d.urgent
    assert d.topic == "funding" and d.subtopic == "gift_aid"
    assert d.confidence == pytest.approx(0.8)


def test_a_weak_topic_is_not_kept_with_a_person_request() -> None:
    s = _scores([("request_human", 0.8), ("out_of_scope", 0.15), ("funding", 0.05)],
                person=0.9)
    d = decide(s, Config(topic_keep_threshold=0.3))
    assert d.intent == "request_human" and d.topic is None


def test_risk_comes_before_a_person_and_a_topic() -> None:
    s = _scores([("funding", 0.9), ("request_human", 0.1)], person=0.9, risk=0.6)
    d = decide(s, Config(risk_threshold=0.5))
    assert d.urgent and d.intent == "report_risk" and d.person


def test_below_the_thresholds_the_intent_head_decides() -> None:
    s = _scores([("funding", 0.9), ("request_human", 0.1)], person=0.3, risk=0.3)
    d = decide(s, Config(person_threshold=0.5, risk_threshold=0.5))
    assert d.intent == "funding" and not d.person and not d.urgent
    assert d.topic == "funding" and d.subtopic == "gift_aid"


def test_dense_features_join_tfidf_and_must_match_in_size() -> None:
    rng = np.random.default_rng(0)
    dense = [Example(e.text, e.intent, e.subtopic, e.person,
                     dense=rng.normal(size=8)) for e in TRAIN]
    model = TriageModel(Config(dense_weight=2.0)).fit(dense)
    assert model.features.dense_dim == 8
    model.scores(["gift aid"], rng.normal(size=(1, 8)))
    with pytest.raises(ValueError, match="dense dimensions"):
        model.scores(["gift aid"], rng.normal(size=(1, 5)))
    with pytest.raises(ValueError, match="some examples only"):
        TriageModel(Config()).fit(dense[:3] + TRAIN[3:])


def test_dense_only_needs_dense_features() -> None:
    with pytest.raises(ValueError, match="no features"):
        TriageModel(Config(use_tfidf=False)).fit(TRAIN)


def test_temperature_sharpens_without_changing_the_ranking() -> None:
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    sharp = tmod.sharpen(p, 0.5)
    assert np.allclose(sharp.sum(axis=1), 1.0)
    assert (sharp.argmax(axis=1) == p.argmax(axis=1)).all()
    assert sharp[0, 0] > p[0, 0] and sharp[1, 2] > p[1, 2]
    assert tmod.sharpen(p, 1.0) is p


def test_a_decision_stays_on_top_of_the_ranking() -> None:
    # Rasa's FallbackClassifier takes a second intent above the first as ambiguous
    s = _scores([("governance", 0.99), ("request_human", 0.005)], person=0.9)
    d = decide(s, Config(person_threshold=0.5))
    assert d.ranking[0] == ("request_human", 0.9)
    assert all(p <= 0.9 for _, p in d.ranking[1:])
    assert d.ranking[1][1] == pytest.approx(0.99 * 0.1)
    low = decide(_scores([("funding", 0.99), ("out_of_scope", 0.01)], person=0.3),
                 Config(person_threshold=0.2))
    assert low.ranking[0] == ("request_human", 0.3)
    assert [p for _, p in low.ranking] == sorted((p for _, p in low.ranking),
                                                 reverse=True)


def test_the_fast_probabilities_are_scikit_learns(model: TriageModel) -> None:
    x = model.features.transform(["gift aid on raffle tickets", "dbs for helpers"],
                                 None)
    for head in (model.intent, model.person, model.risk,
                 *model.subtopic.values()):
        assert np.allclose(tmod.proba(head, x), head.predict_proba(x))


def test_the_stacked_heads_give_each_heads_probabilities(model: TriageModel) -> None:
    texts = ["gift aid on raffle tickets", "dbs for helpers", "can I talk to someone"]
    x = model.features.transform(texts, None)
    stacked = tmod.Stacked(model.heads())
    probs = stacked.proba(x)
    assert set(probs) == {name for name, _ in model.heads()}
    for name, head in model.heads():
        assert np.allclose(probs[name], head.predict_proba(x)), name
    # and scores() reads them: the ranking is the intent head's, sharpened
    [s] = model.scores(["gift aid on raffle tickets"])
    expected = tmod.sharpen(model.intent.predict_proba(x[:1]), model.config.temperature)
    assert s.intents[0][0] == str(model.intent.classes_[expected[0].argmax()])
    assert abs(s.intents[0][1] - expected[0].max()) < 1e-9


def test_a_pickled_model_scores_the_same(model: TriageModel) -> None:
    import pickle

    before = model.scores(["dbs for helpers"])  # builds the stacked matrix
    copy = pickle.loads(pickle.dumps(model))
    assert "_stack" not in copy.__dict__
    assert copy.scores(["dbs for helpers"]) == before


def test_the_direct_rows_are_scikit_learns_tfidf() -> None:
    # Features.rows (what scores() uses, one message at a time) gives the same
    # non-zero columns and values as the vectorizers' transform + hstack, words,
    # characters and the scaled dense block alike, for unseen words and typos too
    rng = np.random.default_rng(1)
    dense = [Example(e.text, e.intent, e.subtopic, e.person,
                     dense=rng.normal(size=6)) for e in TRAIN]
    model = TriageModel(Config(dense_weight=0.5)).fit(dense)
    texts = ["gift aid on raffle tickets", "Do our HELPERS need a DBS chek??",
             "zzzz qqqq", "", "can I talk to someone about the annual return"]
    vectors = rng.normal(size=(len(texts), 6))
    x = model.features.transform(texts, vectors).toarray()
    rows = model.features.rows(texts, vectors)
    for i, (cols, vals) in enumerate(rows):
        direct = np.zeros(x.shape[1])
        direct[cols] = vals
        assert len(set(cols.tolist())) == len(cols)
        assert np.allclose(direct, x[i]), texts[i]
    stacked = tmod.Stacked(model.heads())
    by_matrix, by_rows = stacked.proba(x), stacked.proba_rows(rows)
    for name in by_matrix:
        assert np.allclose(by_matrix[name], by_rows[name]), name
    with pytest.raises(ValueError, match="dense dimensions"):
        model.features.rows(texts[:1], vectors[:1, :4])
    # the analyzers' cache is not pickled; a copy scores the same
    import pickle

    before = model.scores(texts[:2], vectors[:2])
    copy = pickle.loads(pickle.dumps(model))
    assert "_analyzer_cache" not in copy.features.__dict__
    assert copy.scores(texts[:2], vectors[:2]) == before
