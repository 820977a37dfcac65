"""Handing the conversation to a human adviser."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    channel_of,
    conversation_id,
    in_session,
    logger,
    recent_messages,
)
from bot.db.models import Organisation
from bot.db.repositories.handoffs import record_handoff

HANDED_OVER = (
    "I'm passing you to a human adviser now. They'll reply here in this chat, and "
    "they can see our conversation so you won't need to repeat yourself."
)
HANDOFF_FAILED = (
    "I'm passing you to a human adviser. There was a problem saving the details, "
    "so you may need to tell them your question again."
)


def handoff_reason(tracker: Tracker) -> str:
    """Return why the person is being handed over, from the latest intent."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "report_risk":
        return "risk"
    if intent == "affirm":
        return "accepted_offer"
    return "asked_for_person"


def _record(session: Session, *, org_ids: list[str], **kwargs: Any) -> int:
    names = [
        o.name for o in (session.get(Organisation, i) for i in org_ids) if o is not None
    ]
    return record_handoff(session, organisation_names=names, **kwargs).id


class ActionHandoff(Action):
    """Record a hand-over with its summary, then pause the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        conv = conversation_id(tracker)
        resolved = tracker.get_slot("location_status") == "resolved"
        try:
            await in_session(
                _record,
                org_ids=list(tracker.get_slot("organisation_ids") or []),
                conversation_id=conv,
                channel=channel_of(tracker),
                reason=handoff_reason(tracker),
                topic=tracker.get_slot("topic"),
                subtopic=tracker.get_slot("subtopic"),
                place_name=tracker.get_slot("place_name") if resolved else None,
                lad_code=tracker.get_slot("lad_code") if resolved else None,
                last_messages=recent_messages(tracker),
            )
        except Exception:
            logger.exception("recording the handoff failed conversation_id=%s", conv)
            dispatcher.utter_message(text=HANDOFF_FAILED)
            return [ConversationPaused()]
        dispatcher.utter_message(text=HANDED_OVER)
        return [ConversationPaused()]
