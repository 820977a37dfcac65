"""Find the place in a free-text message: postcodes, places, councils and counties."""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.db.models import Postcode
from bot.directory.candidates import (
    FLAG_AREA,
    FLAG_POSTCODE_NOT_FOUND,
    FLAG_SPLIT_DISTRICT,
    Candidate,
    Resolution,
    rank_candidates,
)
from bot.directory.evidence import Mention, MessageContext, covers_everything
from bot.directory.fuzzy import (
    LANDMARK_AFTER,
    MAX_TYPO_TOKENS,
    MAX_WORDS,
    TypoIndex,
    load_common_words,
    typo_word,
)
from bot.directory.gazetteer import Gazetteer, build_gazetteer
from bot.directory.textnorm import fold, tokenize
from bot.directory.variants import mutation_allowed

__all__ = [
    "FLAG_AREA",
    "FLAG_POSTCODE_NOT_FOUND",
    "FLAG_SPLIT_DISTRICT",
    "Candidate",
    "LocationResolver",
    "Resolution",
    "get_resolver",
    "locate_report",
]


# Only the start of a message is scanned: a 100 KB paste costs the same as 4,000
# characters (about 700 words), and "where are you?" answers are short.
MAX_SCAN_CHARS = 4000
MAX_TOKENS = 1000
# Bounds on the work per message whatever it contains: full postcodes looked up in
# the database, and name matches considered (the first ones in the text).
MAX_POSTCODES = 5
MAX_NAME_MATCHES = 60
PostcodeLookup = Callable[[str], "str | None"]
_UNKNOWN = "_"  # stands for every word no name contains

_FULL_RE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)[ \t]*([0-9][A-Za-z]{2})"
    r"(?![A-Za-z0-9])"
)
_LAD_CODE_RE = re.compile(r"(?<![A-Za-z0-9])([ENSWensw][0-9]{8})(?![A-Za-z0-9])")
_OUTWARD_RE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)(?![A-Za-z0-9])"
)


class LocationResolver:
    """Built once from the database; ``resolve`` is safe to call from many threads."""

    def __init__(
        self, gazetteer: Gazetteer, postcode_lookup: PostcodeLookup | None = None
    ) -> None:
        self.gazetteer = gazetteer
        self.postcode_lookup = postcode_lookup
        self.nlp = spacy.blank("en")
        self._known: set[str] = set()
        vocab = self.nlp.vocab
        # Patterns go in as sequences of ORTH ids, not Docs: 46,000 Docs would
        # cost ~250 MB of RSS for nothing (PhraseMatcher.add takes id sequences:
        # spaCy's own unpickling of a PhraseMatcher passes them). Lexemes are
        # created now, so matching never adds to the shared vocabulary.
        patterns = []
        for key in gazetteer.names:
            words = key.split()
            self._known.update(words)
            patterns.append([vocab[w].orth for w in words])
        vocab[_UNKNOWN]  # noqa: B018 - create the lexeme
        self.matcher = PhraseMatcher(vocab, attr="ORTH")
        self.matcher.add("PLACE", patterns)  # type: ignore[arg-type]
        self.typos = TypoIndex(gazetteer)
        self.village_typos = TypoIndex(gazetteer, villages=True)
        self.common_words = load_common_words()
        self._lock = threading.Lock()

    @classmethod
    def from_session(
        cls, session: Session, postcode_lookup: PostcodeLookup | None = None
    ) -> LocationResolver:
        """Build from a session; full postcodes are looked up through its engine."""
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        lookup = postcode_lookup or engine_postcode_lookup(engine)
        return cls(build_gazetteer(session), lookup)

    @classmethod
    def from_engine(cls, engine: Engine) -> LocationResolver:
        """Build from an engine (one short session to load, then lookups)."""
        with Session(engine) as session:
            return cls.from_session(session)

    # ----------------------------------------------------------------------------

    def resolve(
        self,
        text: str,
        *,
        expecting_place: bool = False,
        session: Session | None = None,
    ) -> Resolution:
        """Find the place(s) in ``text``; pass expecting_place for "where are you?"."""
        scan = text[:MAX_SCAN_CHARS]
        truncated = len(text) > MAX_SCAN_CHARS
        folded = fold(scan)
        tokens = tokenize(folded, MAX_TOKENS)
        if not tokens:
            return Resolution(truncated=truncated)
        lookup = self.postcode_lookup
        if session is not None:
            lookup = session_postcode_lookup(session)
        ctx = MessageContext(self.gazetteer, scan, tokens, expecting_place)
        postcodes = self._postcodes(ctx, lookup)
        names = self._names(ctx, postcodes)
        plausible = [
            n
            for n in names
            if not ctx.street_or_building(n) and not ctx.person_or_body(n)
        ]
        ctx.whole = covers_everything(tokens, [*postcodes, *plausible])
        mentions = ctx.select(postcodes, names)
        candidates = ctx.candidates(mentions)
        return rank_candidates(candidates, truncated)

    def _postcodes(
        self, ctx: MessageContext, lookup: PostcodeLookup | None
    ) -> list[Mention]:
        found: list[Mention] = []
        taken: list[tuple[int, int]] = []
        districts = self.gazetteer.districts
        text = ctx.text[: ctx.tokens[-1].end]  # the tokens may stop short of it
        for m in _FULL_RE.finditer(text):
            if len(taken) >= MAX_POSTCODES:
                break
            outward, inward = m.group(1).upper(), m.group(2).upper()
            postcode = f"{outward} {inward}"
            lad = lookup(postcode) if lookup is not None else None
            district = districts.get(outward)
            if lad is None and district is None:
                continue
            taken.append(m.span())
            found.append(
                ctx.postcode_mention(m.start(), m.end(), postcode, lad, district)
            )
        for m in _OUTWARD_RE.finditer(text):
            if len(found) >= 2 * MAX_POSTCODES:
                break
            if any(s <= m.start() < e for s, e in taken):
                continue
            district = districts.get(m.group(1).upper())
            if district is None:
                continue
            mention = ctx.postcode_mention(m.start(), m.end(), None, None, district)
            mention.extra["typed_upper"] = m.group(1).isupper()
            found.append(mention)
        return found

    def _council_codes(self, ctx: MessageContext) -> list[Mention]:
        return _council_code_mentions(self.gazetteer, ctx)

    def _names(self, ctx: MessageContext, postcodes: list[Mention]) -> list[Mention]:
        words = [t.norm if t.norm in self._known else _UNKNOWN for t in ctx.tokens]
        doc = Doc(self.nlp.vocab, words=words)
        with self._lock:
            matches = self.matcher(doc)
        out: list[Mention] = self._council_codes(ctx)
        for _, s, e in matches:
            key = " ".join(words[s:e])
            entries = self.gazetteer.names.get(key)
            if not entries:
                continue
            mention = Mention(
                s,
                e,
                ctx.tokens[s].start,
                ctx.tokens[e - 1].end,
                key,
                list(entries),
                level=self.gazetteer.levels.get(key, 0),
            )
            if any(mention.overlaps(p) for p in postcodes):
                continue
            mutated = self.gazetteer.mutated.get(key)
            if mutated is not None:
                # "i Fangor", "yng Nghaerdydd": only right after the mutating word
                if s == 0:
                    continue
                prev = ctx.tokens[s - 1]
                if not mutation_allowed(
                    mutated,
                    prev.norm,
                    ctx.text[prev.start : prev.end],
                    ctx.text[ctx.tokens[s].start].isupper(),
                    ctx.mixed,
                ):
                    continue
                mention.extra["mutated"] = mutated
            out.append(mention)
            if len(out) >= MAX_NAME_MATCHES:
                break
        covered = {i for _, s, e in matches for i in range(s, e)}
        covered.update(i for p in postcodes for i in range(p.start_tok, p.end_tok))
        return out + self._typos(ctx, covered)

    def _typos(self, ctx: MessageContext, covered: set[int]) -> list[Mention]:
        """Misspelt towns after a place cue ("in Manchster"), or a short answer."""
        tokens = ctx.tokens
        short = ctx.expecting or sum(1 for t in tokens if t.norm) <= 2
        out: list[Mention] = []
        tried = 0
        for i, tok in enumerate(tokens):
            if i in covered or tok.norm in self._known or not typo_word(tok):
                continue  # a word of some place's name is not a misspelling
            nxt = tokens[i + 1].norm if i + 1 < len(tokens) else ""
            if nxt in LANDMARK_AFTER:
                continue  # "Holyrood Park": a name of its own, not a misspelt town
            cued = short or ctx.cue_before(i)
            # "Birmigham food bank": a capitalised word naming a group
            if not (cued or (ctx.capitalised(i) and ctx.group_follows(i + 1))):
                continue
            tried += 1
            if tried > MAX_TYPO_TOKENS:
                break
            for n in range(MAX_WORDS, 0, -1):
                run = tokens[i : i + n]
                if len(run) < n or any(not t.norm for t in run):
                    continue
                phrase = " ".join(t.norm for t in run)
                fixes = self.typos.correct(phrase, n)
                if (
                    not fixes
                    and n == 1
                    and tok.norm not in self.common_words
                    and ctx.capitalised(i)
                    and cued
                ):
                    # a village's name, capitalised and misspelt once, after "in"
                    # or as the answer ("from prison" is no Priston): only when
                    # a single village is that close
                    fixes = self.village_typos.correct(phrase, n)
                    if len({e.lad_code for f in fixes for e in f.entries}) != 1:
                        fixes = []
                if not fixes:
                    continue
                entries = list(dict.fromkeys(e for f in fixes for e in f.entries))
                m = Mention(i, i + n, tok.start, run[-1].end, fixes[0].key, entries)
                m.extra["typo"] = fixes[0].distance
                out.append(m)
                break
        return out


# --------------------------------------------------------------------------------
# Postcode look-ups, the shared resolver and the CLI report
# --------------------------------------------------------------------------------


def _council_code_mentions(gaz: Gazetteer, ctx: MessageContext) -> list[Mention]:
    """Mentions of council codes ("E08000016"); a superseded one is its successor."""
    out = []
    text = ctx.text[: ctx.tokens[-1].end]
    for m in _LAD_CODE_RE.finditer(text):
        entry = gaz.codes.get(m.group(1).upper())
        if entry is None:
            continue
        s = bisect_right(ctx.token_ends, m.start())
        e = bisect_left(ctx.token_starts, m.end())
        out.append(Mention(s, e, m.start(), m.end(), m.group(1).lower(), [entry]))
        if len(out) >= MAX_POSTCODES:
            break
    return out


def engine_postcode_lookup(engine: Engine) -> PostcodeLookup:
    """Return a primary-key look-up of full postcodes through ``engine``."""

    def lookup(postcode: str) -> str | None:
        with engine.connect() as conn:
            return conn.execute(
                select(Postcode.lad_code).where(Postcode.postcode == postcode)
            ).scalar_one_or_none()

    return lookup


def session_postcode_lookup(session: Session) -> PostcodeLookup:
    """Return a primary-key look-up of full postcodes through ``session``."""

    def lookup(postcode: str) -> str | None:
        return session.scalar(
            select(Postcode.lad_code).where(Postcode.postcode == postcode)
        )

    return lookup


_RESOLVERS: dict[int, LocationResolver] = {}
_RESOLVERS_LOCK = threading.Lock()


def resolver_for_engine(engine: Engine) -> LocationResolver:
    """Return the shared resolver for ``engine``, building it on first use."""
    with _RESOLVERS_LOCK:
        resolver = _RESOLVERS.get(id(engine))
        if resolver is None:
            resolver = LocationResolver.from_engine(engine)
            _RESOLVERS[id(engine)] = resolver
        return resolver


def get_resolver(url: str | None = None) -> LocationResolver:
    """Return the shared resolver for the configured (or given) database."""
    from bot.db.session import get_engine

    return resolver_for_engine(get_engine(url))


def clear_resolvers() -> None:
    """Forget shared resolvers (after a directory re-import)."""
    with _RESOLVERS_LOCK:
        _RESOLVERS.clear()


def locate_report(session: Session, text: str, *, expecting_place: bool = False) -> str:
    """Describe the candidates found in ``text``, one per line, best first."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    result = resolver_for_engine(engine).resolve(
        text, expecting_place=expecting_place, session=session
    )
    if not result.candidates:
        return "no place found"
    lines = []
    for c in result.candidates:
        codes = c.lad_code or ",".join(c.lad_codes)
        lines.append(
            f"{c.name} | {c.kind} | {codes} {c.lad_name or ''} | {c.nation or '-'} | "
            f"{c.matched_text!r} at {c.start}-{c.end} | score {c.score:.2f}"
            + (f" | {c.note}" if c.note else "")
        )
    if result.best is not None:
        lines.append(f"best: {result.best.name}")
    else:
        lines.append("ambiguous: ask which one is meant")
    return "\n".join(lines)
