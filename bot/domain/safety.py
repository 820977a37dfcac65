"""The safety net's rules: what makes a message urgent, and the one emergency text.

Every urgent message, in every conversation state and on every channel, gets
``emergency_text`` and nothing else from the bot: no topic answer, no guidance
link. The numbers are the UK's own (999/112, 101, NSPCC 0808 800 5000,
Samaritans 116 123); nothing here may name another number or a web address.
"""

from __future__ import annotations

from dataclasses import dataclass

RISK_INTENT = "report_risk"  # the NLU intent for "someone may be at risk now"
URGENT_REASON = "urgent"  # the hand-over reason of an urgent conversation
URGENT_ACTIVITY_TEXT = (
    "Marked urgent: a message from the person may mean someone is at risk now"
)

SCOTLAND = "Scotland"
NORTHERN_IRELAND = "Northern Ireland"

_DANGER = "If anyone is in immediate danger, call 999 now (or 112)."
_CHILD = "Worried about a child? Call the NSPCC helpline on 0808 800 5000."
_SAMARITANS = "Samaritans are there for anyone who needs to talk, any time, on 116 123."
_POLICE = {
    SCOTLAND: "If it isn't an emergency, call Police Scotland on 101.",
    NORTHERN_IRELAND: "If it isn't an emergency, call the PSNI on 101.",
}
_POLICE_DEFAULT = "If it isn't an emergency, call the police on 101."
_COUNCIL = {
    SCOTLAND: (
        "You can also tell the council's social work department (adult or "
        "children's services)."
    ),
    NORTHERN_IRELAND: (
        "You can also tell the Gateway team of your local Health and Social Care Trust."
    ),
}
_COUNCIL_DEFAULT = (
    "You can also tell your council's safeguarding team (adult or children's services)."
)
_WHERE_IT_DIFFERS = (
    "In Scotland, that is the council's social work department (Police Scotland "
    "on 101); in Northern Ireland, the Gateway team of your local Health and "
    "Social Care Trust (the PSNI on 101)."
)
_HANDED_OVER = (
    "I've passed this conversation to an adviser as urgent, so they will read it first."
)
KNOWN_NATIONS = ("England", "Wales", SCOTLAND, NORTHERN_IRELAND)


@dataclass(frozen=True)
class RiskCheck:
    """What the risk check found in one message."""

    phrase: str | None = None  # the words the phrase floor matched
    intent: str | None = None  # the NLU intent, when NLU was asked

    @property
    def urgent(self) -> bool:
        """Return whether the message is urgent: the floor OR the model."""
        return self.phrase is not None or self.intent == RISK_INTENT

    @property
    def source(self) -> str | None:
        """Return which check fired ("phrase" or "model"), or None."""
        if self.phrase is not None:
            return "phrase"
        return "model" if self.intent == RISK_INTENT else None


def emergency_text(nation: str | None = None) -> str:
    """Return the emergency text, worded for ``nation`` when it is known.

    England and Wales share one wording; for Scotland and Northern Ireland the
    police and the council's team are named as they are there. When the nation
    is not known, the text says where Scotland and Northern Ireland differ.
    """
    known = nation if nation in KNOWN_NATIONS else None
    council = _COUNCIL.get(known or "", _COUNCIL_DEFAULT)
    if known is None:
        council = f"{council} {_WHERE_IT_DIFFERS}"
    return "\n".join(
        (
            _DANGER,
            _POLICE.get(known or "", _POLICE_DEFAULT),
            _CHILD,
            _SAMARITANS,
            council,
            _HANDED_OVER,
        )
    )
