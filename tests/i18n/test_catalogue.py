"""The translation catalogues stay in step: a key missing in either language, a
placeholder only one language has, an empty Welsh text or a Rasa response with
no translation fails the build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot import i18n
from bot.settings import PROJECT_ROOT

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_key_is_in_every_language() -> None:
    keys = {lang: set(i18n.catalogue(lang)) for lang in i18n.LANGUAGES}
    english = keys[i18n.DEFAULT_LANGUAGE]
    for lang, found in keys.items():
        assert sorted(english - found) == [], f"missing in {lang}.yml"
        assert sorted(found - english) == [], f"in {lang}.yml but not en.yml"


def test_placeholders_match_and_no_welsh_text_is_empty() -> None:
    en, cy = i18n.catalogue("en"), i18n.catalogue("cy")
    for key, english in en.items():
        assert set(PLACEHOLDER.findall(english)) == set(
            PLACEHOLDER.findall(cy[key])
        ), key
        if english.strip():
            assert cy[key].strip(), f"{key} is empty in cy.yml"


def _rasa_responses() -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for path in (PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data/nlu/responses.yml"):
        out.update(yaml.safe_load(path.read_text(encoding="utf-8"))["responses"])
    return out


def test_every_rasa_response_has_its_translation() -> None:
    responses = _rasa_responses()
    assert len(responses) > 30
    for name, variations in responses.items():
        for lang in i18n.LANGUAGES:
            cat = i18n.catalogue(lang)
            assert f"responses.{name}.text" in cat, f"{name} missing in {lang}.yml"
            buttons = variations[0].get("buttons") or []
            assert isinstance(buttons, list)
            for n in range(1, len(buttons) + 1):
                assert f"responses.{name}.button{n}" in cat, (name, lang, n)
        # en.yml's copy is one of domain.yml's own variations
        english = i18n.text(f"responses.{name}.text", "en")
        assert english in [v["text"] for v in variations], name
        for n, button in enumerate(variations[0].get("buttons") or [], 1):
            assert isinstance(button, dict)
            assert i18n.text(f"responses.{name}.button{n}", "en") == button["title"]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text("gateway:\n  a: one\ngateway:\n  b: two\n", encoding="utf-8")
    with pytest.raises(ValueError, match="given twice"):
        i18n.load(path)


def test_text_fills_values_and_falls_back_to_english() -> None:
    assert i18n.text("gateway.email_thanks", "cy", email="a@b.cymru").startswith(
        "Diolch"
    )
    assert i18n.text("gateway.email_thanks", "fr", email="x") == i18n.text(
        "gateway.email_thanks", "en", email="x"
    )


WIDGET = PROJECT_ROOT / "bot" / "gateway" / "static" / "widget.js"


def _widget_keys(name: str) -> list[str]:
    source = WIDGET.read_text(encoding="utf-8")
    start = source.index(f"var {name} = {{")
    end = source.index("\n  };\n", start)
    return re.findall(r"^    (\w+):", source[start:end], re.MULTILINE)


def test_the_widget_has_every_text_in_welsh() -> None:
    english, welsh = _widget_keys("STRINGS"), _widget_keys("STRINGS_CY")
    assert len(english) > 30
    assert english == welsh
