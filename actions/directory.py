"""Finding the local infrastructure organisation(s) for the person's place."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import SORRY, channel_of, conversation_id, in_session, logger
from bot.db.repositories.handoffs import update_triage
from bot.directory.reports import report_button
from bot.directory.service import (
    AreaOrganisations,
    OrganisationInfo,
    national_bodies,
    organisations_for_lad,
)
from bot.i18n import text

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


def month_year(day: date, lang: str | None = None) -> str:
    """Return "November 2026" (in the conversation's language)."""
    months = text("directory.months", lang).split(",")
    return f"{months[day.month - 1]} {day.year}"


# What each kind is called in a sentence ("Doncaster CVS (the council for
# voluntary service) closed ...").
KIND_NAMES = {
    "CVS": "the council for voluntary service",
    "TSI": "the Third Sector Interface",
    "CVC": "the County Voluntary Council",
    "volunteer centre": "the volunteer centre",
    "rural community council": "the rural community council",
    "community foundation": "the community foundation",
    "infrastructure (other)": "a local support body",
}


def describe(org: OrganisationInfo, lang: str | None = None) -> str:
    """Return one line about an organisation, using only directory facts."""
    line = f"• {org.name}: {KIND_OFFERS.get(org.kind, org.kind)}."
    contacts = [c for c in (org.website, org.email, org.phone) if c]
    line += (" " + " · ".join(contacts)) if contacts else " (no website on record)"
    if org.last_verified is not None:
        when = month_year(org.last_verified, lang)
        checked = text("directory.last_checked", lang, month_year=when)
        line += f" ({checked})"
    if org.confidence == "low":
        line += " " + text("directory.low_confidence", lang)
    return line


def closed_lines(area: AreaOrganisations, lang: str | None = None) -> list[str]:
    """Return "X closed in 2016." for each closed local body of the area."""
    lines = []
    for org, _successor in area.closed:
        kind = KIND_NAMES.get(org.kind, org.kind)
        if org.closed_note:
            lines.append(
                text(
                    "directory.closed",
                    lang,
                    name=org.name,
                    kind=kind,
                    when=org.closed_note,
                )
            )
        else:
            lines.append(
                text("directory.closed_no_date", lang, name=org.name, kind=kind)
            )
    return lines


def area_reply(
    area: AreaOrganisations, place_name: str, lang: str | None = None
) -> str:
    """Return the reply naming who covers the area, honest about fallbacks."""
    # "Truro (Cornwall)", but not "Truro, Cornwall (Cornwall)" or "Leeds (Leeds)"
    named = area.lad_name.casefold() in place_name.casefold()
    where = place_name if named else f"{place_name} ({area.lad_name})"
    closed = closed_lines(area, lang)
    if closed:
        # The area's own body closed: say so, then what the data has instead.
        lines = [*closed, text("directory.instead", lang)]
        shown = area.local[:4] if not area.is_fallback else area.regional
        successors = [s for _, s in area.closed if s is not None]
        for s in successors:
            if s.id not in [o.id for o in shown]:
                shown = [s, *shown]
        lines += [describe(o, lang) for o in shown]
        if area.is_fallback or not any(o.website or o.email or o.phone for o in shown):
            lines.append("The national body can also help:")
            lines += [describe(o, lang) for o in area.national]
        return "\n".join(lines)
    if not area.is_fallback:
        noun = "organisation" if len(area.local) == 1 else "organisations"
        lines = [f"The local support {noun} for {where}:"]
        lines += [describe(o, lang) for o in area.local[:4]]
        if not any(o.website or o.email or o.phone for o in area.local[:4]):
            # no way to reach them from what we hold: name the national body too
            lines.append("The national body can also help:")
            lines += [describe(o, lang) for o in area.national]
        return "\n".join(lines)
    lines = [
        f"We don't have a local support organisation on record for {area.lad_name}."
    ]
    if area.regional:
        lines.append("This regional network covers the area:")
        lines += [describe(o, lang) for o in area.regional]
    lines.append("The national body can help:")
    lines += [describe(o, lang) for o in area.national]
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
    lang: str | None = None,
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
            successors = [s for _, s in area.closed if s is not None]
            shown = [s for s in successors if s not in shown] + shown
            update_triage(
                session,
                conversation_id=conv,
                channel=channel,
                topic=topic,
                subtopic=subtopic,
                place_name=place_name,
                lad_code=area.lad_code,  # current even if the slot held an old code
                organisation_id=shown[0].id if shown else None,
            )
            return area_reply(area, place_name, lang), [o.id for o in shown]
    bodies = national_bodies(session)
    update_triage(
        session, conversation_id=conv, channel=channel, topic=topic, subtopic=subtopic
    )
    lines = [
        "Without knowing where your group is, I can't name your local support "
        "organisation, but the national bodies can help:"
    ]
    lines += [describe(o, lang) for o in bodies]
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
            lang = tracker.get_slot("language")
            reply, ids = await in_session(
                _lookup,
                lad_code=lad_code,
                place_name=tracker.get_slot("place_name") or "",
                conv=conv,
                channel=channel_of(tracker),
                topic=tracker.get_slot("topic"),
                subtopic=tracker.get_slot("subtopic"),
                lang=lang,
            )
        except Exception:
            logger.exception("organisation look-up failed conversation_id=%s", conv)
            dispatcher.utter_message(text=SORRY)
            return []
        if status == "not_found":
            dispatcher.utter_message(text="I couldn't work out where your group is.")
        # "Is this wrong?": one click queues the entries shown for the operators
        buttons = [report_button(ids, lang)] if ids else []
        dispatcher.utter_message(text=reply, buttons=buttons)
        return [SlotSet("organisation_ids", ids)]
