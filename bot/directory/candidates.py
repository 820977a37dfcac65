"""Candidates and resolutions: what the resolver returns, and how it ranks them."""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_CANDIDATES = 10
AMBIGUITY_MARGIN = 0.1  # the top candidate must lead the next by this to be "best"

FLAG_SPLIT_DISTRICT = "split_district"  # ask for the full postcode
FLAG_POSTCODE_NOT_FOUND = "postcode_not_found"  # fell back to the district
FLAG_AREA = "area"  # a county or area covering several councils


@dataclass(frozen=True, slots=True)
class Candidate:
    """One reading of the place in a message, with where it was found and how sure."""

    # A county or area ("Kent", "Gwent", "London") is one candidate of kind "county"
    # with lad_code None and lad_codes = every council area it covers (a two-tier
    # county's districts plus the unitaries of its ceremonial county): the
    # assistant asks which one, or serves county-wide organisations. A postcode
    # district's lad_code is its dominant council and lad_codes all it touches.
    name: str  # for display: "St Ives, Cornwall", "TR1 2AB, Cornwall", "Kent"
    kind: str  # postcode | postcode_district | place | council | county
    place_type: str | None  # City, Town, ..., settlement (NI), council, county
    lad_code: str | None  # None for a county: see lad_codes
    lad_name: str | None
    nation: str | None
    lad_codes: tuple[str, ...]  # every LAD it may mean; lad_code first when set
    start: int  # matched span in the original text (character offsets)
    end: int
    matched_text: str
    score: float  # 0..1
    note: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def span(self) -> tuple[int, int]:
        """Return (start, end) of the matched text."""
        return (self.start, self.end)

    @property
    def needs_full_postcode(self) -> bool:
        """Return True when a split postcode district should be asked about again."""
        return FLAG_SPLIT_DISTRICT in self.flags


@dataclass(frozen=True, slots=True)
class Resolution:
    """The ranked candidates for a message, the winner if there is one."""

    candidates: tuple[Candidate, ...] = ()
    best: Candidate | None = None
    truncated: bool = False  # the message was longer than MAX_SCAN_CHARS

    @property
    def ambiguous(self) -> bool:
        """Return True when there are candidates but no single winner."""
        return bool(self.candidates) and self.best is None


def _is_broad(c: Candidate) -> bool:
    return c.kind == "county" or (
        c.kind == "postcode_district" and len(c.lad_codes) > 1
    )


def absorb_broader(items: list[tuple[Candidate, int]]) -> list[tuple[Candidate, int]]:
    """Drop a broad candidate (county, split district) that another one lies inside."""
    out = []
    for c, idx in items:
        if _is_broad(c) and any(
            j != idx and not _is_broad(o) and set(o.lad_codes) <= set(c.lad_codes)
            for o, j in items
        ):
            continue
        out.append((c, idx))
    return out


def rank_candidates(items: list[tuple[Candidate, int]], truncated: bool) -> Resolution:
    """Collapse candidates that share a LAD, sort by score, pick a clear winner."""
    groups: dict[object, list[Candidate]] = {}
    for c, _ in items:
        key: object = c.lad_code if c.lad_code else ("area", c.lad_codes)
        groups.setdefault(key, []).append(c)
    merged = []
    for group in groups.values():
        group.sort(key=lambda c: (-c.score, c.start))
        top = group[0]
        spans = {(c.start, c.end) for c in group}
        if len(spans) > 1:
            top = replace(
                top, score=round(min(1.0, top.score + 0.03 * (len(spans) - 1)), 3)
            )
        merged.append(top)
    merged.sort(key=lambda c: (-c.score, c.start, c.name))
    merged = merged[:MAX_CANDIDATES]
    best = None
    if len(merged) == 1 or (
        len(merged) > 1 and merged[0].score - merged[1].score >= AMBIGUITY_MARGIN - 1e-9
    ):
        best = merged[0] if merged else None
    return Resolution(candidates=tuple(merged), best=best, truncated=truncated)
