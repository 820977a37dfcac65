"""Person-facing texts, one file per language (``en.yml``, ``cy.yml``).

``text(key, lang, **values)`` returns the text for a dotted key in that
language, with ``{name}`` placeholders filled; a language without the key
falls back to English (the completeness test keeps that from happening in a
release). Keys are grouped by area, one top-level section each; a key given twice in one
file is an error (YAML would silently keep the last), so two areas cannot take
the same section by accident.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"
_DIR = Path(__file__).parent


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping key given twice."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise ValueError(f"{key!r} given twice (line {line})")
        seen.add(key)
    return dict(loader.construct_pairs(node))


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping
)


def load(path: Path) -> Any:
    """One catalogue file as written (duplicate keys refused)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language, flattened to dotted names."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    raw = load(_DIR / f"{lang}.yml") or {}
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
