#!/usr/bin/env python3
# ruff: noqa: E501 - a data-build script: long source paths and regexes stay whole
"""Rebuild data/directory/landmarks.csv (UK islands and parks) from a GeoNames country dump.

Source: the GeoNames gazetteer extract for GB (``GB.zip`` containing ``GB.txt``, tab-separated,
CC BY 4.0, https://www.geonames.org/), as committed in the public repository
``Caboose7463/sobernation`` at ``data/GB.zip`` (commit 83424c834ecbabe2ceb6010516c979eb6f466e03;
the archive's GB.txt is dated 2026-04-04).  See data/directory/PROVENANCE.md, section
"landmarks.csv", for the licence, attribution and the filtering rules in words.

Usage:
    python scripts/build_landmarks.py [PATH_TO_GB.zip_or_GB.txt] [--out data/directory/landmarks.csv]

Without a path the script reads ``data/GB.zip`` from the fetched mirror
``/work/.mirror/Caboose7463+sobernation/repo`` (``git show HEAD:data/GB.zip``).
Nothing is downloaded.  Standard library only.  ``data/directory/places.csv`` (OS Open Names
populated places, already in this repository) is read for one island rule (see ``linked_places``).
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import math
import re
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = Path("/work/.mirror/Caboose7463+sobernation/repo")
MIRROR_PATH = "data/GB.zip"
SOURCE_REPO = "Caboose7463/sobernation"
SOURCE_COMMIT = "83424c834ecbabe2ceb6010516c979eb6f466e03"

NATIONS = {
    "ENG",
    "SCT",
    "WLS",
    "NIR",
}  # GeoNames admin1 codes; drops Akrotiri/Dhekelia etc.
ISLAND_CODES = {"ISL", "ISLS", "ISLT"}  # island, islands (group), land-tied island
PARK_CODES = {"PRK", "GDN", "CMN", "HTH"}  # park, garden(s), common, heath

# GeoNames "geoname" table columns (readme.txt in the archive).
COLS = [
    "geonameid",
    "name",
    "asciiname",
    "alternatenames",
    "latitude",
    "longitude",
    "feature_class",
    "feature_code",
    "country_code",
    "cc2",
    "admin1",
    "admin2",
    "admin3",
    "admin4",
    "population",
    "elevation",
    "dem",
    "timezone",
    "modification_date",
]

# --- islands -------------------------------------------------------------------------------
# Words that mark a rock, skerry, stack, islet, river ait/eyot or a part of an island
# rather than an island people would name as a place.
TINY_WORDS = re.compile(
    r"\b(rocks?|stacks?|stac|stones?|sgeir\w*|skerr(y|ies)|carraig|carreg|bogha|holms?|holmes?|"
    r"eyots?|aits?|islets?|crags?|scars?|haugh|marsh|meadows?|bank|mead|down|hill|head|brow|"
    r"common|pond|dyke|weir)\b"
)
ISLAND_WORDS = re.compile(
    r"\b(island|islands|isle|isles|eilean|ynys|inis|inch|mainland)\b"
)
DIRECTIONS = ("north", "south", "east", "west", "upper", "lower")
# Foreign-language (exonym) words seen in GeoNames alternate names; such forms are not kept.
FOREIGN = {
    "isla",
    "ilha",
    "illa",
    "ile",
    "île",
    "insel",
    "insula",
    "insulo",
    "isola",
    "isula",
    "eiland",
    "enez",
    "nisos",
    "ostrov",
    "ostrvo",
    "otok",
    "sziget",
    "saari",
    "sala",
    "dao",
    "seom",
    "jima",
    "shima",
    "de",
    "di",
    "da",
    "do",
    "du",
    "del",
    "della",
    "la",
    "le",
    "pa",
    "på",
    "i",
    "o",
    "von",
    "der",
    "ostrova",
    "wyspa",
}

# --- parks -----------------------------------------------------------------------------------
GREEN_WORDS = re.compile(
    r"\b(park|parks|garden|gardens|heath|common|green|moor|links|meadows|fields|leazes|"
    r"arboretum|downs|rye)\b"
)
NOT_PARK = re.compile(
    r"\b(car park|science park|business|retail|industrial|cricket ground|recreation(al)? ground|"
    r"playing fields|allotments?|railway|pool|cemetery|square|historical|national park|"
    r"farm|riding centre|arena|holiday park|caravan)\b|\bparkd\b"
)
# A park name whose distinctive word is generic is shared by many parks across the UK
# (only one of them is in GeoNames), so it would point to the wrong town.
GENERIC_PARK = re.compile(
    r"^(the )?(north|south|east|west|central|queens?|kings?|princess|victoria|alexandra|albert|"
    r"jubilee|memorial|war memorial|manor|valley|pocket|city|town|peoples?|public|hillside|"
    r"highfield|heath|springfield|king george|saint georges|st georges|recreation|church|"
    r"castle|moor|woodside|hoe|millbay|firs|the royal) ?(park|parks|gardens?|green|common)?$"
)


def fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.replace("’", "'"))
    return re.sub(r"\s+", " ", s.encode("ascii", "ignore").decode().lower()).strip()


def core(name: str) -> str:
    """'Isle of Arran' -> 'arran', 'Coll Island' -> 'coll' (folded)."""
    n = fold(name)
    n = re.sub(r"^(the )?(isle|island|islands|isles) of (the )?", "", n)
    n = re.sub(r" (island|isle|islands|isles)$", "", n)
    return n.strip()


def read_geonames(path: Path | None) -> list[dict]:
    if path is None:
        raw = subprocess.run(  # noqa: S603 - a fixed git command on a local mirror
            ["git", "-C", str(DEFAULT_MIRROR), "show", f"HEAD:{MIRROR_PATH}"],  # noqa: S607
            check=True,
            capture_output=True,
        ).stdout
        text = zipfile.ZipFile(io.BytesIO(raw)).read("GB.txt").decode("utf-8")
    elif path.suffix == ".zip":
        text = zipfile.ZipFile(path).read("GB.txt").decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) >= len(COLS):
            rows.append(dict(zip(COLS, f[: len(COLS)], strict=True)))
    return rows


def alternates(r: dict) -> list[str]:
    """Distinct alternate names (original spelling), minus codes and accent-only variants."""
    out, seen = [], {fold(r["name"])}
    for a in r["alternatenames"].split(","):
        a = a.strip()
        if not a or re.fullmatch(
            r"[A-Z]{3,4}", a
        ):  # IATA/ICAO-style codes (ILY, ULL, VLY)
            continue
        k = fold(a)
        if not k or k in seen:
            # keep the accented spelling of an accent-only pair ('Ynys Môn' over 'Ynys Mon')
            for i, b in enumerate(out):
                if fold(b) == k and not a.isascii() and b.isascii():
                    out[i] = a
            continue
        seen.add(k)
        out.append(a)
    return out


def latin(s: str) -> bool:
    return all(
        unicodedata.name(ch, "").startswith(
            (
                "LATIN",
                "SPACE",
                "HYPHEN",
                "APOSTROPHE",
                "RIGHT SINGLE",
                "FULL STOP",
                "DIGIT",
            )
        )
        or ch in "'-. "
        for ch in s
    )


def pick_name_alt(name: str, nation: str, cands: list[str]) -> str:
    """Keep Gaelic / Welsh / English forms the source gives; drop exonyms and transliterations."""
    keep = []
    for a in cands:
        if (
            not latin(a) or "j" in a.lower()
        ):  # Cyrillic/Greek/CJK, or transliterations (Mejnlend)
            continue
        words = set(re.findall(r"[\wà-ÿŵŷ']+", a.lower()))
        if words & FOREIGN and not a.lower().startswith(("na h-", "an t-")):
            continue
        gaelic = nation == "SCT" and (
            re.search(r"[àèìòùÀÈÌÒÙ]", a)
            or re.match(r"(Eilean|Eileanan|An t-|Na h-|Innis|Ì )", a)
        )
        welsh = nation == "WLS" and (
            re.match(r"(Ynys|Parc|Gerddi|Comin|Rhos)\b", a)
            or re.search(r"[âêîôûŵŷ]", a)
        )
        english = (
            core(a) == core(name)
            or (
                re.fullmatch(r"[A-Za-z' .-]+", a)
                and ISLAND_WORDS.search(fold(a))
                and len(a.split()) >= 2
            )
            or (
                re.fullmatch(r"[A-Za-z' .-]+", a)
                and GREEN_WORDS.search(fold(a))
                and len(a.split()) >= 2
            )
        )
        if gaelic or welsh or english:
            keep.append(a)
    return ";".join(keep)


def km(lat1, lon1, lat2, lon2) -> float:
    return (
        math.hypot(
            (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2)), lat2 - lat1
        )
        * 111.2
    )


def load_places() -> dict[str, list[tuple[float, float]]]:
    by = collections.defaultdict(list)
    with open(ROOT / "data/directory/places.csv", encoding="utf-8") as fh:
        for p in csv.DictReader(fh):
            for n in (p["name"], p["name_alt"]):
                if n:
                    by[fold(n)].append((float(p["latitude"]), float(p["longitude"])))
    return by


NATION_NAMES = {
    "ENG": "England",
    "SCT": "Scotland",
    "WLS": "Wales",
    "NIR": "Northern Ireland",
}


def load_points() -> dict[str, list[tuple[float, float, str, str]]]:
    """Populated places with coordinates, by nation: (lat, lon, lad_code, name).

    Northern Ireland has few settlement coordinates in ni_places.csv, so its postcode
    district centroids (dominant council) stand in beside them."""
    by = collections.defaultdict(list)
    with open(ROOT / "data/directory/places.csv", encoding="utf-8") as fh:
        for p in csv.DictReader(fh):
            by[p["country"]].append(
                (float(p["latitude"]), float(p["longitude"]), p["lad_code"], p["name"])
            )
    for name, column in (
        ("ni_places.csv", "name"),
        ("ni_postcode_districts.csv", "postcode_district"),
    ):
        with open(ROOT / "data/directory" / name, encoding="utf-8") as fh:
            for p in csv.DictReader(fh):
                if p["latitude"] and p["longitude"]:
                    by["Northern Ireland"].append(
                        (
                            float(p["latitude"]),
                            float(p["longitude"]),
                            p["lad_code"],
                            p[column],
                        )
                    )
    return by


def nearest(lat: float, lon: float, points) -> tuple[str, str, float]:
    """The council of the nearest populated place: (lad_code, place, km)."""
    best = min(points, key=lambda q: km(lat, lon, q[0], q[1]))
    return best[2], best[3], km(lat, lon, best[0], best[1])


def linked_places(r: dict, places) -> bool:
    """An OS Open Names populated place within 6 km carries the island's name: the full name
    ('Canvey Island', 'Osea Island'), or the island's core name with a compass word
    ('North Hayling', 'West Mersea').  The full-name form needs an island word in the name."""
    lat, lon = float(r["latitude"]), float(r["longitude"])
    c = core(r["name"])
    keys = [f"{d} {c}" for d in DIRECTIONS]
    if ISLAND_WORDS.search(fold(r["name"])):
        keys.append(fold(r["name"]))
    return any(km(lat, lon, a, b) < 6 for k in keys for (a, b) in places.get(k, []))


def source_label(r: dict) -> str:
    return (
        f"GeoNames {r['feature_class']}.{r['feature_code']} geonameid {r['geonameid']} "
        f"({SOURCE_REPO}:{MIRROR_PATH}@{SOURCE_COMMIT[:8]}; CC BY 4.0)"
    )


def build_islands(rows, places):
    isl = [
        r for r in rows if r["feature_code"] in ISLAND_CODES and r["admin1"] in NATIONS
    ]
    name_count = collections.Counter(fold(r["name"]) for r in isl)
    kept = []
    for r in isl:
        alts = alternates(r)
        score = len(alts) + (int(r["population"] or 0) > 0)
        n = fold(r["name"])
        if "[" in r["name"] or "(" in r["name"]:
            continue  # "Beacon Hill (Lundy)", "Heabhal [Sheabhal] [Heaval]": parts/hills
        if TINY_WORDS.search(n):
            continue  # skerries, stacks, holms, aits ... even when notable (Sule Skerry)
        if score >= 2:
            why = "notable"  # inhabited (population) or several names in the source
        elif linked_places(r, places):
            why = "named-settlement"
        elif name_count[n] >= 2:
            continue  # generic: The Island, Heron Island, Eilean Dubh ...
        elif score == 1 and not re.match(
            r"(eilean|eileanan|ynys|glas eilean|garbh eilean) ", n
        ):
            why = "alt-name"
        else:
            continue
        kept.append((r, alts, why))
    # Merge duplicates of one island (e.g. 'Island of Skye' / 'Isle of Skye', 'Hoy' / 'Hoy Island'):
    # same core name within 15 km; keep the entry with most alternates, pool the names.
    kept.sort(key=lambda x: (-len(x[1]), int(x[0]["geonameid"])))
    out = []
    for r, alts, why in kept:
        lat, lon = float(r["latitude"]), float(r["longitude"])
        for o in out:
            if (
                core(o["r"]["name"]) == core(r["name"])
                and km(lat, lon, float(o["r"]["latitude"]), float(o["r"]["longitude"]))
                < 15
            ):
                o["cands"] += [r["name"]] + alts
                o["merged"].append(r["geonameid"])
                break
        else:
            out.append({"r": r, "cands": list(alts), "why": why, "merged": []})
    return out


def build_parks(rows):
    out = []
    for r in rows:
        if r["feature_code"] not in PARK_CODES or r["admin1"] not in NATIONS:
            continue
        n = fold(r["name"])
        alts = alternates(r)
        if not GREEN_WORDS.search(n) or NOT_PARK.search(n) or GENERIC_PARK.match(n):
            continue
        if any("national park" in fold(a) for a in alts):
            continue  # 'Snowdonia' (tagged as a park, alternate 'Snowdonia National Park')
        if len(n) < 4:
            continue
        out.append({"r": r, "cands": alts, "why": "park", "merged": []})
    # exact duplicate names (same folded name within 3 km): keep one
    seen, uniq = [], []
    for o in out:
        r = o["r"]
        lat, lon = float(r["latitude"]), float(r["longitude"])
        if any(
            fold(s["r"]["name"]) == fold(r["name"])
            and km(lat, lon, float(s["r"]["latitude"]), float(s["r"]["longitude"])) < 3
            for s in seen
        ):
            continue
        seen.append(o)
        uniq.append(o)
    return uniq


def build_neighbourhoods(rows):
    """Northern Ireland's named neighbourhoods (GeoNames PPLX, "section of populated
    place": Ardoyne, Shankill, the Bogside): NISRA's settlement list has none, while
    OS Open Names already gives Great Britain's suburbs (places.csv)."""
    return [
        {"r": r, "cands": alternates(r), "why": "pplx", "merged": []}
        for r in rows
        if r["feature_code"] == "PPLX" and r["admin1"] == "NIR" and len(r["name"]) >= 4
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, help="GeoNames GB.zip or GB.txt")
    ap.add_argument("--out", type=Path, default=ROOT / "data/directory/landmarks.csv")
    args = ap.parse_args(argv)
    rows = read_geonames(args.source)
    places = load_places()
    points = load_points()
    records = []
    for kind, items in (
        ("island", build_islands(rows, places)),
        ("park", build_parks(rows)),
        ("neighbourhood", build_neighbourhoods(rows)),
    ):
        for o in items:
            r = o["r"]
            records.append(
                {
                    "name": r["name"],
                    "name_alt": pick_name_alt(r["name"], r["admin1"], o["cands"]),
                    "kind": kind,
                    "latitude": f"{float(r['latitude']):.5f}",
                    "longitude": f"{float(r['longitude']):.5f}",
                    "source": source_label(r),
                    "_nation": r["admin1"],
                    "_why": o["why"],
                }
            )
            nation = NATION_NAMES[r["admin1"]]
            lad, place, dist = nearest(
                float(r["latitude"]), float(r["longitude"]), points[nation]
            )
            records[-1].update(
                nation=nation,
                lad_code=lad,
                nearest_place=place,
                nearest_km=f"{dist:.1f}",
            )
    records.sort(key=lambda x: (x["kind"], fold(x["name"]), x["latitude"]))
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(
            fh,
            fieldnames=[
                "name",
                "name_alt",
                "kind",
                "nation",
                "lad_code",
                "nearest_place",
                "nearest_km",
                "latitude",
                "longitude",
                "source",
            ],
            extrasaction="ignore",
            lineterminator="\n",
        )
        w.writeheader()
        w.writerows(records)
    c = collections.Counter((x["kind"], x["_nation"]) for x in records)
    why = collections.Counter((x["kind"], x["_why"]) for x in records)
    print(f"wrote {len(records)} rows to {args.out}", file=sys.stderr)
    for k in sorted(c):
        print(f"  {k[0]:6} {k[1]}: {c[k]}", file=sys.stderr)
    for k in sorted(why):
        print(f"  {k[0]:6} rule {k[1]}: {why[k]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
