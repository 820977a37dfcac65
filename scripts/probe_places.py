"""A generated stress split for the location resolver, labelled from the data alone.

Places are drawn at random (fixed seed) from data/directory/places.csv and
ni_places.csv, put into chat-like sentences, and labelled with the place's own
council: a name with namesakes elsewhere gets a qualifier (its council or its
OS county) as people add one. Nothing here comes from the frozen split or the
resolver; it measures kinds (villages, suburbs, towns...) at a scale a hand-written
split cannot, and lists the misses so their causes can be read.

    .venv/bin/python -m scripts.probe_places [--n 200] [--kind Village] [--show 30]
        [--seed 14] [--other]

``--other`` uses the second template set: check a change made while reading one
set's misses on the other set and on other seeds. The resolver reads the
configured database (DATABASE_URL), directory imported.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import Counter, defaultdict
from pathlib import Path

from bot.directory.textnorm import name_key

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "directory"

TEMPLATES = (
    "we're a small charity based in {p}, can you help with funding",
    "{p} community choir looking for grants",
    "hi, I run a parent and toddler group in {p}",
    "any volunteer centre that covers {p}?",
    "we are a food bank in {p} and need new trustees",
    "our village hall committee ({p}) needs advice on our constitution",
    "looking for volunteers for our lunch club in {p} please",
    "we're a youth football club from {p}, how do we open a bank account",
    "Hello from {p}! we want to set up a CIO",
    "does anyone support community groups around {p}",
    "small heritage group in {p} needs help with a lottery bid",
    "{p} - parish council wants to start a warm space",
)


# A second set, for checking a change against sentences it was not made on.
TEMPLATES_B = (
    "I'm the secretary of a {p} tenants group",
    "hi there, {p} here, we need help with safeguarding",
    "does {p} have a cvs?",
    "we meet at the church hall in {p} every tuesday",
    "we help refugees across {p}",
    "our {p} group needs insurance advice",
    "{p}",
    "the food bank at {p} is looking for a treasurer",
    "Befriending service covering {p} and nearby villages",
    "i volunteer with a {p} charity",
)


def _load() -> tuple[list[dict[str, str]], dict[str, str], Counter[str]]:
    rows: list[dict[str, str]] = []
    with (DATA / "places.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(r)
    with (DATA / "ni_places.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            r["os_county_2017"] = ""
            rows.append(r)
    lads: dict[str, str] = {}
    with (DATA / "local_authorities.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            lads[r["lad_code"]] = (
                r["lad_name"].removesuffix(", City of").removesuffix(", County of")
            )
    count: Counter[str] = Counter()
    for r in rows:
        count[name_key(r["name"])] += 1
        if r.get("name_alt"):
            count[name_key(r["name_alt"])] += 1
    for name in lads.values():
        count[name_key(name)] += 1
    return rows, lads, count


def generate(
    n: int, kinds: list[str], seed: int = 14, templates: tuple[str, ...] = TEMPLATES
) -> list[tuple[str, str, str, str]]:
    """Return (kind, message, expected_lad_code, note) rows."""
    rows, lads, count = _load()
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    by_type: dict[str, list[dict[str, str]]] = defaultdict(list)
    same_lad: Counter[tuple[str, str]] = Counter()
    for r in rows:
        same_lad[(name_key(r["name"]), r["lad_code"])] += 1
        by_type[r["place_type"]].append(r)
    out = []
    for kind in kinds:
        pool = by_type[kind]
        picked = 0
        while picked < n:
            r = rng.choice(pool)
            key = name_key(r["name"])
            if not key or len(key) < 4 or r["lad_code"] not in lads:
                continue
            if same_lad[(key, r["lad_code"])] > 1:
                continue
            name = r["name"]
            qual = ""
            if count[key] > 1:
                county = (r.get("os_county_2017") or "").split(" - ")[-1]
                lad = lads[r["lad_code"]]
                qual = rng.choice([lad, county or lad])
                if name_key(qual) == key:
                    continue
            place = f"{name}, {qual}" if qual else name
            text = rng.choice(templates).format(p=place)
            if rng.random() < 0.4:
                text = text.lower()
            note = f"{r['place_type']} {name} -> {lads[r['lad_code']]}"
            out.append(
                (kind, text, r["lad_code"], note + (" (qualified)" if qual else ""))
            )
            picked += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument(
        "--kind", action="append", help="place_type (Village, Suburban Area, ...)"
    )
    parser.add_argument("--show", type=int, default=25)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--other", action="store_true", help="the second templates")
    args = parser.parse_args()
    kinds = args.kind or ["Town", "Village", "Suburban Area", "Hamlet", "settlement"]
    from bot.db.session import get_engine
    from bot.directory.resolver import resolver_for_engine

    resolver = resolver_for_engine(get_engine())
    rows = generate(args.n, kinds, args.seed, TEMPLATES_B if args.other else TEMPLATES)
    tally: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    for kind, text, expected, note in rows:
        result = resolver.resolve(text)
        best = result.best
        got = (
            (best.lad_code or f"AREA:{best.name}")
            if best
            else ("AMBIGUOUS" if result.candidates else "NONE")
        )
        t = tally[(kind, "qualified" in note)]
        t[1] += 1
        if got == expected:
            t[0] += 1
        else:
            cands = "; ".join(
                f"{c.name}={c.lad_code}:{c.score}" for c in result.candidates[:3]
            )
            misses[kind].append(f"{got:10} | {text} | {note} | {cands}")
    for (kind, q), (ok, total) in sorted(tally.items()):
        label = "qualified" if q else "alone"
        print(f"{kind:15} {label:9} {ok:4}/{total:<4} {ok / total:.1%}")
    for kind, lines in misses.items():
        print(f"\n## {kind} misses ({len(lines)})")
        for line in lines[: args.show]:
            print(line)


if __name__ == "__main__":
    main()
