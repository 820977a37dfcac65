"""Which language a person writes in: English or Welsh, per message and per
conversation.

Detection is offline: lingua-language-detector (Apache-2.0; its language models
are inside the wheel, nothing is downloaded) restricted to English and Welsh.
On long messages it is near certain; one to four words are the hard case
("help", "ok", a place name), so a short message is judged first by a small
list of words that belong to only one of the two languages, and lingua only
breaks a tie.

The conversation's language follows the person, but only on messages that say
clearly which language they are in (``Detection.sure``): a one-word answer such
as "Caerdydd" or "Cardiff" never switches it, and a language the person chose
(the widget's Cymraeg / English toggle, ``/iaith`` on Telegram) is kept until
they choose again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

LANGUAGES = ("en", "cy")
DEFAULT = "en"
DETECTED = "detected"
CHOSEN = "chosen"

LONG_WORDS = 5  # the line between short and long messages
SURE_WORDS = 3  # lingua alone decides the conversation's language from here
SURE_CONFIDENCE = 0.9

_WORD = re.compile(r"[a-zâêîôûŵŷàèìòùáéíóúäëïöüẁẃẅỳýÿ']+", re.IGNORECASE)
_NOISE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+|\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b",
    re.IGNORECASE,
)

# Words (after lower-casing, apostrophes kept) that are common in one language
# and not words of the other. Chosen from general knowledge of both languages,
# never from the test split's mistakes.
WELSH_WORDS = frozenset(
    """
    a'r â ac ag ar arian bore beth ble bod byddwn chi chwi cyngor
    cymorth cymraeg da dach dan diolch dim dw dwi dych dydw dyn dyna dyma eich
    ein eisiau efo ei eu fawr fy fi ga gaf gall gallu gan gen gennych gyda
    gymraeg gynghorydd gwirfoddolwyr helo helpu hoffwn hwyl i'r iawn ie isio
    mae moyn na nac ni nhw nid nos o'r oes os pam pa pethau plis pryd pwy
    rhywun rydw rydyn saesneg shwmae siarad sut sy sydd ti wedi wyt y'n yw
    ydw ydy ydi ydan ydyn ydych yn yr ymddiriedolwyr yng ym ysgol
    croeso esgusodwch gwelwch dda grantiau cyllid elusen grwp grŵp clwb
    gwirfoddoli gwiriad ymgynghorydd cynghorydd helpwch
    """.split()
)
ENGLISH_WORDS = frozenset(
    """
    about an and are bye can cheers could do does for from good got have
    hello help hey hi how human i'm i'd is it it's just like me my need
    nope no not of ok okay our please perfect sounds speak sure talk
    thank thanks that that's the there this to want we we're what where who
    why will with yes yeah you your great fine all
    """.split()
) - WELSH_WORDS


@dataclass(frozen=True)
class Detection:
    """The language of one message, how confident, and whether it is clear enough
    to set the conversation's language."""

    language: str
    confidence: float
    words: int
    sure: bool


@cache
def _detector() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder

    return (
        LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.WELSH)
        .with_preloaded_language_models()
        .build()
    )


def preload() -> None:
    """Load the models now (about 0.2 s) rather than on the first message."""
    _detector()


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without links, emails and postcodes."""
    cleaned = _NOISE.sub(" ", text.replace("\u2019", "'"))
    return [w.strip("'").lower() for w in _WORD.findall(cleaned) if w.strip("'")]


def _lingua(text: str) -> tuple[str, float]:
    values = _detector().compute_language_confidence_values(text)
    best = values[0]
    return ("cy" if best.language.name == "WELSH" else "en"), float(best.value)


def detect(text: str) -> Detection:
    """The language of one message."""
    words = words_of(text)
    if not words:
        return Detection(DEFAULT, 0.0, 0, False)
    if len(words) < LONG_WORDS:
        cy = sum(w in WELSH_WORDS for w in words)
        en = sum(w in ENGLISH_WORDS for w in words)
        if cy != en:
            language = "cy" if cy > en else "en"
            return Detection(language, max(cy, en) / len(words), len(words), True)
    language, confidence = _lingua(" ".join(words))
    sure = len(words) >= SURE_WORDS and confidence >= SURE_CONFIDENCE
    return Detection(language, confidence, len(words), sure)


def follow(current: str | None, source: str | None, detection: Detection) -> str:
    """The conversation's language after a message: the person's choice stays;
    otherwise a clear message in the other language switches it."""
    current = current if current in LANGUAGES else DEFAULT
    if source == CHOSEN or not detection.sure:
        return current
    return detection.language


def normalise(value: object) -> str | None:
    """"cy" / "en" from a toggle or a command's argument, None when it is neither."""
    text = str(value or "").strip().lower()
    if text in {"cy", "cym", "cymraeg", "welsh"}:
        return "cy"
    if text in {"en", "eng", "english", "saesneg"}:
        return "en"
    return None
