"""Classify messages with the trained model, as the server would (Rasa process).

Reads JSON lines {"id", "text"} on stdin and writes, in order, one JSON line per
input: the NLU result (intent, confidence, topic, subtopic, the intent ranking
before fallback) and the actions the dialogue policies predict as the reply to
that message as the first message of a new conversation, stopping at the first
custom action (which needs the action server) or at action_listen. `handoff` is
true when that reply hands over to, or offers, a human adviser. Used by
`make triage` (bot/triage.py) and `make eval`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any, Dict, List, Optional

TOPICS = ("funding", "governance", "volunteering")
HANDOFF_ACTIONS = {"action_handoff", "utter_offer_human"}
MAX_PREDICTIONS = 6


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    # Rasa's structlog events (processor.message.parse, policy debug lines) print
    # to stdout at every level unless configured, which would corrupt the JSON
    # lines this worker writes there: keep errors only, on stderr.
    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def triage_one(agent: Any, text: str, parse: Dict[str, Any]) -> Dict[str, Any]:
    """Return the NLU result and predicted first reply for one parsed message."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = agent.domain
    intent = parse.get("intent") or {}
    name: Optional[str] = intent.get("name")
    ranking = parse.get("intent_ranking") or []
    confidence = float(intent.get("confidence") or 0.0)
    if name == "nlu_fallback":
        # report the best real intent's confidence, which fell below the threshold
        real = [r for r in ranking if r.get("name") != "nlu_fallback"]
        confidence = float(real[0]["confidence"]) if real else 0.0
    # the classifier's own triage: urgent, asked for a person, and the topic the
    # message is about even when it asks for a person (rasa_addons/triage_classifier)
    triage = parse.get("triage") or {}
    urgent = bool(triage.get("urgent"))
    about = name if name in TOPICS else triage.get("topic")
    if name == "nlu_fallback" or urgent:
        about = None
    topic = about if about in TOPICS else "other"
    subtopic = None
    if topic in TOPICS:
        selectors = parse.get("response_selector") or {}
        selector = selectors.get(topic) or selectors.get("default") or {}
        key = (selector.get("response") or {}).get("intent_response_key") or ""
        subtopic = key[len(topic) + 1 :] if key.startswith(topic + "/") else None

    tracker = DialogueStateTracker.from_events(
        "triage",
        [
            ActionExecuted(ACTION_SESSION_START_NAME),
            SessionStarted(),
            ActionExecuted(ACTION_LISTEN_NAME),
            UserUttered(text, intent, parse.get("entities") or [], parse),
        ],
        slots=domain.slots,
    )
    actions: List[str] = []
    for _ in range(MAX_PREDICTIONS):
        prediction = agent.processor._predict_next_with_tracker(tracker)
        action = domain.action_names_or_texts[prediction.max_confidence_index]
        actions.append(action)
        if action == ACTION_LISTEN_NAME or not action.startswith("utter_"):
            break
        tracker.update(ActionExecuted(action))
    return {
        "intent": name,
        "confidence": round(max(0.0, min(1.0, confidence)), 4),
        "topic": topic,
        "subtopic": subtopic,
        "actions": actions,
        "handoff": urgent or any(a in HANDOFF_ACTIONS for a in actions),
        "urgent": urgent,
        "person": bool(triage.get("person")),
        # the classifier's ranking before the FallbackClassifier stepped in, so
        # `make eval` can sweep the fallback threshold offline
        "intent_ranking": [
            {
                "name": r.get("name"),
                "confidence": round(float(r.get("confidence") or 0.0), 4),
            }
            for r in ranking
            if r.get("name") != "nlu_fallback"
        ],
    }


async def main(model_path: str) -> None:
    # Results go to the real stdout; anything Rasa, TensorFlow or a C library
    # prints goes to stderr, so it can never corrupt the JSON Lines stream.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _quiet()
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        text = str(request.get("text", ""))
        try:
            parse = await agent.parse_message(text)
            result = triage_one(agent, text, parse)
        except Exception as exc:  # one bad message must not stop the run
            result = {"error": f"{exc.__class__.__name__}: {exc}"}
        result["id"] = request.get("id")
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "models/frontdoor.tar.gz"))
