"""Run in the Rasa environment by tests/rasa_addons/test_triage_classifier.py.

    .venv-rasa/bin/python triage_classifier_check.py WORKDIR

Trains a tiny NLU model with TriageClassifier in WORKDIR (a throwaway project),
parses a few messages, and prints one JSON object of what it saw.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

NLU = """version: "3.1"
nlu:
- intent: funding/gift_aid
  examples: |
    - how do we claim gift aid on donations
    - can we claim gift aid on raffle tickets
    - gift aid on the quiz night money
- intent: funding/grants
  examples: |
    - any grants for a new minibus
    - who gives money for a community fridge
    - money for a new roof on the hall
- intent: governance/trustees
  examples: |
    - how many trustees do we need
    - can the treasurer also be the chair
- intent: request_human
  examples: |
    - can I speak to a person
    - put me through to an adviser please
    - is there a human I could talk to
- intent: funding/gift_aid
  examples:
  - text: |
      could someone ring me about gift aid
    metadata:
      person: true
- intent: report_risk
  examples: |
    - a child told me she is being hurt at home
    - someone has collapsed in the hall
- intent: out_of_scope
  examples: |
    - what's the weather tomorrow
    - best pizza in town
responses:
  utter_funding/gift_aid:
  - text: gift aid answer
  utter_funding/grants:
  - text: grants answer
  utter_governance/trustees:
  - text: trustees answer
"""

CONFIG = """recipe: default.v1
language: en
assistant_id: check
pipeline:
- name: WhitespaceTokenizer
- name: rasa_addons.triage_classifier.TriageClassifier
  risk_patterns_file: {phrases}
policies: []
"""


def main(workdir: str) -> None:
    logging.disable(logging.WARNING)
    work = Path(workdir)
    (work / "nlu.yml").write_text(NLU)
    phrases = work / "phrases.txt"
    phrases.write_text("# floor\nnot breathing\n")
    (work / "config.yml").write_text(CONFIG.format(phrases=phrases))
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    from rasa_addons.triage_classifier import TriageClassifier

    out: dict = {}
    fp1 = TriageClassifier.fingerprint_addon({"risk_patterns_file": str(phrases)})
    phrases.write_text("# floor\nnot breathing\ncollapsed\n")
    fp2 = TriageClassifier.fingerprint_addon({"risk_patterns_file": str(phrases)})
    out["fingerprint_follows_the_file"] = fp1 != fp2
    model = train_nlu(str(work / "config.yml"), str(work / "nlu.yml"),
                      output=str(work / "models"), fixed_model_name="ok")
    agent = Agent.load(model)

    async def parse(text: str) -> dict:
        return await agent.parse_message(text)

    for key, text in {
        "topic": "claiming gift aid on donations",
        "person_in_topic": "could someone ring me about gift aid",
        "floor": "my dad is not breathing",
    }.items():
        p = asyncio.run(parse(text))
        sel = (p.get("response_selector") or {}).get("funding") or {}
        out[key] = {
            "intent": p["intent"]["name"],
            "triage": p.get("triage"),
            "subtopic": (sel.get("response") or {}).get("intent_response_key"),
        }
    phrases.unlink()
    try:
        train_nlu(str(work / "config.yml"), str(work / "nlu.yml"),
                  output=str(work / "models"), fixed_model_name="missing")
        out["missing_file"] = "trained"
    except Exception as exc:  # noqa: BLE001 (the message is what is checked)
        out["missing_file"] = f"{type(exc).__name__}: {exc}"
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main(sys.argv[1])
