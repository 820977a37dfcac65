"""Finding the local infrastructure organisation(s) for the person's place."""

from __future__ import annotations

import re
from datetime import date
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
from bot.directory.reports import report_button
from bot.directory.service import (
    AreaOrganisations,
    OrganisationInfo,
    national_bodies,
    organisations_for_lad,
)
from bot.i18n import catalogue, text


def _kind_key(kind: str) -> str:
    """ "volunteer centre" -> "volunteer_centre", "infrastructure (other)" ->
    "infrastructure_other": the kind's key in bot/i18n."""
    return re.sub(r"[^a-z]+", "_", kind.lower()).strip("_")


def kind_offers(kind: str, lang: str | None = "en") -> str:
    """What an organisation of this kind does, in the conversation's language
    (bot/i18n actions.kinds.<kind>); an unknown kind is named as it is."""
    key = "actions.kinds." + _kind_key(kind)
    return text(key, lang) if key in catalogue("en") else kind


def kind_name(kind: str, lang: str | None = "en") -> str:
    """What a kind is called in a sentence ("the council for voluntary service")."""
    key = "actions.kind_names." + _kind_key(kind)
    return text(key, lang) if key in catalogue("en") else kind


# What each kind of organisation in the directory does, in general terms.
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


def month_year(day: date, lang: str | None = None) -> str:
    """Return "November 2026" (in the conversation's language)."""
    months = text("directory.months", lang).split(",")
    return f"{months[day.month - 1]} {day.year}"




def describe(org: OrganisationInfo, lang: str | None = None) -> str:
    """Return one line about an organisation, using only directory facts."""
    line = f"• {org.name}: {kind_offers(org.kind, lang)}."
    contacts = [c for c in (org.website, org.email, org.phone) if c]
    line += (
        (" " + " · ".join(contacts)) if contacts else text("actions.no_contact", lang)
    )
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
        kind = kind_name(org.kind, lang)
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
            lines.append(text("actions.lio_national_too", lang))
            lines += [describe(o, lang) for o in area.national]
        return "\n".join(lines)
    if not area.is_fallback:
        intro = "lio_intro_one" if len(area.local) == 1 else "lio_intro_many"
        lines = [text(f"actions.{intro}", lang, where=where)]
        lines += [describe(o, lang) for o in area.local[:4]]
        if not any(o.website or o.email or o.phone for o in area.local[:4]):
            # no way to reach them from what we hold: name the national body too
            lines.append(text("actions.lio_national_too", lang))
            lines += [describe(o, lang) for o in area.national]
        return "\n".join(lines)
    lines = [text("actions.lio_none_on_record", lang, area=area.lad_name)]
    if area.regional:
        lines.append(text("actions.lio_regional", lang))
        lines += [describe(o, lang) for o in area.regional]
    lines.append(text("actions.lio_national", lang))
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
    lines = [text("actions.lio_no_place", lang)]
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
            lang = language_of(tracker)
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
            dispatcher.utter_message(text=say(tracker, "actions.sorry"))
            return []
        if status == "not_found":
            dispatcher.utter_message(text=say(tracker, "actions.where_not_worked_out"))
        # "Is this wrong?": one click queues the entries shown for the operators
        buttons = [report_button(ids, lang)] if ids else []
        dispatcher.utter_message(text=reply, buttons=buttons)
        return [SlotSet("organisation_ids", ids)]
