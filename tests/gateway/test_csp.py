"""The gateway's Content-Security-Policy follows the widget's allowed origins."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.gateway.app import CSP, content_security_policy, create_app
from bot.settings import Settings

pytestmark = pytest.mark.unit


def test_no_origins_means_no_framing() -> None:
    assert content_security_policy([]) == CSP
    assert "frame-ancestors 'none'" in CSP


def test_allowed_origins_may_frame_the_gateway() -> None:
    csp = content_security_policy(["https://our-hall.example.org"])
    assert "frame-ancestors 'self' https://our-hall.example.org" in csp
    assert "'none'" not in csp.split("frame-ancestors", 1)[1].split(";")[0]
    assert "script-src 'self'" in csp


def test_the_demo_page_carries_the_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        widget_allowed_origins=["https://our-hall.example.org"],
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert "frame-ancestors 'self' https://our-hall.example.org" in (
        response.headers["content-security-policy"]
    )
