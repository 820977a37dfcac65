"""Run in the Rasa environment by test_speedups.py: prints one JSON report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rasa.shared.utils.common  # noqa: E402
from rasa.shared.core.events import Event  # noqa: E402

from rasa_addons import speedups  # noqa: E402

names = sorted({c.type_name for c in rasa.shared.utils.common.all_subclasses(Event)})
original = speedups._rasa_resolve_by_type
same = {n: Event.resolve_by_type(n) is original(n) for n in names}


class LateEvent(Event):  # imported after the table was built
    type_name = "frontdoor_late_event"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LateEvent)

    def __hash__(self) -> int:
        return 0

    def as_story_string(self) -> str:
        return ""


errors = []
try:
    Event.resolve_by_type("no_such_event")
except ValueError as e:
    errors.append(str(e))
report = {
    "names": len(names),
    "all_same": all(same.values()),
    "late_found": Event.resolve_by_type("frontdoor_late_event") is LateEvent,
    "topic": Event.resolve_by_type("topic"),
    "default": Event.resolve_by_type("no_such_event", LateEvent) is LateEvent,
    "errors": errors,
    "round_trip": type(Event.from_parameters({"event": "slot", "name": "x",
                                              "value": 1})).__name__,
}


async def kept_connections() -> dict:
    """Three action calls through EndpointConfig.request to a loopback server:
    one TCP connection (kept), the answers as before, a 449 still raised."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    peers: set = set()

    async def webhook(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"error": "no"}, status=449)
        return web.json_response({"echo": body["n"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    answers = [await endpoint.request(json={"n": n}) for n in range(3)]
    status = None
    try:
        await endpoint.request(json={"n": 9, "fail": True})
    except ClientResponseError as e:
        status = e.status
    again = await EndpointConfig(endpoint.url).request(json={"n": 4})
    session_open = not endpoint._kept[1].closed
    await endpoint._kept[1].close()
    after_close = await endpoint.request(json={"n": 5})  # a new session, same answer
    await runner.cleanup()
    await asyncio.sleep(0)
    return {"answers": answers, "status": status, "again": again,
            "connections": len(peers), "session_open": session_open,
            "after_close": after_close}


import asyncio  # noqa: E402

report["kept"] = asyncio.run(kept_connections())


def debug_only_deepcopies() -> dict:
    """Each module whose `copy` is replaced: is every deepcopy inside a
    structlog debug call (within the call's first lines)?"""
    import inspect

    import rasa.core.policies.memoization as memo
    import rasa.core.policies.rule_policy as rule
    import rasa.core.processor as proc

    out = {}
    for name, module in (("processor", proc), ("rule", rule), ("memo", memo)):
        lines = inspect.getsource(module).splitlines()
        sites = [i for i, ln in enumerate(lines) if "copy.deepcopy(" in ln]
        in_debug = [
            any("structlogger.debug(" in lines[j] for j in range(max(0, i - 6), i + 1))
            for i in sites
        ]
        other = [ln.strip() for ln in lines if "copy." in ln and "deepcopy" not in ln]
        value = [1, {"a": [2]}]
        out[name] = {"sites": len(sites), "all_debug": all(in_debug),
                     "other_uses": other,
                     "passed_as_is": module.copy.deepcopy(value) is value,
                     "copy_kept": module.copy.copy(value) is not value}
    return out


report["log_copies"] = debug_only_deepcopies()
print("PROBE-JSON " + json.dumps(report))
