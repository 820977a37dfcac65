"""Per-message evidence: cues, capitals, qualifiers and the candidates they allow."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.directory.candidates import (
    FLAG_AREA,
    FLAG_POSTCODE_NOT_FOUND,
    FLAG_SPLIT_DISTRICT,
    Candidate,
    absorb_broader,
)
from bot.directory.fuzzy import FUZZY_PENALTY, LANDMARK_AFTER
from bot.directory.gazetteer import (
    TIER_BIG,
    TIER_SMALL,
    TIER_VILLAGE,
    District,
    Entry,
    Gazetteer,
)
from bot.directory.place_tables import BODY_WORDS, FIRST_NAMES
from bot.directory.textnorm import Token, fold

SPLIT_SHARE = 0.8  # below this dominant share a postcode district counts as split
QUALIFIER_GAP = 3  # tokens allowed between a name and its qualifier

FULL_POSTCODE_RANK = 0.98
DISTRICT_RANK = 0.93
SPLIT_DISTRICT_RANK = 0.80
UNKNOWN_POSTCODE_RANK = 0.90

WEAK_CUES = {
    "in", "at", "near", "nr", "from", "around", "covering", "cover", "covers",
    "serving", "serve", "serves", "outside", "within", "across",
    "yn", "ym", "yng", "ger",  # Welsh "in", "near" before a name that does not mutate
}  # fmt: skip
STRONG_CUES: tuple[tuple[str, ...], ...] = (
    ("based", "in"), ("based", "at"), ("based", "near"), ("based", "around"),
    ("located", "in"), ("live", "in"), ("living", "in"), ("lives", "in"),
    ("were", "in"), ("we", "are", "in"), ("im", "in"), ("i", "am", "in"),
    ("work", "in"), ("works", "in"), ("working", "in"), ("operate", "in"),
    ("charity", "in"), ("group", "in"), ("club", "in"), ("organisation", "in"),
    ("organization", "in"), ("project", "in"), ("near",), ("nr",), ("covering",),
    ("serving",), ("outside",), ("town", "of"), ("city", "of"), ("village", "of"),
    ("postcode",), ("postcode", "is"), ("post", "code"), ("post", "code", "is"),
    ("near", "to"), ("close", "to"), ("next", "to"), ("outskirts", "of"),
    ("edge", "of"), ("miles", "from"), ("miles", "outside"), ("just", "off"),
    ("village", "called"), ("town", "called"), ("place", "called"),
    ("village", "named"), ("town", "named"), ("area", "called"),
    ("ann", "an"), ("ann", "am"),  # Gaelic "in"
)  # fmt: skip
# Cues that say the group is near the place, not in it: its council is the best
# guess, and the candidate says so.
NEAR_CUES = {"near", "nr", "outside", "outskirts", "edge", "miles", "off", "close"}
# Around a bare postcode district: what sets it apart as an address ("..., HU5",
# "we're NR2", "the NR2 area") and what makes it a road or product ("the M1").
CODE_BEFORE = {"were", "we", "are", "is", "its", "im", "am", "based", "postcode", "us"}
AREA_AFTER_CODE = {"area", "based", "postcode", "district", "way"}
CODE_BOUNDARY = {",", ".", "!", "?", ":", ";", "(", ")"}
DETERMINERS = {
    "the", "a", "an", "this", "that", "these", "those", "my", "your", "their", "his",
    "her", "another", "any", "every", "each", "some", "no",
}  # fmt: skip
GLUE = set("/+&-_*#@")
ARTICLES = {"the", "a", "an"}
FOLLOWING_CUES = {"area", "based"}  # "the reading area", "a bath based charity"
# A group named after its place: "Toxteth food bank", "Dafen community choir",
# "Cathays parish council". The words after a name that make it a place (a cue
# after it), for names that are no common word (level 0) or, capitalised in
# mixed-case text, plain ones (level 1): never "our rugby club".
ORG_AFTER: tuple[tuple[str, ...], ...] = (
    ("food", "bank"), ("foodbank",), ("baby", "bank"), ("community",),
    ("village", "hall"), ("parish", "council"), ("town", "council"),
    ("community", "council"), ("residents",), ("tenants",), ("youth", "club"),
    ("youth", "group"), ("youth", "project"), ("scouts",), ("scout", "group"),
    ("guides",), ("brownies",), ("cubs",), ("u3a",), ("wi",), ("rotary",),
    ("mens", "shed"), ("in", "bloom"), ("allotment",), ("allotments",),
    ("carnival",), ("gala",), ("choir",), ("singers",), ("players",),
    ("amateur",), ("operatic",), ("dramatic",), ("history", "society"),
    ("history", "group"), ("heritage", "group"), ("heritage", "society"),
    ("civic", "society"), ("cvs",), ("volunteer", "centre"), ("pantry",),
    ("larder",), ("lunch", "club"), ("luncheon", "club"), ("day", "centre"),
    ("football", "club"), ("fc",), ("afc",), ("cricket", "club"),
    ("bowls", "club"), ("tennis", "club"), ("rfc",), ("running", "club"),
    ("swimming", "club"), ("boxing", "club"), ("netball", "club"),
    ("hockey", "club"), ("toddler", "group"), ("toddlers",), ("playgroup",),
    ("preschool",), ("pre", "school"), ("credit", "union"), ("befriending",),
    ("carers",), ("hospice",), ("twinning",), ("horticultural",),
    ("gardening", "club"), ("camera", "club"), ("film", "society"),
    ("development", "trust"), ("community", "trust"), ("pride",),
    ("charity",), ("charities",), ("group",), ("groups",), ("club",),
    ("association",), ("society",), ("project",), ("organisation",),
    ("organization",), ("network",), ("forum",), ("partnership",), ("cic",),
    ("cio",), ("here",),
)  # fmt: skip
STREET_WORDS = {
    "road", "rd", "street", "lane", "avenue", "ave", "drive", "crescent", "terrace",
    "close", "gardens", "parade",
}  # fmt: skip
BUILDING_WORDS = {
    "church", "chapel", "school", "primary", "academy", "college", "hospital",
    "hall", "centre", "center", "cathedral", "court",
}  # fmt: skip
CONJUNCTIONS = {"and", "or", "but", "to", "vs", "versus", "not"}
# A capitalised name right after one of these is a person ("our trustee Clare").
PERSON_BEFORE = {
    "colleague", "trustee", "volunteer", "called", "named", "chair", "chairman",
    "chairwoman", "chairperson", "secretary", "treasurer", "manager", "coordinator",
    "mr", "mrs", "ms", "miss", "dr", "son", "daughter", "husband", "wife", "partner",
    "friend", "mum", "dad", "brother", "sister", "member", "worker", "officer",
}  # fmt: skip
PLACE_NOUNS = {"village", "town", "city", "hamlet", "area", "place", "estate", "island"}
# Sizes for choosing among same-name places none of which is a town: a suburb of a
# city or metropolitan borough is taken as larger than a village, a village as
# larger than a hamlet. One reading larger than every other is the one meant.
SMALL_SIZE = {"Village": 2, "Suburban Area": 2, "Other Settlement": 1, "Hamlet": 0}
SENTENCE_END = {".", "!", "?", ":"}
FILLERS = {
    "in", "at", "near", "nr", "im", "i", "am", "were", "we", "are", "is", "its", "it",
    "based", "the", "hi", "hello", "hey", "yes", "yeah", "yep", "ok", "okay", "sure",
    "thanks", "thank", "you", "please", "from", "our", "my", "area", "town", "city",
    "village", "just", "outside", "around", "live", "living", "located", "of", "and",
    "currently", "postcode", "post", "code", "a", "cheers", "ta", "county",
}  # fmt: skip


@dataclass(slots=True)
class Mention:
    """A name or postcode found in the message, with the entries it may mean."""

    start_tok: int
    end_tok: int
    start: int
    end: int
    key: str
    entries: list[Entry]
    level: int = 0
    postcode: bool = False
    qualified: bool = False
    absorbed: bool = False
    cue: bool = False
    whole: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def overlaps(self, other: Mention) -> bool:
        """Return True when the two mentions share a token."""
        return self.start_tok < other.end_tok and other.start_tok < self.end_tok

    def gap(self, other: Mention, tokens: list[Token]) -> list[Token]:
        """Return the tokens between the two mentions."""
        lo, hi = sorted(
            ((self.start_tok, self.end_tok), (other.start_tok, other.end_tok))
        )
        return tokens[lo[1] : hi[0]]

    def area(self) -> frozenset[str]:
        """LADs this mention agrees with as a qualifier (empty if too vague)."""
        areas = [e.area for e in self.entries if e.kind != "place"]
        places = {e.lad_code for e in self.entries if e.kind == "place"}
        if len(places) == 1:
            areas.append(frozenset(places))  # type: ignore[arg-type]
        return frozenset().union(*areas) if areas else frozenset()


class MessageContext:
    """Per-call state: the text, its tokens and the evidence around each mention."""

    def __init__(
        self, gaz: Gazetteer, text: str, tokens: list[Token], expecting: bool
    ) -> None:
        self.gaz = gaz
        self.text = text
        self.tokens = tokens
        self.expecting = expecting
        self.mixed = any(c.isupper() for c in text) and any(c.islower() for c in text)
        self.whole = False
        self.token_starts = [t.start for t in tokens]
        self.token_ends = [t.end for t in tokens]

    # evidence --------------------------------------------------------------------

    def capitalised(self, i: int) -> bool:
        """Return True when token ``i`` starts with a capital in mixed-case text."""
        return self.mixed and self.text[self.tokens[i].start].isupper()

    def sentence_initial(self, i: int) -> bool:
        """Return True when token ``i`` starts the text, a sentence or a line."""
        if i == 0:
            return True
        prev = self.tokens[i - 1]
        if prev.punct in SENTENCE_END:
            return True
        return "\n" in self.text[prev.end : self.tokens[i].start]

    def cap_mid(self, m: Mention) -> bool:
        """Capitalised in mixed-case text, mid-sentence, not inside a Title Case run."""
        i, j = m.start_tok, m.end_tok
        if not self.capitalised(i) or self.sentence_initial(i):
            return False
        if j < len(self.tokens) and self.tokens[j].norm and self.capitalised(j):
            return False
        prev = self.tokens[i - 1]
        return not (
            prev.norm
            and prev.norm not in ("i", "im")
            and self.capitalised(i - 1)
            and not self.sentence_initial(i - 1)
        )

    def street_or_building(self, m: Mention) -> bool:
        """True for "Newport Road" or "St Mary's Church": a street or a building."""
        j = m.end_tok
        after = self.tokens[j].norm if j < len(self.tokens) else ""
        if after in STREET_WORDS:
            return True
        return m.key.startswith("st ") and after in BUILDING_WORDS

    def person_or_body(self, m: Mention) -> bool:
        """True for "Brian Kent", "Garfield Weston Foundation" (mixed-case text)."""
        if not self.mixed:
            return False
        i, j = m.start_tok, m.end_tok
        if i > 0 and self.tokens[i - 1].norm in FIRST_NAMES and self.capitalised(i - 1):
            return True
        if i > 0 and self.tokens[i - 1].norm in PERSON_BEFORE and self.capitalised(i):
            # "a village called Wendover" names a place; "a man called Chester" not
            if not (i > 1 and self.tokens[i - 2].norm in PLACE_NOUNS):
                return True
        if (  # "Paul Derby": the first name itself
            m.key in FIRST_NAMES
            and j < len(self.tokens)
            and self.tokens[j].norm
            and self.capitalised(j)
        ):
            return True
        return (
            j < len(self.tokens)
            and self.tokens[j].norm in BODY_WORDS
            and self.capitalised(j)
        )

    def cue(self, m: Mention) -> tuple[bool, bool]:
        """Return (weak, strong): a locative cue before (or "area" after) the name."""
        if m.extra.get("mutated"):  # a Welsh preposition: "i Fangor", "yn Nhredegar"
            return True, True
        before, hits = self._cues_before(m.start_tok)
        strong = bool(hits) or self.on_island(m, before)
        if any(w in NEAR_CUES for c in hits for w in c) or (
            before and before[-1] in NEAR_CUES
        ):
            m.extra["near"] = True
        j = m.end_tok
        if j < len(self.tokens) and self.tokens[j].norm in FOLLOWING_CUES:
            strong = True
        if self.org_after(m) or self.asked_about(m) or self.in_brackets(m):
            strong = True
        weak = bool(before) and before[-1] in WEAK_CUES
        return weak or strong, strong

    def _cues_before(self, i: int) -> tuple[list[str], list[tuple[str, ...]]]:
        before: list[str] = []
        for t in reversed(self.tokens[max(0, i - 3) : i]):
            if not t.norm:
                break
            before.insert(0, t.norm)
        hits = [
            c
            for c in STRONG_CUES
            if len(before) >= len(c) and tuple(before[-len(c) :]) == c
        ]
        return before, hits

    def on_island(self, m: Mention, before: list[str]) -> bool:
        """True for "on Mull", "on the Isle of Bute", "off Skye": said of islands."""
        words = [w for w in before if w not in ARTICLES]
        return (
            bool(words)
            and words[-1] in ("on", "off")
            and (len(before) - len(words) <= 1)
            and any(e.place_type == "Island" for e in m.entries)
        )

    def proper_name(self, m: Mention) -> bool:
        """No common word (level 0), or a plain one capitalised in mixed-case text."""
        return m.level == 0 or (m.level == 1 and self.capitalised(m.start_tok))

    def org_after(self, m: Mention) -> bool:
        """True for "Dafen community choir", "Toxteth Food Bank": a group's name."""
        return self.proper_name(m) and self.group_follows(m.end_tok)

    def asked_about(self, m: Mention) -> bool:
        """True for "does Drymen have a CVS?": a place asked about by name."""
        if not self.proper_name(m):
            return False
        i, j = m.start_tok, m.end_tok
        return (
            i > 0
            and j < len(self.tokens)
            and self.tokens[i - 1].norm in ("does", "doesnt", "do")
            and self.tokens[j].norm in ("have", "has", "get", "cover")
        )

    def in_brackets(self, m: Mention) -> bool:
        """True for "our village hall committee (Boxworth)": a name in brackets."""
        i, j = m.start_tok, m.end_tok
        return (
            m.level == 0
            and i > 0
            and j < len(self.tokens)
            and self.tokens[i - 1].punct == "("
            and self.tokens[j].punct == ")"
        )

    def group_follows(self, j: int) -> bool:
        """True when a group's noun ("food bank", "youth club") starts at token j."""
        words = [t.norm for t in self.tokens[j : j + 2]]
        return any(tuple(words[: len(o)]) == o for o in ORG_AFTER)

    def cue_before(self, i: int) -> bool:
        """Return True when a place cue ("in", "based in", "near") precedes token i."""
        before, hits = self._cues_before(i)
        return bool(hits) or (bool(before) and before[-1] in WEAK_CUES)

    def near(self, a: Mention, b: Mention) -> bool:
        """Return True when b can qualify a: close, and no "and" between them."""
        if max(a.start_tok, b.start_tok) - min(a.end_tok, b.end_tok) > QUALIFIER_GAP:
            return False
        gap = a.gap(b, self.tokens)
        return not any(t.norm in CONJUNCTIONS or t.punct in ("/", "&") for t in gap)

    # postcodes -------------------------------------------------------------------

    def postcode_mention(
        self,
        start: int,
        end: int,
        postcode: str | None,
        lad: str | None,
        district: District | None,
    ) -> Mention:
        """Return the mention of a postcode or outward code at start..end."""
        s = bisect_right(self.token_ends, start)
        e = bisect_left(self.token_starts, end)
        m = Mention(s, e, start, end, "", [], postcode=True)
        m.extra.update(postcode=postcode, lad=lad, district=district)
        m.entries = [self._postcode_entry(postcode, lad, district)]
        return m

    def _postcode_entry(
        self, postcode: str | None, lad: str | None, district: District | None
    ) -> Entry:
        if lad is not None:
            codes: tuple[str, ...] = (lad,)
            kind, name, other, rank = (
                "postcode",
                postcode or "",
                None,
                FULL_POSTCODE_RANK,
            )
        else:
            assert district is not None
            codes, lad = district.lad_codes, district.lad_code
            kind, name, other, rank = (
                "postcode_district",
                district.code,
                postcode,
                DISTRICT_RANK,
            )
        return Entry(
            kind=kind,
            name=name,
            other_name=other,
            place_type=None,
            lad_code=lad,
            lad_codes=codes,
            area=frozenset(codes),
            nation=None,
            region=None,
            rank=rank,
            tier=TIER_BIG,
        )

    def code_lookalike(self, m: Mention) -> bool:
        """True for "the M1", "a G20 summit", "M1/M6": a road or a product."""
        i, j = m.start_tok, m.end_tok
        nxt = self.tokens[j] if j < len(self.tokens) else None
        area_after = nxt is not None and nxt.norm in AREA_AFTER_CODE
        if i > 0 and self.tokens[i - 1].norm in DETERMINERS and not area_after:
            return True
        before = self.text[m.start - 1] if m.start > 0 else " "
        after = self.text[m.end] if m.end < len(self.text) else " "
        return (before in GLUE or after in GLUE) and not area_after

    def code_stands_alone(self, m: Mention) -> bool:
        """True for "..., HU5", "we're NR2", "NR2." : a code set apart as an address."""
        i, j = m.start_tok, m.end_tok
        prev = self.tokens[i - 1] if i > 0 else None
        nxt = self.tokens[j] if j < len(self.tokens) else None
        after_ok = (
            nxt is None or nxt.punct in CODE_BOUNDARY or (nxt.norm in AREA_AFTER_CODE)
        )
        if not after_ok:
            return False
        if prev is not None and prev.norm in CODE_BEFORE:
            return True  # "we're nr2" in lower case too
        upper = bool(m.extra.get("typed_upper"))
        return upper and (prev is None or prev.punct in CODE_BOUNDARY)

    def outward_ok(self, m: Mention, names: list[Mention]) -> bool:
        """An outward code alone ("M1", "b12") needs support: it is often not one."""
        weak, strong = self.cue(m)
        if strong:
            return True
        if self.code_lookalike(m):
            return False
        if self.whole or self.code_stands_alone(m):
            return True
        if weak and m.extra.get("typed_upper"):
            return True
        codes = set(m.entries[0].lad_codes)
        return any(
            n.level == 0 and not n.overlaps(m) and self.near(m, n) and n.area() & codes
            for n in names
        )

    # names -----------------------------------------------------------------------

    def accepted(self, m: Mention, qualifiers: list[Mention]) -> list[Entry]:
        """Entries of ``m`` that the evidence allows (ambiguous words need more).

        Single-word villages, suburbs and hamlets need a cue, a qualifier or the
        whole message even when their name is no English word ("Jordan", "Paul").
        """
        if self.street_or_building(m) or self.person_or_body(m):
            return []
        j = m.end_tok
        if j < len(self.tokens) and self.tokens[j].norm in LANDMARK_AFTER:
            # "Bute Park", "Arran Street": named after the island, not on it
            m.entries = [e for e in m.entries if e.place_type != "Island"]
            if not m.entries:
                return []
        weak, strong = self.cue(m)
        capital = self.capitalised(m.start_tok)
        whole = self.whole
        m.cue = strong or (weak and (capital or m.level == 0))
        single = m.end_tok - m.start_tok == 1
        near = [q for q in qualifiers if not q.overlaps(m) and self.near(m, q)]
        # "a islip, oxfordshire": a qualifier beside it (a nation is too vague)
        qualified = m.level == 0 and any(
            e.area & q.area()
            for e in m.entries
            for q in near
            if any(x.kind != "nation" for x in q.entries)
        )
        if not capital and not weak and not whole and not qualified:
            if self.mixed:
                return []  # "the hull of our boat" in a typed sentence
            i = m.start_tok
            if single and i > 0 and self.tokens[i - 1].norm in ARTICLES:
                return []  # "the hull", "a bath" in lower-case chat too

        if m.level == 0 and not (single and any(e.tier < TIER_BIG for e in m.entries)):
            return list(m.entries)
        out = []
        for e in m.entries:
            if any(e.area & q.area() for q in near) and e.kind != "nation":
                ok = True
            elif m.level == 0:
                ok = e.tier == TIER_BIG or m.cue or whole
            elif e.tier == TIER_SMALL:
                # "Kings Heath" (a city's suburb); "in Dafen" (no word of its own)
                ok = m.cue and (
                    (m.level <= 2 and (self.city_suburb(e) or capital))
                    or m.level == 0
                )
            elif m.level >= 3:
                ok = whole and self.expecting
            elif m.level == 2 or e.tier == TIER_VILLAGE or e.place_type == "settlement":
                ok = m.cue or (whole and (self.expecting or capital))
            else:
                ok = self.cap_mid(m) or m.cue or (whole and (self.expecting or capital))
            if ok:
                out.append(e)
        return out

    def select(self, postcodes: list[Mention], names: list[Mention]) -> list[Mention]:
        """Keep the mentions the evidence allows, longest first, none overlapping."""
        blockers = [n for n in names if any(e.kind == "blocker" for e in n.entries)]
        names = [n for n in names if not any(n.overlaps(b) for b in blockers)]
        pcs = [
            p for p in postcodes if p.extra.get("postcode") or self.outward_ok(p, names)
        ]
        pool = [*pcs, *(n for n in names if n.level == 0)]
        viable = []
        for m in names:
            m.entries = self.accepted(m, pool)
            if m.entries:
                viable.append(m)
        viable.sort(
            key=lambda m: (-(m.end_tok - m.start_tok), -(m.end - m.start), m.start)
        )
        chosen: list[Mention] = []
        for m in viable:
            if not any(m.overlaps(c) for c in chosen):
                chosen.append(m)
        exact = [m for m in chosen if "typo" not in m.extra]
        if len(exact) < len(chosen) and (exact or pcs):
            # a misspelling is a guess: an exact name or postcode beside it wins
            known = frozenset().union(*(m.area() for m in [*exact, *pcs]))
            chosen = [m for m in chosen if "typo" not in m.extra or m.area() & known]
        chosen.sort(key=lambda m: m.start)
        return [*pcs, *chosen]

    def candidates(self, mentions: list[Mention]) -> list[tuple[Candidate, int]]:
        """Narrow by qualifiers, drop small namesakes, then absorb broader areas."""
        areas = {id(m): m.area() for m in mentions}
        for m in mentions:
            self._narrow(m, mentions, areas)
        out: list[tuple[Candidate, int]] = []
        for idx, m in enumerate(mentions):
            if m.absorbed:
                continue
            for e in m.entries:
                if e.kind == "nation":
                    continue
                out.append((self._candidate(m, e), idx))
        return absorb_broader(out)

    def _narrow(
        self, m: Mention, mentions: list[Mention], areas: dict[int, frozenset[str]]
    ) -> None:
        if m.postcode:
            return
        lads = {e.lad_code or e.lad_codes for e in m.entries}
        ambiguous = len(lads) > 1
        agreeing: list[Entry] = []
        used: list[Mention] = []
        for q in mentions:
            area = areas[id(q)]
            if q is m or not area or q.overlaps(m):
                continue
            if not self.near(m, q) and not (
                ambiguous and m.level == 0 and any(e.kind != "place" for e in q.entries)
            ):
                continue
            agree = [e for e in m.entries if e.area & area]
            if agree:
                used.append(q)
            agreeing += [e for e in agree if e not in agreeing]
        if agreeing and len(agreeing) < len(m.entries):
            m.entries = agreeing
            m.qualified = True
        elif agreeing:
            m.qualified = True
        if any(e.tier == TIER_BIG for e in m.entries):
            m.entries = [e for e in m.entries if e.tier == TIER_BIG]
        m.entries = self._as_written(m) or m.entries
        if not m.qualified and len(m.entries) > 1:
            m.entries = self._largest_small(m.entries)
        preferred = self.gaz.preferred.get(m.key)
        if preferred and not m.qualified:  # "Newcastle": the largest of that name
            m.entries = [e for e in m.entries if e.lad_code == preferred] or m.entries
        counties = [e for e in m.entries if e.kind == "county"]
        if counties:
            inside = frozenset().union(*(e.area for e in counties))
            m.entries = [
                e for e in m.entries if e.kind != "place" or e.lad_code not in inside
            ]
        # A broader qualifier ("Shropshire" in "Newport, Shropshire") is context.
        final = {c for e in m.entries for c in e.lad_codes}
        for q in used:
            area = q.area()
            if not q.postcode and final <= area and len(area) > len(final):
                q.absorbed = True

    def city_suburb(self, e: Entry) -> bool:
        """True for a suburb of a city or of a metropolitan or London borough."""
        return e.place_type == "Suburban Area" and e.lad_code in self.gaz.city_lads

    def _as_written(self, m: Mention) -> list[Entry]:
        """Entries spelt exactly as typed, accents included ("Port Rìgh")."""
        typed = self.text[m.start : m.end]
        if typed.isascii():
            return []
        want = typed.casefold().replace("-", " ")
        return [
            e
            for e in m.entries
            if want
            in (e.name.casefold().replace("-", " "), (e.other_name or "").casefold())
        ]

    def _largest_small(self, entries: list[Entry]) -> list[Entry]:
        """Among places none of which is a town, the one larger than all others."""
        if any(e.kind != "place" or e.tier == TIER_BIG for e in entries):
            return entries

        def size(e: Entry) -> int:
            base = SMALL_SIZE.get(e.place_type or "", 0)
            if self.city_suburb(e):
                base = 3  # "Moseley": the Birmingham suburb, not the hamlets
            return base

        top = max(size(e) for e in entries)
        best = [e for e in entries if size(e) == top]
        if len({e.lad_code for e in best}) == 1 or top >= 3:
            # one largest, or city suburbs of that name ("Chapeltown": Leeds or
            # Sheffield, not the village in Blackburn): those are asked about
            return best
        return entries

    def _candidate(self, m: Mention, e: Entry) -> Candidate:
        gaz = self.gaz
        matched = self.text[m.start : m.end]
        lad = gaz.lads.get(e.lad_code) if e.lad_code else None
        nations = {gaz.lads[c].nation for c in e.lad_codes if c in gaz.lads}
        nation = lad.nation if lad else (nations.pop() if len(nations) == 1 else None)
        note: str | None = None
        flags: tuple[str, ...] = ()
        score = e.rank
        if e.kind == "postcode":
            name = f"{e.name}, {lad.display}" if lad else e.name
        elif e.kind == "postcode_district":
            district = m.extra["district"]
            share = getattr(district, "dominant_share", 1.0)
            name = f"{e.name} (postcode district)"
            if m.extra.get("postcode"):
                flags += (FLAG_POSTCODE_NOT_FOUND,)
                score = UNKNOWN_POSTCODE_RANK
                note = (
                    "full postcode not on record (no open data for Northern Ireland "
                    "postcodes); using its postcode district"
                    if e.name.startswith("BT")
                    else "full postcode not found; using its postcode district"
                )
            if share < SPLIT_SHARE:
                flags += (FLAG_SPLIT_DISTRICT,)
                score = min(score, SPLIT_DISTRICT_RANK)
                note = (note + "; " if note else "") + (
                    "postcode district spans several councils; ask for the full "
                    "postcode or the town"
                )
        elif e.kind == "county":
            name = e.name
            flags = (FLAG_AREA,)
            note = f"area covering {len(e.lad_codes)} council areas; ask which one"
        elif e.kind == "council":
            name = e.name
        else:
            shown = e.name
            if e.other_name and fold(e.other_name) != fold(e.name):
                shown = f"{e.name} ({e.other_name})"
            name = f"{shown}, {e.region}" if e.region else shown
        if m.extra.get("near") and e.kind in ("place", "council"):
            note = (
                f"near {matched}: its council area is the best guess; a "
                "neighbouring one is possible"
            )
        typo = m.extra.get("typo")
        if isinstance(typo, int):
            score -= FUZZY_PENALTY * typo
            note = (note + "; " if note else "") + f"read {matched!r} as {e.name}"
        if not m.postcode:
            score += 0.1 if m.qualified else 0.0
            score += 0.04 if m.cue else 0.0
            score += 0.02 if self.whole else 0.0
            score -= 0.03 * m.level
        return Candidate(
            name=name,
            kind=e.kind,
            place_type=e.place_type,
            lad_code=e.lad_code,
            lad_name=lad.name if lad else None,
            nation=nation,
            lad_codes=e.lad_codes,
            start=m.start,
            end=m.end,
            matched_text=matched,
            score=round(max(0.0, min(1.0, score)), 3),
            note=note,
            flags=flags,
        )


def covers_everything(tokens: list[Token], mentions: Iterable[Mention]) -> bool:
    """True when the message is only place names, postcodes and filler words."""
    covered: set[int] = set()
    for m in mentions:
        covered.update(range(m.start_tok, m.end_tok))
    words = [i for i, t in enumerate(tokens) if t.norm]
    return bool(covered) and all(
        i in covered or tokens[i].norm in FILLERS for i in words
    )
