"""Finding the local infrastructure organisation(s) for the person's place."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import SORRY, channel_of, conversation_id, in_session, logger
from bot.db.repositories.handoffs import update_triage
from bot.directory.service import (
    AreaOrganisations,
    OrganisationInfo,
    national_bodies,
    organisations_for_lad,
)

# What each kind of organisation in the directory does, in general terms.
KIND_OFFERS = {
    "CVS": "the local council for voluntary service: support, advice and training "
    "for charities and community groups",
    "TSI": "the Third Sector Interface: support for charities, community groups "
    "and volunteering in the area",
    "CVC": "the County Voluntary Council: support for charities, community groups "
    "and volunteering in the county",
    "volunteer centre": "the volunteer centre: help with recruiting and involving "
    "volunteers",
    "rural community council": "the rural community council: support for village "
    "halls and rural community groups",
    "community foundation": "the community foundation: local grant-giving",
    "infrastructure (other)": "a local support body for the voluntary and "
    "community sector",
    "regional body": "a regional network for voluntary and community organisations",
    "national body": "the national body for the voluntary sector",
}


def describe(org: OrganisationInfo) -> str:
    """Return one line about an organisation, using only directory facts."""
    line = f"• {org.name}: {KIND_OFFERS.get(org.kind, org.kind)}."
    contacts = [c for c in (org.website, org.email, org.phone) if c]
    line += (" " + " · ".join(contacts)) if contacts else " (no website on record)"
    if org.confidence == "low":
        line += (
            " We're less sure this listing is current, so check before relying on it."
        )
    return line


def area_reply(area: AreaOrganisations, place_name: str) -> str:
    """Return the reply naming who covers the area, honest about fallbacks."""
    # "Truro (Cornwall)", but not "Truro, Cornwall (Cornwall)" or "Leeds (Leeds)"
    named = area.lad_name.casefold() in place_name.casefold()
    where = place_name if named else f"{place_name} ({area.lad_name})"
    if not area.is_fallback:
        noun = "organisation" if len(area.local) == 1 else "organisations"
        lines = [f"The local support {noun} for {where}:"]
        lines += [describe(o) for o in area.local[:4]]
        if not any(o.website or o.email or o.phone for o in area.local[:4]):
            # no way to reach them from what we hold: name the national body too
            lines.append("The national body can also help:")
            lines += [describe(o) for o in area.national]
        return "\n".join(lines)
    lines = [
        f"We don't have a local support organisation on record for {area.lad_name}."
    ]
    if area.regional:
        lines.append("This regional network covers the area:")
        lines += [describe(o) for o in area.regional]
    lines.append("The national body can help:")
    lines += [describe(o) for o in area.national]
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
            return area_reply(area, place_name), [o.id for o in shown]
    bodies = national_bodies(session)
    update_triage(
        session, conversation_id=conv, channel=channel, topic=topic, subtopic=subtopic
    )
    lines = [
        "Without knowing where your group is, I can't name your local support "
        "organisation, but the national bodies can help:"
    ]
    lines += [describe(o) for o in bodies]
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
            )
        except Exception:
            logger.exception("organisation look-up failed conversation_id=%s", conv)
            dispatcher.utter_message(text=SORRY)
            return []
        if status == "not_found":
            dispatcher.utter_message(text="I couldn't work out where your group is.")
        dispatcher.utter_message(text=text)
        return [SlotSet("organisation_ids", ids)]
