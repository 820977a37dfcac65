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
    language_of,
    logger,
    recent_messages,
    say,
)
from bot.conversations import service
from bot.db.models import Organisation
from bot.domain.safety import RISK_INTENT, URGENT_REASON, emergency_text
from bot.i18n import text

HANDED_OVER = text("actions.handed_over", "en")
HANDOFF_FAILED = text("actions.handoff_failed", "en")


def handoff_reason(tracker: Tracker) -> str:
    """Return why the person is being handed over, from the latest intent."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == RISK_INTENT:
        return URGENT_REASON
    if intent == "affirm":
        return "accepted_offer"
    return "asked_for_person"


def asked_about(tracker: Tracker) -> tuple[str | None, str | None]:
    """The topic of a person request made inside a topic question ("could
    someone ring me about Gift Aid?"): the classifier keeps it (``triage``)."""
    triage = tracker.latest_message.get("triage") or {}
    return triage.get("topic"), triage.get("subtopic")


def _record(session: Session, *, org_ids: list[str], **kwargs: Any) -> int:
    """Ask the conversation service for the hand-over (it writes the status)."""
    names = [
        o.name for o in (session.get(Organisation, i) for i in org_ids) if o is not None
    ]
    return service.hand_over(session, organisation_names=names, **kwargs).handoff.id


class ActionHandoff(Action):
    """Record a hand-over with its summary, then pause the bot.

    Someone at risk (``report_risk``) is handed over as urgent and told the one
    emergency text of bot.domain.safety. Through the gateway that text comes from
    the gateway's risk check instead, which drops the bot's messages for an
    urgent turn, so the person never reads it twice.
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        conv = conversation_id(tracker)
        resolved = tracker.get_slot("location_status") == "resolved"
        reason = handoff_reason(tracker)
        nation = tracker.get_slot("nation")
        urgent = (
            emergency_text(nation, language_of(tracker))
            if reason == URGENT_REASON
            else ""
        )
        try:
            await in_session(
                _record,
                org_ids=list(tracker.get_slot("organisation_ids") or []),
                conversation_id=conv,
                channel=channel_of(tracker),
                reason=reason,
                topic=tracker.get_slot("topic") or asked_about(tracker)[0],
                subtopic=tracker.get_slot("subtopic") or asked_about(tracker)[1],
                place_name=tracker.get_slot("place_name") if resolved else None,
                lad_code=tracker.get_slot("lad_code") if resolved else None,
                last_messages=recent_messages(tracker),
            )
        except Exception:
            logger.exception("recording the handoff failed conversation_id=%s", conv)
            if urgent:
                dispatcher.utter_message(text=urgent)
            dispatcher.utter_message(text=say(tracker, "actions.handoff_failed"))
            return [ConversationPaused()]
        dispatcher.utter_message(text=urgent or say(tracker, "actions.handed_over"))
        return [ConversationPaused()]
