"""Start ``rasa`` with its HTTP API token out of the command line and the URLs.

Why: ``rasa run --auth-token TOKEN`` puts the token in the process list (any
local user's ``ps``) and Rasa only reads it from the query string
(``?token=``), where proxies and access logs keep URLs. Here the token comes
from the environment (``RASA_TOKEN``, which only the process's own user can
read) and travels in an ``Authorization: Bearer`` header; a request without it
is refused, and so is starting without a token (Rasa's own check lets every
request through when no token is set).

What: ``python -m rasa_addons.run run --enable-api ...`` is ``rasa run ...`` with
``rasa.server.requires_auth`` replaced by a header check before Rasa builds its
routes. The project's channel (rasa_addons/frontdoor_channel.py) checks the same
header (channels are outside Rasa's API authentication).
"""

from __future__ import annotations

import hmac
import os
import sys
from functools import wraps
from inspect import isawaitable
from typing import Any, Callable, Optional

ENV_NAME = "RASA_TOKEN"


def bearer_token(request: Any) -> Optional[str]:
    """The token of an ``Authorization: Bearer ...`` header, if there is one."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorised(request: Any, token: Optional[str] = None) -> bool:
    """Whether the request carries the token (default: ``RASA_TOKEN``)."""
    expected = token if token is not None else os.environ.get(ENV_NAME, "")
    provided = bearer_token(request)
    return bool(expected) and provided is not None and hmac.compare_digest(
        provided.encode(), expected.encode()
    )


def header_requires_auth(app: Any, token: Optional[str] = None) -> Callable[..., Any]:
    """``rasa.server.requires_auth`` with the token in a header; never open."""
    from sanic import response

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(f)
        async def decorated(request: Any, *args: Any, **kwargs: Any) -> Any:
            if authorised(request, token or ""):
                result = f(request, *args, **kwargs)
                return await result if isawaitable(result) else result
            return response.json(
                {
                    "version": "",
                    "status": "failure",
                    "reason": "NotAuthenticated",
                    "message": "Send the token as 'Authorization: Bearer <token>'.",
                    "code": 401,
                },
                status=401,
            )

        return decorated

    return decorator


def main() -> None:
    token = os.environ.get(ENV_NAME, "")
    if not token:
        sys.exit(f"{ENV_NAME} is not set: Rasa's HTTP API is never started open")
    import rasa.server

    rasa.server.requires_auth = header_requires_auth  # type: ignore[assignment]
    sys.argv = ["rasa", *sys.argv[1:], "--auth-token", token]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
