"""The widget's files as shipped: one script, no HTML built from text, no CDN."""

from __future__ import annotations

import re

import pytest

from bot.gateway.channels.web import MAX_TEXT, STATIC_DIR

pytestmark = pytest.mark.unit

WIDGET = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "sink",
    [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'createElement("script")',
        'setAttribute("style"',
    ],
)
def test_no_html_or_code_is_built_from_text(sink: str) -> None:
    assert sink not in WIDGET


def test_nothing_is_loaded_from_another_host() -> None:
    # The only absolute address is the SVG namespace; the stylesheet and the API
    # come from the script's own origin.
    addresses = set(re.findall(r"https?://[^\s\"')]+", WIDGET))
    assert addresses <= {"http://www.w3.org/2000/svg", "https://HOST/widget.js"}


def test_the_length_limit_is_the_servers() -> None:
    found = re.search(r"var MAX_CHARS = (\d+);", WIDGET)
    assert found and int(found.group(1)) == MAX_TEXT >= 5000


def test_the_demo_page_has_one_script_tag() -> None:
    demo = (STATIC_DIR / "demo.html").read_text(encoding="utf-8")
    assert demo.count("<script") == 1 and "style=" not in demo
