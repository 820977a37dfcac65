"""Rebuild data/directory/common_words.txt: the words our own NLU examples use.

Every word of six letters or more written in lower case in data/nlu/*.yml (the
training examples Front Door's team wrote), one a line. The location resolver
never reads one of them as a misspelt village ("from prison" is no Priston,
"overseas" no Overseal): villages are many, and a word people write in
enquiries is a word. ``python -m scripts.build_common_words`` rewrites the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NLU = ROOT / "data" / "nlu"
OUT = ROOT / "data" / "directory" / "common_words.txt"
WORD = re.compile(r"\b[a-z]{6,}\b")
HEADER = (
    "# Words of six letters or more that Front Door's own NLU examples (data/nlu/)\n"
    "# write in lower case: never read as a misspelt village by the resolver.\n"
    "# Built by scripts/build_common_words.py; do not edit by hand.\n"
)


def examples(path: Path) -> list[str]:
    """Return the example texts of one NLU file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for item in doc.get("nlu") or []:
        raw = item.get("examples") if "intent" in item else None
        if isinstance(raw, str):
            lines = [ln.strip()[2:] for ln in raw.splitlines()]
            out += [
                ln
                for ln, r in zip(lines, raw.splitlines(), strict=True)
                if r.strip().startswith("- ")
            ]
        elif isinstance(raw, list):
            out += [x if isinstance(x, str) else str(x.get("text", "")) for x in raw]
    return out


def build() -> str:
    """Return the file's text from the NLU examples as they are now."""
    words: set[str] = set()
    for path in sorted(NLU.glob("*.yml")):
        for text in examples(path):
            words.update(WORD.findall(text))
    return HEADER + "".join(f"{w}\n" for w in sorted(words))


def main() -> None:
    text = build()
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - 3} words to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
