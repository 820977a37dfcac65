"""The console's audit log page: who opened, exported or erased what (admins)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import guard, run_db, scope_of
from bot.console.views import error_page, render
from bot.privacy import audit


@guard()
async def audit_page(request: Request) -> Response:
    """Show the audit log entries the signed-in admin may read."""
    scope = scope_of(request)
    if not scope.is_admin:
        return error_page(
            request,
            403,
            "Admins only",
            "The audit log is for your organisation's console admins.",
        )
    lines = await run_db(lambda db: audit.entries_for(db, scope))
    return render(request, "audit.html", {"lines": lines, "page": "audit"})
