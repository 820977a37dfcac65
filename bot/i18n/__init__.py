"""Person-facing texts, one file per language (``en.yml``, ``cy.yml``).

``text(key, lang, **values)`` returns the text for a dotted key in that
language, with ``{name}`` placeholders filled; a language without the key
falls back to English (the completeness test keeps that from happening in a
release). Keys are grouped by area, one top-level section each.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"
_DIR = Path(__file__).parent


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language, flattened to dotted names."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    raw = yaml.safe_load((_DIR / f"{lang}.yml").read_text(encoding="utf-8")) or {}
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                walk(f"{prefix}{name}.", child)
        elif node is not None:
            flat[prefix[:-1]] = str(node)

    walk("", raw)
    return flat


def text(key: str, lang: str | None = None, **values: object) -> str:
    """The text for ``key`` in ``lang`` (English when absent), filled in."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    found = catalogue(lang).get(key)
    if found is None:
        found = catalogue(DEFAULT_LANGUAGE)[key]
    return found.format(**values) if values else found
