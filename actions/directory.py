"""Finding the local infrastructure organisation(s) for the person's place."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import (
    channel_of,
    conversation_id,
    in_session,
    language_of,
    logger,
    say,
)
from bot.db.repositories.handoffs import update_triage
from bot.directory.service import (
    AreaOrganisations,
    OrganisationInfo,
    national_bodies,
    organisations_for_lad,
)
from bot.i18n import catalogue, text


# What each kind of organisation in the directory does, in general terms
# (bot/i18n, actions.kinds.<kind>: "volunteer centre" -> volunteer_centre).
def kind_offers(kind: str, language: str = "en") -> str:
    """What an organisation of this kind does, in ``language``."""
    key = "actions.kinds." + re.sub(r"[^a-z]+", "_", kind.lower()).strip("_")
    return text(key, language) if key in catalogue(language) else kind


KIND_OFFERS = {
    kind: kind_offers(kind)
    for kind in (
        "CVS",
        "TSI",
        "CVC",
        "volunteer centre",
        "rural community council",
        "community foundation",
        "infrastructure (other)",
        "regional body",
        "national body",
    )
}


def describe(org: OrganisationInfo, language: str = "en") -> str:
    """Return one line about an organisation, using only directory facts."""
    line = f"• {org.name}: {kind_offers(org.kind, language)}."
    contacts = [c for c in (org.website, org.email, org.phone) if c]
    line += (
        (" " + " · ".join(contacts))
        if contacts
        else text("actions.no_contact", language)
    )
    if org.confidence == "low":
        line += text("actions.low_confidence", language)
    return line


def area_reply(area: AreaOrganisations, place_name: str, language: str = "en") -> str:
    """Return the reply naming who covers the area, honest about fallbacks."""
    # "Truro (Cornwall)", but not "Truro, Cornwall (Cornwall)" or "Leeds (Leeds)"
    named = area.lad_name.casefold() in place_name.casefold()
    where = place_name if named else f"{place_name} ({area.lad_name})"

    def say(key: str, **values: object) -> str:
        return text(f"actions.{key}", language, **values)

    if not area.is_fallback:
        intro = "lio_intro_one" if len(area.local) == 1 else "lio_intro_many"
        lines = [say(intro, where=where)]
        lines += [describe(o, language) for o in area.local[:4]]
        if not any(o.website or o.email or o.phone for o in area.local[:4]):
            # no way to reach them from what we hold: name the national body too
            lines.append(say("lio_national_too"))
            lines += [describe(o, language) for o in area.national]
        return "\n".join(lines)
    lines = [say("lio_none_on_record", area=area.lad_name)]
    if area.regional:
        lines.append(say("lio_regional"))
        lines += [describe(o, language) for o in area.regional]
    lines.append(say("lio_national"))
    lines += [describe(o, language) for o in area.national]
    return "\n".join(lines)


def _lookup(
    session: Session,
    *,
    lad_code: str | None,
    place_name: str,
    conv: str,
    channel: str,
    topic: str | None,
    subtopic: str | None,
    language: str = "en",
) -> tuple[str, list[str]]:
    if lad_code:
        area = organisations_for_lad(session, lad_code=lad_code)
        if area is not None:
            shown = (
                area.local[:4]
                if not area.is_fallback
                else area.regional + area.national
            )
            if not area.is_fallback and not any(o.website for o in shown):
                shown = shown + area.national
            update_triage(
                session,
                conversation_id=conv,
                channel=channel,
                topic=topic,
                subtopic=subtopic,
                place_name=place_name,
                lad_code=lad_code,
                organisation_id=shown[0].id if shown else None,
            )
            return area_reply(area, place_name, language), [o.id for o in shown]
    bodies = national_bodies(session)
    update_triage(
        session, conversation_id=conv, channel=channel, topic=topic, subtopic=subtopic
    )
    lines = [text("actions.lio_no_place", language)]
    lines += [describe(o, language) for o in bodies]
    return "\n".join(lines), [o.id for o in bodies]


class ActionFindLio(Action):
    """Tell the person which organisation(s) cover their place."""

    def name(self) -> str:
        return "action_find_lio"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        status = tracker.get_slot("location_status")
        lad_code = tracker.get_slot("lad_code") if status == "resolved" else None
        conv = conversation_id(tracker)
        try:
            text, ids = await in_session(
                _lookup,
                lad_code=lad_code,
                place_name=tracker.get_slot("place_name") or "",
                conv=conv,
                channel=channel_of(tracker),
                topic=tracker.get_slot("topic"),
                subtopic=tracker.get_slot("subtopic"),
                language=language_of(tracker),
            )
        except Exception:
            logger.exception("organisation look-up failed conversation_id=%s", conv)
            dispatcher.utter_message(text=say(tracker, "actions.sorry"))
            return []
        if status == "not_found":
            dispatcher.utter_message(text=say(tracker, "actions.where_not_worked_out"))
        dispatcher.utter_message(text=text)
        return [SlotSet("organisation_ids", ids)]
