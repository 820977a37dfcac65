"""Performance fixes for Rasa 3.6 itself, applied when the Rasa process loads us.

RemoteAction._validate_action_result calls `jsonschema.validate`, which checks
the (constant) schema against the metaschema on every call: profiled here at
46 ms per custom action, three quarters of the time Rasa spent on a message.
The same validation with a validator built once costs well under a millisecond.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

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
