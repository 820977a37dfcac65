"""The safety net's rules: what makes a message urgent, and the one emergency text.

Every urgent message, in every conversation state and on every channel, gets
``emergency_text`` and nothing else from the bot: no topic answer, no guidance
link. The numbers are the UK's own (999/112, 101, NSPCC 0808 800 5000,
Samaritans 116 123); nothing here may name another number or a web address.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import text

RISK_INTENT = "report_risk"  # the NLU intent for "someone may be at risk now"
URGENT_REASON = "urgent"  # the hand-over reason of an urgent conversation
URGENT_ACTIVITY_TEXT = (
    "Marked urgent: a message from the person may mean someone is at risk now"
)

SCOTLAND = "Scotland"
NORTHERN_IRELAND = "Northern Ireland"

# The wording of each line is in bot/i18n (section "safety"), in every language.
_SAFETY_KEYS = {
    SCOTLAND: "scotland",
    NORTHERN_IRELAND: "northern_ireland",
}
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


def emergency_text(nation: str | None = None, language: str | None = None) -> str:
    """Return the emergency text, worded for ``nation`` when it is known, in the
    conversation's ``language`` (English by default).

    England and Wales share one wording; for Scotland and Northern Ireland the
    police and the council's team are named as they are there. When the nation
    is not known, the text says where Scotland and Northern Ireland differ.
    """
    known = nation if nation in KNOWN_NATIONS else None
    where = _SAFETY_KEYS.get(known or "", "default")

    def line(key: str) -> str:
        return text(f"safety.{key}", language)

    council = line(f"council_{where}")
    if known is None:
        council = f"{council} {line('where_it_differs')}"
    return "\n".join(
        (
            line("danger"),
            line(f"police_{where}"),
            line("child"),
            line("samaritans"),
            council,
            line("handed_over"),
        )
    )
