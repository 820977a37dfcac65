"""Rasa's responses in the conversation's language.

The gateway sends the conversation's language with every message (metadata
``language``, bot/gateway/rasa_client.py). English is domain.yml's own text;
for any other language this NLG takes the response's text and button titles
from that language's catalogue, bot/i18n/<lang>.yml (section ``responses``),
the same files the app reads. It reads them as data: the Rasa process never
imports ``bot``. A response the catalogue lacks stays in English (the
completeness test, tests/i18n/, keeps that from happening).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Text

import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

CATALOGUE_DIR = Path(__file__).resolve().parents[1] / "bot" / "i18n"
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=None)
def catalogue(language: str) -> Dict[str, str]:
    """The ``responses`` keys of one language's catalogue, flattened."""
    path = CATALOGUE_DIR / f"{language}.yml"
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: Dict[str, str] = {}
    for name, entry in (raw.get("responses") or {}).items():
        for key, value in (entry or {}).items():
            out[f"{name}.{key}"] = str(value)
    return out


def language_of(tracker: DialogueStateTracker) -> str:
    """The language the gateway sent with the latest message ("en" if none)."""
    metadata = getattr(tracker.latest_message, "metadata", None) or {}
    language = metadata.get("language") if isinstance(metadata, dict) else None
    return str(language) if language else DEFAULT_LANGUAGE


def translate(
    response: Dict[Text, Any], utter_action: Text, language: str
) -> Dict[Text, Any]:
    """``response`` with its text and button titles in ``language``."""
    if language == DEFAULT_LANGUAGE:
        return response
    found = catalogue(language)
    out = copy.deepcopy(response)
    text = found.get(f"{utter_action}.text")
    if text is not None:
        out["text"] = text
    for n, button in enumerate(out.get("buttons") or [], 1):
        title = found.get(f"{utter_action}.button{n}")
        if title is not None and isinstance(button, dict):
            button["title"] = title
    return out


class FrontDoorNLG(TemplatedNaturalLanguageGenerator):
    """domain.yml's responses, translated for the conversation's language."""

    def __init__(
        self, endpoint_config: Any = None, domain: Optional[Domain] = None
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        response = await super().generate(
            utter_action, tracker, output_channel, **kwargs
        )
        if response is None:
            return None
        return translate(response, utter_action, language_of(tracker))
