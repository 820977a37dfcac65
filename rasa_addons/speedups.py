"""Performance fixes for Rasa 3.6 itself, applied when the Rasa process loads us.

RemoteAction._validate_action_result calls `jsonschema.validate`, which checks
the (constant) schema against the metaschema on every call: profiled here at
46 ms per custom action, three quarters of the time Rasa spent on a message.
The same validation with a validator built once costs well under a millisecond.

Event.resolve_by_type walks every subclass of Event (recursively, asking
`inspect.isabstract` of each) for every event it deserialises; reading a tracker
from the SQL store does that for each event of the conversation, and a message
reads its tracker more than once: about 8% of the Rasa process's time under load.
The same answer from a table by type name, rebuilt whenever a name is missing
(so an event class imported later is still found), costs a dictionary look-up.

The processor and the rule and memoization policies deep-copy the tracker's
states, events and slots for every structlog debug call they make, several per
prediction, although the filtering logger drops the call unless Rasa runs at
DEBUG; those modules use `copy` for nothing else. Here their `copy` is one whose
`deepcopy` hands the value over as it is: structlog renders a call at once and
never changes what it is given, so the log line reads the same.

EndpointConfig.request opens a new aiohttp ClientSession, and so a new TCP
connection to the action server, for every custom action call (several per
message), and closes it after. Here each endpoint keeps one session per event
loop, whose idle connections are dropped after 15 s: well before the action
server's own keep-alive timeout (rasa_sdk sets Sanic's to 120 s), so the server
never closes a connection this side is about to reuse.
"""

from __future__ import annotations

import asyncio
import copy
import types
from typing import Any, Dict, Optional, Text, Tuple, Type

import aiohttp
import rasa.core.policies.memoization
import rasa.core.policies.rule_policy
import rasa.core.processor
import rasa.shared.utils.common
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

_validator: Optional[Any] = None


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    try:
        _validator.validate(result)
        return True
    except ValidationError as e:
        e.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


_event_types: Dict[Text, Type[Event]] = {}


def resolve_by_type(
    type_name: Text, default: Optional[Type[Event]] = None
) -> Optional[Type[Event]]:
    """Event.resolve_by_type, from a table: the first subclass with the name."""
    found = _event_types.get(type_name)
    if found is None:
        for cls in rasa.shared.utils.common.all_subclasses(Event):
            _event_types.setdefault(cls.type_name, cls)  # the first, as Rasa's loop
        found = _event_types.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # backwards compatibility to support old TopicSet evts
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


_rasa_resolve_by_type = Event.resolve_by_type
Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


KEEPALIVE_S = 15.0


class _KeptSession:
    """`async with` on a kept session: enters it, never closes it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def kept_session(self: EndpointConfig) -> _KeptSession:
    """EndpointConfig.session, kept per endpoint and event loop."""
    loop = asyncio.get_running_loop()
    kept: Optional[Tuple[Any, aiohttp.ClientSession]] = getattr(self, "_kept", None)
    if kept is None or kept[0] is not loop or kept[1].closed:
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(
                self.basic_auth["username"], self.basic_auth["password"]
            )
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
        )
        self._kept = (loop, session)  # type: ignore[attr-defined]
        kept = (loop, session)
    return _KeptSession(kept[1])


EndpointConfig.session = kept_session  # type: ignore[method-assign,assignment]


def _logged_as_is(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy` for values that only go to a debug log call."""
    return value


# only the debug-log arguments of these modules are deep-copied (checked for
# Rasa 3.6.21: rule_policy 1, memoization 3, processor 6 sites, all structlog
# debug calls); any other use of `copy` there gets the real module's function
_log_copy = types.ModuleType("copy")
_log_copy.__dict__.update(copy.__dict__)
_log_copy.deepcopy = _logged_as_is  # type: ignore[attr-defined]
for _module in (
    rasa.core.processor,
    rasa.core.policies.rule_policy,
    rasa.core.policies.memoization,
):
    _module.copy = _log_copy  # type: ignore[attr-defined]
