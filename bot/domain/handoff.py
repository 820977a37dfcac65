"""The conversation state machine: who holds a conversation, and the legal moves.

Pure: no I/O and no ORM. ``bot.conversations.service`` applies a move as one
conditional UPDATE (``WHERE status = current``) after ``next_status`` allowed it.
The diagram is ``handoff.mmd`` beside this module.
"""

from __future__ import annotations

import enum


class ConversationStatus(enum.StrEnum):
    """Who holds a conversation."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


Status = ConversationStatus
WITH_ADVISERS = (Status.QUEUED, Status.ASSIGNED)


class Transition(enum.StrEnum):
    HAND_OVER = "hand_over"  # the bot (or the person) asks for a person
    CLAIM = "claim"  # an adviser takes a queued conversation
    RELEASE = "release"  # the adviser puts it back in the queue
    RESOLVE = "resolve"  # the adviser closes it with an outcome
    HAND_BACK = "hand_back"  # the adviser gives it back to the bot
    REOPEN = "reopen"  # the person writes again after it was resolved
    ASSIGN = "assign"  # given to an adviser by a colleague, or taken over
    TRANSFER = "transfer"  # to another organisation's queue, with a note


# (from, transition) -> to
MOVES: dict[tuple[Status, Transition], Status] = {
    (Status.BOT, Transition.HAND_OVER): Status.QUEUED,
    (Status.QUEUED, Transition.CLAIM): Status.ASSIGNED,
    (Status.QUEUED, Transition.RESOLVE): Status.RESOLVED,
    (Status.QUEUED, Transition.HAND_BACK): Status.BOT,
    (Status.ASSIGNED, Transition.RELEASE): Status.QUEUED,
    (Status.ASSIGNED, Transition.RESOLVE): Status.RESOLVED,
    (Status.ASSIGNED, Transition.HAND_BACK): Status.BOT,
    (Status.RESOLVED, Transition.REOPEN): Status.BOT,
    (Status.RESOLVED, Transition.HAND_OVER): Status.QUEUED,
    (Status.QUEUED, Transition.ASSIGN): Status.ASSIGNED,
    (Status.ASSIGNED, Transition.ASSIGN): Status.ASSIGNED,
    (Status.QUEUED, Transition.TRANSFER): Status.QUEUED,
    (Status.ASSIGNED, Transition.TRANSFER): Status.QUEUED,
}

ACTIVITY_TEXT: dict[Transition, str] = {
    Transition.HAND_OVER: "Conversation handed over to the adviser queue",
    Transition.CLAIM: "Adviser {adviser} picked up the conversation",
    Transition.RELEASE: "Adviser {adviser} returned the conversation to the queue",
    Transition.RESOLVE: "Adviser {adviser} resolved the conversation ({outcome})",
    Transition.HAND_BACK: "Adviser {adviser} handed the conversation back to the bot",
    Transition.REOPEN: "The person wrote again; the conversation is back with the bot",
    Transition.ASSIGN: "Adviser {adviser} assigned the conversation to {to}",
    Transition.TRANSFER: "Adviser {adviser} transferred the conversation to {to}",
}
# Assigned to oneself from a colleague (or from the queue by the same route).
TAKE_OVER_TEXT = "Adviser {adviser} took the conversation over"

OUTCOMES = ("answered", "referred_to_lio", "no_reply", "duplicate", "other")


class IllegalTransition(ValueError):
    """A move the state machine does not allow from the current state."""

    def __init__(self, current: Status, transition: Transition) -> None:
        super().__init__(
            f"cannot {transition.value} a conversation that is {current.value}"
        )
        self.current, self.transition = current, transition


def next_status(current: Status, transition: Transition) -> Status:
    """Return the status after ``transition``, or raise IllegalTransition."""
    try:
        return MOVES[(current, transition)]
    except KeyError:
        raise IllegalTransition(current, transition) from None


def allowed(current: Status) -> list[Transition]:
    """Return the transitions allowed from ``current``."""
    return [t for (s, t) in MOVES if s == current]


def holds_after(current: Status, transition: Transition) -> bool:
    """Return whether ``transition`` from ``current`` puts an adviser in charge."""
    return next_status(current, transition) in WITH_ADVISERS


def ends_hand_over(transition: Transition) -> bool:
    """Return whether ``transition`` closes the hand-over (and its urgency)."""
    return transition in (Transition.RESOLVE, Transition.HAND_BACK)


def bot_should_answer(status: Status) -> bool:
    """Return whether the bot replies to a message in this state."""
    return status in (Status.BOT, Status.RESOLVED)


def activity_text(
    transition: Transition, *, adviser: str = "", outcome: str = "", to: str = ""
) -> str:
    """Return the transcript line recorded for ``transition``.

    ``to`` is the adviser a conversation is assigned to, or the organisation it
    is transferred to.
    """
    if transition is Transition.ASSIGN and to == adviser:
        return TAKE_OVER_TEXT.format(adviser=adviser)
    return ACTIVITY_TEXT[transition].format(adviser=adviser, outcome=outcome, to=to)
