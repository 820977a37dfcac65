"""The gateway's ASGI app: widget, Telegram webhook, demo page and the console."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.db.models import Message as MessageRow
from bot.db.session import session_scope
from bot.gateway import delivery, health, rasa_client
from bot.gateway.bridge import RedisBridge
from bot.gateway.channels.email import EmailChannel
from bot.gateway.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.gateway.channels.web import STATIC_DIR, WebChannel, widget_routes
from bot.gateway.events import message_view
from bot.gateway.leader import Leadership
from bot.gateway.logs import configure_logging
from bot.gateway.pipeline import Pipeline
from bot.gateway.rasa_client import RasaClient
from bot.privacy.sweep import RetentionSweeper
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)
# A turn in flight at shutdown gets the Rasa timeout and this long to store its reply.
SHUTDOWN_DRAIN_MARGIN_S = 2.0

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(allowed_origins: list[str]) -> str:
    """Return the CSP; the charities' own sites (the widget origins) may frame us."""
    if not allowed_origins:
        return CSP
    ancestors = " ".join(["'self'", *allowed_origins])
    return CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Add a strict CSP and friends to every response that has not set its own."""

    def __init__(self, app: ASGIApp, csp: str = CSP) -> None:
        self.app = app
        self.headers = {"content-security-policy": csp, **SECURITY_HEADERS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.decode().lower() for name, _ in headers}
                for name, value in self.headers.items():
                    if name not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _console_mount() -> list[BaseRoute]:
    """Mount the adviser console under /console if it is installed."""
    try:
        from bot.console import routes as console
    except ImportError:
        logger.info("bot.console.routes not importable: no console mounted")
        return []
    middleware_factory = getattr(console, "console_middleware", None)
    middleware: list[Middleware] = (
        list(middleware_factory()) if middleware_factory else []
    )
    return [Mount("/console", routes=console.console_routes(), middleware=middleware)]


async def demo_page(request: Request) -> Response:
    """Serve a fictional community group's page with the widget on it."""
    return FileResponse(STATIC_DIR / "demo.html", headers={"Cache-Control": "no-cache"})


async def healthz(request: Request) -> Response:
    """Say the gateway is up, and which of the parts it needs is down.

    Always 200 while the gateway answers: with Rasa or the action server down it
    still stores every message and queues it for an adviser. ``status`` is "ok"
    when every part is up, else "degraded" with the parts in ``down``.
    """
    parts: health.Parts = request.app.state.health
    report = await parts.report()
    return JSONResponse(report, headers={"Cache-Control": "no-store"})


def _hydrate(database_url: str) -> Callable[[int], dict[str, Any] | None]:
    """Read a message's view by id: what a Redis notice stands for."""

    def load(message_id: int) -> dict[str, Any] | None:
        with session_scope(database_url) as session:
            message = session.get(MessageRow, message_id)
            return message_view(message) if message is not None else None

    return load


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the gateway app for ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    if problem := settings.profile_problem():
        raise SystemExit(f"refusing to start: {problem}")
    rasa = RasaClient(settings)
    pipeline = Pipeline(settings, rasa)
    pipeline.register(WebChannel())
    if settings.smtp_host and settings.smtp_from:
        pipeline.register(EmailChannel(settings, pipeline))  # advisers' email replies
    telegram = TelegramChannel(pipeline) if settings.telegram_bot_token else None
    if telegram is not None:
        pipeline.register(telegram)

    async def telegram_webhook(request: Request) -> Response:
        if telegram is None:
            return JSONResponse({"error": "telegram is not configured"}, 404)
        return await telegram.webhook(request)

    telegram_starter = (
        health.TelegramStarter(
            telegram,
            # several workers polling would steal each other's updates
            leadership=Leadership(settings.database_url, "telegram-polling")
            if telegram.polling and settings.is_scaled
            else None,
        )
        if telegram is not None
        else None
    )
    retention = RetentionSweeper(settings)

    bridge = (
        RedisBridge(
            settings.redis_url,
            settings.redis_key_prefix,
            _hydrate(settings.database_url),
        )
        if settings.is_scaled and settings.redis_url
        else None
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if bridge is not None:
            await bridge.start()  # live updates from and to the other workers
        rasa_client.set_client(rasa)
        delivery.set_pipeline(pipeline)
        await delivery.start_worker(pipeline)  # the outbox and the sweeper
        await retention.start()  # the daily privacy sweep (bot/privacy)
        if telegram_starter is not None:
            # Retried in the background: a Telegram outage never keeps the
            # widget and the console from starting.
            await telegram_starter.begin()
        try:
            yield {}
        finally:
            if telegram is not None:
                # Telegram's turns run after the webhook has answered, so the
                # server's graceful shutdown does not wait for them: this does.
                await telegram.drain(settings.rasa_timeout_s + SHUTDOWN_DRAIN_MARGIN_S)
            if telegram_starter is not None:
                await telegram_starter.stop()
            await retention.stop()
            await rasa.aclose()
            delivery.set_pipeline(None)
            rasa_client.set_client(None)
            if bridge is not None:
                await bridge.stop()
            aclose = getattr(pipeline.locks, "aclose", None)
            if aclose is not None:
                await aclose()

    routes: list[BaseRoute] = [
        Route("/", demo_page, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route(WEBHOOK_PATH, telegram_webhook, methods=["POST"]),
        *widget_routes(pipeline),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        *_console_mount(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityHeaders,
                csp=content_security_policy(settings.widget_allowed_origins),
            ),
            # every route: a body over the cap is a 413 before it is read whole
            Middleware(
                RequestBodyLimitMiddleware,
                max_body_size=settings.max_request_body_bytes,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    app.state.telegram = telegram
    app.state.health = health.Parts(settings, rasa, telegram_starter)
    app.state.bridge = bridge
    app.state.retention = retention
    return app
