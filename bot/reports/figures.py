"""The report's figures, computed from the anonymous facts alone.

``build`` returns one plain dict (the JSON export is exactly this), scoped like
the console: an organisation sees the conversations in its areas (or routed to
it); a national body, or no organisation, sees all. ``suppress`` turns every
count from 1 to 4 into "<5" (and drops the medians and means of fewer than five)
for anything shown beyond the organisation's own advisers.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.db.models import (
    ConversationFacts,
    LocalAuthority,
    Organisation,
    ReferralFact,
)
from bot.db.repositories import access as access_repo
from bot.settings import get_settings

SMALL = 5  # counts below this are shown as "<5" outside the organisation
SUPPRESSED = "<5"
# Below this NLU confidence a question counts as one the assistant was unsure of.
UNSURE_BELOW = 0.6
LEAST_CONFIDENT_SHOWN = 10
HANDOVER_REASONS = (
    "asked_for_person",
    "other_enquiry",
    "accepted_offer",
    "urgent",
    "bot_unavailable",
)
NO_TOPIC = "none"


class UnknownOrganisation(LookupError):
    """No organisation with that id."""


@dataclass(frozen=True)
class Scope:
    """Whose figures: the console's scoping rule (``bot.db.repositories.access``)
    applied to the facts, or every area (``access`` None, or a national role)."""

    access: access_repo.Scope | None = None
    organisation_id: str | None = None  # one organisation chosen
    name: str | None = None

    @property
    def everything(self) -> bool:
        """Whether every area is in scope."""
        return self.access is None or self.access.everything

    @property
    def organisation_ids(self) -> frozenset[str]:
        """The organisations in scope (empty: every area)."""
        return frozenset() if self.access is None else self.access.organisation_ids

    def describe(self) -> str:
        """Say whose figures these are."""
        if self.everything:
            return "All areas"
        return f"{self.name}: the conversations routed to it"


def scope_for(session: Session, organisation_id: str | None) -> Scope:
    """Return the scope of one organisation (None: every area): what an adviser
    of that organisation sees in the console."""
    if organisation_id is None:
        return Scope()
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise UnknownOrganisation(organisation_id)
    rule = access_repo.Scope(adviser_id=0, organisation_ids=frozenset({org.id}))
    return Scope(rule, org.id, org.name)


def adviser_scope(session: Session, rule: access_repo.Scope) -> Scope:
    """Return the scope of an adviser's memberships (all their organisations)."""
    if rule.everything:
        return Scope(rule)
    names = list(
        session.scalars(
            select(Organisation.name)
            .where(Organisation.id.in_(sorted(rule.organisation_ids)))
            .order_by(Organisation.name)
        )
    )
    ids = sorted(rule.organisation_ids)
    only = ids[0] if len(ids) == 1 else None
    return Scope(rule, only, " and ".join(names) or "No organisation")


def _facts_visible(scope: Scope) -> Any:
    assert scope.access is not None
    return access_repo.visible(
        scope.access,
        lad_code=ConversationFacts.lad_code,
        organisation_id=ConversationFacts.organisation_id,
    )


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last instants, whole days in the advisers' zone."""
    zone = ZoneInfo(get_settings().adviser_timezone)
    first = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return first, after.astimezone(UTC)


def load_facts(
    session: Session, *, start: date, end: date, scope: Scope
) -> list[ConversationFacts]:
    """Return the facts of the conversations started in the period, in scope."""
    first, after = _bounds(start, end)
    query = select(ConversationFacts).where(
        ConversationFacts.started_at >= first, ConversationFacts.started_at < after
    )
    if not scope.everything:
        query = query.where(_facts_visible(scope))
    return list(session.scalars(query.order_by(ConversationFacts.started_at)))


def load_referrals(
    session: Session, *, start: date, end: date, scope: Scope
) -> list[ReferralFact]:
    """Return the referrals made in the period that involve the scope."""
    first, after = _bounds(start, end)
    query = select(ReferralFact).where(
        ReferralFact.referred_at >= first, ReferralFact.referred_at < after
    )
    if not scope.everything:
        orgs = sorted(scope.organisation_ids)
        query = query.where(
            or_(
                ReferralFact.from_organisation_id.in_(orgs),
                ReferralFact.to_organisation_id.in_(orgs),
            )
        )
    return list(session.scalars(query.order_by(ReferralFact.id)))


# ---------------------------------------------------------------- statistics


def p90(values: list[float]) -> float:
    """The 90th percentile by the nearest-rank method (a value that occurred)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, Any]:
    """Median, 90th percentile and count of ``values`` (minutes, one decimal)."""
    if not values:
        return {"median": None, "p90": None, "count": 0}
    return {
        "median": round(statistics.median(values), 1),
        "p90": round(p90(values), 1),
        "count": len(values),
    }


def _minutes(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds() / 60)


def _timings(rows: list[ConversationFacts], end: str) -> dict[str, Any]:
    """Minutes from hand-over to ``end``: all, in and out of adviser hours."""
    every: list[float] = []
    inside: list[float] = []
    outside: list[float] = []
    for f in rows:
        value = _minutes(getattr(f, end), f.handed_over_at)
        if value is None:
            continue
        every.append(value)
        (outside if f.handover_out_of_hours else inside).append(value)
    return {
        **spread(every),
        "in_hours": spread(inside),
        "out_of_hours": spread(outside),
    }


def handover_reason(f: ConversationFacts) -> str:
    """The report's reason for a hand-over.

    The assistant offers a person after an answer it cannot give: an offer
    accepted on a conversation with no topic was an enquiry outside our topics.
    """
    reason = f.handover_reason or "asked_for_person"
    if reason == "accepted_offer" and not f.topic:
        return "other_enquiry"
    return reason


def _week(at: datetime, zone: ZoneInfo) -> str:
    year, week, _ = at.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _month(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m")


def _ratings(rows: list[ConversationFacts]) -> dict[str, Any]:
    scores = [f.rating for f in rows if f.rating is not None]
    counts = Counter(scores)
    return {
        "asked": sum(1 for f in rows if f.rating_asked_at is not None),
        "responses": len(scores),
        "mean": round(statistics.fmean(scores), 2) if scores else None,
        "by_score": {str(s): counts.get(s, 0) for s in range(1, 6)},
    }


def _core(rows: list[ConversationFacts]) -> dict[str, Any]:
    """The figures every scope and every organisation gets."""
    handed = [f for f in rows if f.handed_over_at is not None]
    reasons = Counter(handover_reason(f) for f in handed)
    return {
        "enquiries": len(rows),
        "answered_by_assistant": len(rows) - len(handed),
        "handed_over": len(handed),
        "first_reply_minutes": _timings(rows, "first_reply_at"),
        "resolution_minutes": _timings(rows, "resolved_at"),
        "ratings": _ratings(rows),
        "handover_reasons": {r: reasons.get(r, 0) for r in HANDOVER_REASONS}
        | {r: n for r, n in reasons.items() if r not in HANDOVER_REASONS},
    }


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def build(
    session: Session,
    *,
    start: date,
    end: date,
    organisation_id: str | None = None,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Return every figure of the report for the period (dates inclusive), for
    one organisation, a given scope, or (neither) every area."""
    if end < start:
        raise ValueError("the period ends before it starts")
    if scope is None:
        scope = scope_for(session, organisation_id)
    rows = load_facts(session, start=start, end=end, scope=scope)
    referrals = load_referrals(session, start=start, end=end, scope=scope)
    zone = ZoneInfo(get_settings().adviser_timezone)
    handed = [f for f in rows if f.handed_over_at is not None]
    names = _names(session, rows, referrals)

    figures: dict[str, Any] = {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "scope": {
            "organisation": scope.organisation_id,
            "organisations": sorted(scope.organisation_ids),
            "all_areas": scope.everything,
            "description": scope.describe(),
        },
        **_core(rows),
    }
    figures["by_week"] = dict(
        sorted(Counter(_week(f.started_at, zone) for f in rows).items())
    )
    figures["by_month"] = dict(
        sorted(Counter(_month(f.started_at, zone) for f in rows).items())
    )
    figures["by_topic"] = _sorted_counts(Counter(f.topic or NO_TOPIC for f in rows))
    figures["by_subtopic"] = _sorted_counts(
        Counter(f"{f.topic}/{f.subtopic}" for f in rows if f.topic and f.subtopic)
    )
    figures["by_council"] = _sorted_counts(
        Counter(f.lad_code for f in rows if f.lad_code)
    )
    figures["unknown_area"] = sum(1 for f in rows if not f.lad_code)
    figures["by_channel"] = _sorted_counts(Counter(f.channel for f in rows))
    figures["assistant_accepted"] = sum(
        1 for f in rows if f.assistant_accepted_at is not None
    )
    figures["handed_over_out_of_hours"] = sum(
        1 for f in handed if f.handover_out_of_hours
    )
    figures["handover_reasons"]["out_of_hours"] = figures["handed_over_out_of_hours"]
    figures["outcomes"] = _sorted_counts(Counter(f.outcome for f in rows if f.outcome))
    figures["unresolved"] = sum(1 for f in handed if f.resolved_at is None)
    figures["fallback_areas"] = _sorted_counts(
        Counter(f.lad_code for f in rows if f.fallback and f.lad_code)
    )
    figures["fallback_enquiries"] = sum(figures["fallback_areas"].values())
    figures["out_of_hours"] = sum(1 for f in rows if f.started_out_of_hours)
    figures["least_confident"] = _least_confident(rows)
    figures["referrals"] = _referrals(referrals, scope)
    figures["referred_on"] = figures["referrals"]["sent"]
    figures["by_organisation"] = _by_organisation(rows, referrals, scope)
    figures["names"] = names
    return figures


def _least_confident(rows: list[ConversationFacts]) -> list[dict[str, Any]]:
    """The intents the assistant was least sure about, by conversations."""
    unsure: dict[str, list[float]] = {}
    for f in rows:
        if f.min_confidence is not None and f.min_confidence < UNSURE_BELOW:
            unsure.setdefault(f.min_confidence_intent or "unknown", []).append(
                f.min_confidence
            )
    ranked = sorted(unsure.items(), key=lambda kv: (-len(kv[1]), min(kv[1])))
    return [
        {
            "intent": intent,
            "conversations": len(values),
            "lowest_confidence": round(min(values), 2),
        }
        for intent, values in ranked[:LEAST_CONFIDENT_SHOWN]
    ]


def _referrals(referrals: list[ReferralFact], scope: Scope) -> dict[str, Any]:
    sent: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for r in referrals:
        sent[r.from_organisation_id or NO_TOPIC] += 1
        received[r.to_organisation_id] += 1
    own = scope.organisation_ids
    orgs = sorted(set(sent) | set(received))
    return {
        "sent": sum(sent.get(o, 0) for o in own) if own else len(referrals),
        "received": sum(received.get(o, 0) for o in own) if own else len(referrals),
        "by_organisation": {
            o: {"sent": sent.get(o, 0), "received": received.get(o, 0)} for o in orgs
        },
    }


def _by_organisation(
    rows: list[ConversationFacts], referrals: list[ReferralFact], scope: Scope
) -> dict[str, Any]:
    """The core figures per organisation the conversations were routed to, for a
    national body (or everyone) to compare areas."""
    if not scope.everything:
        return {}
    groups: dict[str, list[ConversationFacts]] = {}
    for f in rows:
        groups.setdefault(f.organisation_id or NO_TOPIC, []).append(f)
    out: dict[str, Any] = {}
    for org, group in sorted(groups.items()):
        core = _core(group)
        out[org] = {
            "enquiries": core["enquiries"],
            "answered_by_assistant": core["answered_by_assistant"],
            "handed_over": core["handed_over"],
            "first_reply_minutes": {
                k: core["first_reply_minutes"][k] for k in ("median", "p90", "count")
            },
            "ratings": {
                k: core["ratings"][k] for k in ("responses", "mean")
            },
            "referrals_sent": sum(
                1 for r in referrals if r.from_organisation_id == org
            ),
            "referrals_received": sum(
                1 for r in referrals if r.to_organisation_id == org
            ),
        }
    return out


def _names(
    session: Session, rows: list[ConversationFacts], referrals: list[ReferralFact]
) -> dict[str, dict[str, str]]:
    """Names of the councils and organisations the figures mention."""
    lads = {f.lad_code for f in rows if f.lad_code}
    orgs = {f.organisation_id for f in rows if f.organisation_id}
    for r in referrals:
        orgs |= {r.to_organisation_id} | (
            {r.from_organisation_id} if r.from_organisation_id else set()
        )
    councils: dict[str, str] = {}
    if lads:
        for code, name in session.execute(
            select(LocalAuthority.code, LocalAuthority.name).where(
                LocalAuthority.code.in_(sorted(lads))
            )
        ):
            councils[code] = name
    organisations: dict[str, str] = {}
    if orgs:
        for org_id, name in session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_(sorted(orgs))
            )
        ):
            organisations[org_id] = name
    return {"councils": councils, "organisations": organisations}


# --------------------------------------------------------------- suppression

# Counts at the top level, and dicts whose values are counts.
_COUNTS = (
    "enquiries",
    "answered_by_assistant",
    "handed_over",
    "assistant_accepted",
    "handed_over_out_of_hours",
    "unresolved",
    "fallback_enquiries",
    "out_of_hours",
    "referred_on",
    "unknown_area",
)
_COUNT_MAPS = (
    "by_week",
    "by_month",
    "by_topic",
    "by_subtopic",
    "by_council",
    "by_channel",
    "handover_reasons",
    "outcomes",
    "fallback_areas",
)


def small(value: Any) -> Any:
    """Return "<5" for a count from 1 to 4, else the value."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < SMALL:
        return SUPPRESSED
    return value


def _suppress_spread(s: dict[str, Any]) -> None:
    if isinstance(s.get("count"), int) and 0 < s["count"] < SMALL:
        s["median"] = s["p90"] = None
    s["count"] = small(s["count"])
    for part in ("in_hours", "out_of_hours"):
        if part in s:
            _suppress_spread(s[part])


def _suppress_ratings(r: dict[str, Any]) -> None:
    if 0 < r["responses"] < SMALL:
        r["mean"] = None
    for key in ("asked", "responses"):
        if key in r:
            r[key] = small(r[key])
    if "by_score" in r:
        r["by_score"] = {k: small(v) for k, v in r["by_score"].items()}


def suppress(figures: dict[str, Any]) -> dict[str, Any]:
    """Return a copy with every count from 1 to 4 shown as "<5"."""
    out = copy.deepcopy(figures)
    for key in _COUNTS:
        if key in out:
            out[key] = small(out[key])
    for key in _COUNT_MAPS:
        if key in out:
            out[key] = {k: small(v) for k, v in out[key].items()}
    for key in ("first_reply_minutes", "resolution_minutes"):
        if key in out:
            _suppress_spread(out[key])
    if "ratings" in out:
        _suppress_ratings(out["ratings"])
    for item in out.get("least_confident", []):
        item["conversations"] = small(item["conversations"])
    referrals = out.get("referrals")
    if referrals:
        referrals["sent"] = small(referrals["sent"])
        referrals["received"] = small(referrals["received"])
        referrals["by_organisation"] = {
            o: {k: small(v) for k, v in c.items()}
            for o, c in referrals["by_organisation"].items()
        }
    for org in out.get("by_organisation", {}).values():
        for key in (
            "enquiries",
            "answered_by_assistant",
            "handed_over",
            "referrals_sent",
            "referrals_received",
        ):
            org[key] = small(org[key])
        _suppress_spread(org["first_reply_minutes"])
        _suppress_ratings(org["ratings"])
    out["suppressed"] = True
    return out
