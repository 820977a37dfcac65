"""Welsh NLU bake-off (issue 16): one shared model, a second Welsh model, and
MiniLM switched off for Welsh, measured the same way before choosing.

Runs in the Rasa environment (MiniLM needs it), in-process with the lab's code
(the triage model the Rasa component fits, rasa_addons/triage_model.py), and
asks the app environment for the language of each message (bot.language, the
detector the gateway uses):

    .venv-rasa/bin/python -m scripts.welsh_bakeoff

Arms:
- ``shared`` (shipped): one model on the English and Welsh examples, MiniLM
  embeddings + TF-IDF, config.yml's settings.
- ``second``: an English model (the English examples, config.yml's settings) and
  a Welsh model (the Welsh examples only, the same pipeline and intents, its C,
  dense weight and thresholds chosen by 5-fold cross-validation on the Welsh
  training examples); each message goes to the model of its detected language.
- ``cy_no_minilm``: one model, but Welsh messages (detected) carry no MiniLM
  embedding, so the language-independent character n-grams decide for them.
  This stands in for a multilingual featurizer: none installs offline with its
  weights inside the package (docs/welsh.md).

There is no Welsh dev split: every Welsh choice is made on cross-validation of
data/nlu/welsh_round1.yml; the Welsh test split (tests/nlu/welsh/) is only
scored, after the choices, and none of its messages is printed. English is
chosen on nothing here (config.yml's settings came from the English dev split).
Writes docs/nlu/welsh_bakeoff.json and prints the Markdown table that
docs/welsh.md and `make eval` show.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import pickle  # noqa: S403 (our own temporary model files)
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "nlu" / "welsh_bakeoff.json"
WELSH_DIR = ROOT / "tests" / "nlu" / "welsh"
WELSH_FILES = ("topics.jsonl", "person.jsonl", "other.jsonl")
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
FOLDS = 5
# the one-model arms' Welsh cross-validation refits the whole English data per
# fold (minutes each on two shared cores): three folds for them
ARM_FOLDS = 3
STAGES = ROOT / "var" / "welsh-bakeoff"
STAGE_RECIPE = "1"
ARM_LABELS = {
    "shared": "one shared model (shipped)",
    "second": "second Welsh model, routed by language",
    "cy_no_minilm": "one model, no MiniLM for Welsh",
}


def _log(msg: str) -> None:
    print(f"[welsh-bakeoff] {msg}", file=sys.stderr, flush=True)


# --- language detection (app environment) ------------------------------------


def _detect_stdin() -> int:
    """Read a JSON list of texts on stdin; print their languages (app env)."""
    from bot import language

    texts = json.loads(sys.stdin.read())
    print(json.dumps([language.detect(t).language for t in texts]))
    return 0


def detect(texts: Sequence[str]) -> List[str]:
    """The language bot.language.detect gives each text (run in the app env)."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [str(APP_PYTHON), "-m", "scripts.welsh_bakeoff", "--detect"],
        input=json.dumps(list(texts)), capture_output=True, text=True,
        cwd=ROOT, check=True,
    )
    languages = json.loads(done.stdout)
    assert len(languages) == len(texts)
    return [str(x) for x in languages]


# --- resident memory of fitted models (a fresh process) ----------------------


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_of(paths: Sequence[str]) -> int:
    """Print how much resident memory loading these pickled models adds."""
    import numpy as np

    # the code the models need is imported before the first reading (it brings
    # Rasa in: the Rasa process has it anyway), so only the models are counted
    import rasa_addons.triage_model  # noqa: F401

    before = _rss_mb()
    models = []
    for p in paths:
        with open(p, "rb") as fh:
            models.append(pickle.load(fh))  # noqa: S301 (written by this script)
    for m in models:  # one message through each, so lazy structures are built
        dense = np.zeros((1, m.features.dense_dim), dtype=np.float32)
        m.scores(["prawf"], dense if m.features.dense_dim else None)
    print(json.dumps({"rss_added_mb": _rss_mb() - before}))
    return 0


def rss_added(models: Sequence[Any]) -> float:
    """MB of resident memory these models add to a process that loads them."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, m in enumerate(models):
            path = Path(tmp) / f"m{i}.pkl"
            path.write_bytes(pickle.dumps(m))
            paths.append(str(path))
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "scripts.welsh_bakeoff", "--rss", *paths],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["rss_added_mb"])


# --- the bake-off (Rasa environment) -----------------------------------------


def shipped_settings() -> Tuple[Any, float]:
    """config.yml's TriageClassifier settings and FallbackClassifier threshold."""
    import yaml

    from rasa_addons.triage_model import Config

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    steps = {s["name"].rsplit(".", 1)[-1]: s for s in config["pipeline"]}
    return (Config.from_dict(steps["TriageClassifier"]),
            float(steps["FallbackClassifier"]["threshold"]))


class Bakeoff:
    """The data, embeddings and detected languages every arm shares."""

    def __init__(self, smoke: bool = False) -> None:
        import numpy as np

        from scripts import nlu_lab
        from scripts.nlu_data import load_splits, read_jsonl

        self.np = np
        self.lab = nlu_lab
        self.smoke = smoke
        splits = load_splits()
        train = splits.train
        if smoke:  # a quick run through every step, on a sample (never reported)
            train = [e for i, e in enumerate(train)
                     if e.kind.startswith("welsh") or i % 20 == 0]
            splits.dev, splits.test = splits.dev[::10], splits.test[::10]
        self.train_all = train
        self.train_cy = [e for e in train if e.kind.startswith("welsh")]
        self.train_en = [e for e in train if not e.kind.startswith("welsh")]
        self.dev_en = splits.dev
        self.test_en = splits.test
        self.test_cy = [e for n in WELSH_FILES for e in read_jsonl(WELSH_DIR / n)]
        if smoke:  # the smoke run never scores the Welsh test split
            self.test_cy = self.train_cy[:40]
        self.cache = STAGES / ("smoke" if smoke else "full") / self._key()
        self.cache.mkdir(parents=True, exist_ok=True)
        _log(f"train: {len(self.train_en)} English + {len(self.train_cy)} Welsh; "
             f"English dev {len(self.dev_en)}, English test {len(self.test_en)}, "
             f"Welsh test {len(self.test_cy)}")
        self.sets = {"train_all": self.train_all, "dev_en": self.dev_en,
                     "test_en": self.test_en, "test_cy": self.test_cy}
        self.dense = {k: nlu_lab.embeddings("minilm", [e.text for e in v])
                      for k, v in self.sets.items()}
        _log("detecting languages (app environment) ...")
        texts = [e.text for v in self.sets.values() for e in v]
        found = detect(texts)
        self.lang: Dict[str, List[str]] = {}
        i = 0
        for k, v in self.sets.items():
            self.lang[k] = found[i:i + len(v)]
            i += len(v)
        self.cy_index = [i for i, e in enumerate(self.train_all)
                         if e.kind.startswith("welsh")]
        self.en_index = [i for i, e in enumerate(self.train_all)
                         if not e.kind.startswith("welsh")]
        self.config, self.fallback = shipped_settings()

    def _key(self) -> str:
        """What the cached stages depend on: data, settings, the stage recipe."""
        h = hashlib.sha256(STAGE_RECIPE.encode())
        for e in self.train_all:
            h.update(repr((e.text, e.intent, e.subtopic, e.person, e.kind)).encode())
        for path in (ROOT / "config.yml", ROOT / "data/nlu/lookups/risk_phrases.txt"):
            h.update(path.read_bytes())
        return h.hexdigest()[:16]

    def stage(self, name: str, fn: Callable[[], Any], compute: bool = True) -> Any:
        """``fn()``, or what it returned in an earlier run (var/welsh-bakeoff/).

        Each stage can be run on its own (``--stage NAME``), so the slow fits
        can go side by side; the plain command runs whatever is missing."""
        path = self.cache / f"{name}.pkl"
        if path.exists():
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 (written by this script)
        if not compute:
            _log(f"stage {name} not run (--no-arm-cv)")
            return None
        _log(f"stage {name} ...")
        value = fn()
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(pickle.dumps(value))
        os.replace(partial, path)
        return value

    # -- building blocks --

    def fit(self, items: Sequence[Any], dense: Optional[Any], config: Any) -> Any:
        return self.lab.triage_model(config).fit(self.lab.to_examples(items, dense))

    def predictions(self, model: Any, items: Sequence[Any], dense: Optional[Any],
                    config: Any, fallback: float) -> List[Dict[str, Any]]:
        preds = self.lab.predict(model, items, dense, config, fallback)
        for p in preds:  # a Rasa-trained model names subtopics "funding/grants"
            if p["subtopic"]:
                p["subtopic"] = str(p["subtopic"]).rsplit("/", 1)[-1]
        return preds

    def no_minilm_for(self, dense: Any, langs: Sequence[str]) -> Any:
        """The embeddings with every Welsh message's row set to zero."""
        out = dense.copy()
        out[[i for i, lang in enumerate(langs) if lang == "cy"]] = 0.0
        return out

    def folds(self, k: int = FOLDS) -> List[Tuple[List[int], List[int]]]:
        """k stratified folds of the Welsh training examples (their indices)."""
        from sklearn.model_selection import StratifiedKFold

        labels = [e.intent for e in self.train_cy]
        return [(list(tr), list(te)) for tr, te in StratifiedKFold(
            k, shuffle=True, random_state=11).split(self.train_cy, labels)]

    # -- the Welsh model's settings, on cross-validation only --

    def choose_welsh(self) -> Dict[str, Any]:
        """C, dense weight and thresholds of the Welsh-only model (Welsh CV)."""
        from rasa_addons.triage_model import decide

        dense_cy = self.dense["train_all"][self.cy_index]
        folds = self.folds()
        tried = []
        grid = list(itertools.product((3.0, 10.0, 30.0), (0.0, 0.5, 1.0)))
        for c, w in grid[4:5] if self.smoke else grid:
            base = replace(self.config, C=c, dense_weight=w, min_df=1)
            scores: List[Any] = [None] * len(self.train_cy)
            for tr, te in folds:
                model = self.fit([self.train_cy[i] for i in tr],
                                 dense_cy[tr] if w else None, base)
                held = model.scores([self.train_cy[i].text for i in te],
                                    dense_cy[te] if w else None)
                for i, s in zip(te, held, strict=True):
                    scores[i] = s
            best: Optional[Dict[str, Any]] = None
            for fallback, person_t, risk_t in itertools.product(
                (0.2, 0.3, 0.4, 0.5), (0.2, 0.3, 0.4, 0.5, 0.6),
                (0.3, 0.4, 0.5, 0.6),
            ):
                if person_t < fallback:
                    continue
                cfg = replace(base, person_threshold=person_t, risk_threshold=risk_t)
                preds = [self.lab.prediction(decide(s, cfg), fallback) for s in scores]
                f = self.lab.tm.figures(self.train_cy, preds)
                row = {"C": c, "dense_weight": w, "fallback": fallback,
                       "person_threshold": person_t, "risk_threshold": risk_t,
                       "objective": self.lab.objective(f),
                       "topic_macro_f1": f["topic_macro_f1"]}
                if best is None or row["objective"] > best["objective"]:
                    best = row
            assert best is not None
            _log(f"Welsh CV C={c} w={w}: objective {best['objective']:.3f} "
                 f"F1 {best['topic_macro_f1']:.3f}")
            tried.append(best)
        tried.sort(key=lambda r: (-r["objective"], -r["topic_macro_f1"]))
        return {"chosen": tried[0], "tried": tried}

    # -- Welsh cross-validation of the one-model arms (their "dev" on Welsh) --

    def cv_shared(self, no_minilm: bool) -> Dict[str, Any]:
        """Welsh CV of a one-model arm: English + 4/5 of Welsh, scored on 1/5."""
        dense = self.dense["train_all"]
        if no_minilm:
            dense = self.no_minilm_for(dense, self.lang["train_all"])
        preds: List[Any] = [None] * len(self.train_cy)
        for tr, te in self.folds(ARM_FOLDS):
            keep = self.en_index + [self.cy_index[i] for i in tr]
            model = self.fit([self.train_all[i] for i in keep], dense[keep],
                             self.config)
            held = [self.cy_index[i] for i in te]
            out = self.predictions(model, [self.train_all[i] for i in held],
                                   dense[held], self.config, self.fallback)
            for i, p in zip(te, out, strict=True):
                preds[i] = p
        return self.lab.tm.figures(self.train_cy, preds)

    def cv_second(self, chosen: Dict[str, Any]) -> Dict[str, Any]:
        """Welsh CV of the Welsh model with its chosen settings."""
        cfg, fallback = self._welsh_config(chosen)
        dense_cy = self.dense["train_all"][self.cy_index]
        preds: List[Any] = [None] * len(self.train_cy)
        for tr, te in self.folds(ARM_FOLDS):
            use = cfg.dense_weight > 0
            model = self.fit([self.train_cy[i] for i in tr],
                             dense_cy[tr] if use else None, cfg)
            out = self.predictions(model, [self.train_cy[i] for i in te],
                                   dense_cy[te] if use else None, cfg, fallback)
            for i, p in zip(te, out, strict=True):
                preds[i] = p
        return self.lab.tm.figures(self.train_cy, preds)

    def _welsh_config(self, chosen: Dict[str, Any]) -> Tuple[Any, float]:
        cfg = replace(self.config, C=chosen["C"], dense_weight=chosen["dense_weight"],
                      person_threshold=chosen["person_threshold"],
                      risk_threshold=chosen["risk_threshold"], min_df=1)
        return cfg, float(chosen["fallback"])


def _figures(b: Bakeoff, items: Sequence[Any],
             preds: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    tm = b.lab.tm
    f = tm.figures(items, preds)
    lo, hi = tm.bootstrap(items, preds, tm.topic_macro_f1, rounds=400)
    f["topic_macro_f1_interval"] = [lo, hi]
    return f


def _timed(fn: Callable[[], Any]) -> Tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


STAGE_NAMES = ("choice", "fit_shared", "fit_english", "fit_cy_no_minilm",
               "fit_welsh", "cv_shared", "cv_cy_no_minilm")


SHIPPED = ROOT / "models" / "frontdoor.tar.gz"


def shipped_model() -> Tuple[Any, float]:
    """The shared arm is the shipped model itself: the triage model inside the
    trained Rasa model (models/frontdoor.tar.gz, read, never written) and the
    whole Rasa training's seconds (models/.train-seconds)."""
    import tarfile

    with tarfile.open(SHIPPED) as tar:
        member = next(m for m in tar.getmembers()
                      if m.name.endswith("TriageClassifier2/triage.pkl")
                      or (m.name.endswith("/triage.pkl") and "Triage" in m.name))
        fh = tar.extractfile(member)
        assert fh is not None
        saved = pickle.loads(fh.read())  # noqa: S301 (the project's own model)
    seconds = float((ROOT / "models" / ".train-seconds").read_text().strip())
    return saved["model"], seconds


def run(smoke: bool = False, only: Optional[str] = None,
        arm_cv: bool = True) -> Dict[str, Any]:
    """Every arm on Welsh CV, English dev, English test and Welsh test."""
    b = Bakeoff(smoke)
    from scripts.nlu_lab import embedder

    result: Dict[str, Any] = {
        "smoke": smoke,
        "n": {"train_en": len(b.train_en), "train_cy": len(b.train_cy),
              "dev_en": len(b.dev_en), "test_en": len(b.test_en),
              "test_cy": len(b.test_cy)},
        "detected": {
            k: {"as_cy": sum(x == "cy" for x in b.lang[k]), "n": len(b.lang[k])}
            for k in ("dev_en", "test_en", "test_cy")
        },
        "arms": {},
    }
    d = b.dense
    d_all_nomini = b.no_minilm_for(d["train_all"], b.lang["train_all"])

    def welsh_fit() -> Tuple[Any, float]:
        cfg, _ = b._welsh_config(b.stage("choice", b.choose_welsh)["chosen"])
        dense = d["train_all"][b.cy_index] if cfg.dense_weight > 0 else None
        return _timed(lambda: b.fit(b.train_cy, dense, cfg))

    stages: Dict[str, Callable[[], Any]] = {
        "choice": b.choose_welsh,
        "fit_shared": lambda: _timed(
            lambda: b.fit(b.train_all, d["train_all"], b.config)),
        "fit_english": lambda: _timed(lambda: b.fit(
            b.train_en, d["train_all"][b.en_index], b.config)),
        "fit_cy_no_minilm": lambda: _timed(
            lambda: b.fit(b.train_all, d_all_nomini, b.config)),
        "fit_welsh": welsh_fit,
        "cv_shared": lambda: b.cv_shared(False),
        "cv_cy_no_minilm": lambda: b.cv_shared(True),
    }
    if only is not None:
        b.stage(only, stages[only])
        return {}
    choice = b.stage("choice", b.choose_welsh)
    result["welsh_model_choice"] = choice
    chosen = choice["chosen"]
    _log(f"Welsh model's settings: {json.dumps(chosen)}")
    cy_cfg, cy_fallback = b._welsh_config(chosen)
    if smoke or not SHIPPED.exists():
        shared, shared_s = b.stage("fit_shared", stages["fit_shared"])
        result["shared_source"] = "lab fit"
    else:
        shared, shared_s = shipped_model()
        result["shared_source"] = "models/frontdoor.tar.gz (Rasa training)"
        assert shared.config.C == b.config.C, "models/ is not trained from config.yml"
    english, english_s = b.stage("fit_english", stages["fit_english"])
    nomini, nomini_s = b.stage("fit_cy_no_minilm", stages["fit_cy_no_minilm"])
    welsh, welsh_s = b.stage("fit_welsh", stages["fit_welsh"])
    _log(f"fits: shared {shared_s:.1f}s, no-MiniLM-for-Welsh {nomini_s:.1f}s, "
         f"English {english_s:.1f}s, Welsh {welsh_s:.1f}s")

    def one_model(model: Any, key: str, no_minilm: bool) -> List[Dict[str, Any]]:
        dense = d[key]
        if no_minilm:
            dense = b.no_minilm_for(dense, b.lang[key])
        return b.predictions(model, b.sets[key], dense, b.config, b.fallback)

    def routed(key: str, langs: Sequence[str]) -> List[Dict[str, Any]]:
        """Each message through the model of ``langs`` (detected or gold)."""
        items, dense = b.sets[key], d[key]
        out: List[Optional[Dict[str, Any]]] = [None] * len(items)
        for lang, model, cfg, fb in (("en", english, b.config, b.fallback),
                                     ("cy", welsh, cy_cfg, cy_fallback)):
            idx = [i for i, x in enumerate(langs) if x == lang]
            if not idx:
                continue
            uses = model.features.dense_dim > 0
            preds = b.predictions(model, [items[i] for i in idx],
                                  dense[idx] if uses else None, cfg, fb)
            for i, p in zip(idx, preds, strict=True):
                out[i] = p
        assert all(p is not None for p in out)
        return out  # type: ignore[return-value]

    _log("Welsh cross-validation of each arm ...")
    cv = {"shared": b.stage("cv_shared", stages["cv_shared"], arm_cv),
          "cy_no_minilm": b.stage("cv_cy_no_minilm", stages["cv_cy_no_minilm"],
                                  arm_cv),
          "second": b.cv_second(chosen)}

    arms: Dict[str, Dict[str, Any]] = {
        "shared": {"fit_seconds": shared_s, "models": [shared],
                   "fit_source": result["shared_source"]},
        "second": {"fit_seconds": english_s + welsh_s, "models": [english, welsh],
                   "fit_seconds_welsh": welsh_s},
        "cy_no_minilm": {"fit_seconds": nomini_s, "models": [nomini]},
    }
    for name, arm in arms.items():
        out: Dict[str, Any] = {"label": ARM_LABELS[name],
                               "fit_seconds": round(arm["fit_seconds"], 1),
                               "welsh_cv": cv[name]}
        if "fit_source" in arm:
            out["fit_source"] = arm["fit_source"]
        if "fit_seconds_welsh" in arm:
            out["fit_seconds_welsh"] = round(arm["fit_seconds_welsh"], 1)
        for key in ("dev_en", "test_en", "test_cy"):
            if name == "second":
                preds = routed(key, b.lang[key])
                gold = ["cy" if key == "test_cy" else "en"] * len(b.sets[key])
                oracle = routed(key, gold)
                out[key + "_oracle"] = _figures(b, b.sets[key], oracle)
            else:
                model = arm["models"][0]
                preds = one_model(model, key, name == "cy_no_minilm")
                if name == "cy_no_minilm":
                    gold = ["cy" if key == "test_cy" else "en"] * len(b.sets[key])
                    dense = b.no_minilm_for(d[key], gold)
                    oracle = b.predictions(model, b.sets[key], dense, b.config,
                                           b.fallback)
                    out[key + "_oracle"] = _figures(b, b.sets[key], oracle)
            out[key] = _figures(b, b.sets[key], preds)
        out["rss_added_mb"] = round(rss_added(arm["models"]), 1)
        out["model_file_mb"] = round(
            sum(len(pickle.dumps(m)) for m in arm["models"]) / 2**20, 1)
        result["arms"][name] = out
        _log(f"{name}: Welsh test F1 {out['test_cy']['topic_macro_f1']:.3f}, "
             f"English test F1 {out['test_en']['topic_macro_f1']:.3f}")

    _log("timing one message at a time ...")
    embed = embedder("minilm")
    assert embed is not None
    sample = ([(e.text, "cy") for e in b.train_cy[:100]]
              + [(e.text, "en") for e in b.dev_en[:100]])
    embed([t for t, _ in sample[:5]])  # warm the ONNX session

    def one_message(name: str, text: str, lang: str) -> float:
        from rasa_addons.triage_model import decide

        t0 = time.perf_counter()
        if name == "second":
            model, cfg = (welsh, cy_cfg) if lang == "cy" else (english, b.config)
        else:
            model, cfg = (shared if name == "shared" else nomini), b.config
        if model.features.dense_dim and not (name == "cy_no_minilm" and lang == "cy"):
            dense = embed([text])
        elif model.features.dense_dim:
            dense = b.np.zeros((1, model.features.dense_dim), dtype="float32")
        else:
            dense = None
        decide(model.scores([text], dense)[0], cfg)
        return time.perf_counter() - t0

    # the arms take turns on each message, so a busy moment of the machine
    # falls on all of them alike
    times = {name: {"cy": [], "en": []} for name in arms}
    for _round in range(3):
        for text, lang in sample:
            for name in arms:
                times[name][lang].append(one_message(name, text, lang))
    for name in arms:
        result["arms"][name]["ms_per_message_median"] = {
            lang: round(1000 * sorted(t)[len(t) // 2], 2)
            for lang, t in times[name].items()}
    result["welsh_model_settings"] = {**asdict(cy_cfg), "fallback": cy_fallback}
    result["english_settings"] = {**asdict(b.config), "fallback": b.fallback}
    return result


# --- the table (pure: `make eval` renders it from the JSON too) --------------


def _f(x: Any) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def _count(f: Dict[str, Any], name: str) -> str:
    return f"{f['right:' + name]}/{f['n:' + name]}"


def _f1(f: Dict[str, Any]) -> str:
    lo, hi = f["topic_macro_f1_interval"]
    return f"{_f(f['topic_macro_f1'])} ({_f(lo)}-{_f(hi)})"


def table(result: Dict[str, Any]) -> str:
    """The bake-off as Markdown."""
    det = result["detected"]
    n = result["n"]
    rows = [
        "| | " + " | ".join(a["label"] for a in result["arms"].values()) + " |",
        "| --- |" + " --- |" * len(result["arms"]),
    ]

    def row(label: str, cell: Callable[[str, Dict[str, Any]], str]) -> None:
        rows.append(f"| {label} | " + " | ".join(
            cell(k, a) for k, a in result["arms"].items()) + " |")

    def loss(key: str) -> Callable[[str, Dict[str, Any]], str]:
        def cell(_name: str, a: Dict[str, Any]) -> str:
            if key + "_oracle" not in a:
                return "none (no routing)"
            got, best = a[key]["topic_macro_f1"], a[key + "_oracle"]["topic_macro_f1"]
            return f"{best - got:+.3f} F1 (oracle {_f(best)})"
        return cell

    row(f"Welsh CV (training, {ARM_FOLDS}-fold): topic macro-F1",
        lambda k, a: _f(a["welsh_cv"]["topic_macro_f1"]) if a["welsh_cv"]
        else "not run")
    row("Welsh CV: person / urgent",
        lambda k, a: f"{_count(a['welsh_cv'], 'person_handed_over')} / "
        f"{_count(a['welsh_cv'], 'urgent_recall')}" if a["welsh_cv"] else "not run")
    row("**Welsh test**: topic macro-F1 (95% bootstrap)",
        lambda k, a: _f1(a["test_cy"]))
    row("Welsh test: requests for a person handed over",
        lambda k, a: _count(a["test_cy"], "person_handed_over"))
    row("Welsh test: people at risk flagged urgent",
        lambda k, a: _count(a["test_cy"], "urgent_recall"))
    row("Welsh test: in-topic answered / off-topic kept out",
        lambda k, a: f"{_count(a['test_cy'], 'in_topic_answered')} / "
        f"{_count(a['test_cy'], 'off_topic_kept_out')}")
    row("Welsh test: subtopic right",
        lambda k, a: _count(a["test_cy"], "subtopic_right"))
    row(f"Welsh test: routing loss ({n['test_cy'] - det['test_cy']['as_cy']}"
        f"/{n['test_cy']} detected as English)", loss("test_cy"))
    row("English dev: topic macro-F1", lambda k, a: _f1(a["dev_en"]))
    row("**English test**: topic macro-F1 (95% bootstrap)",
        lambda k, a: _f1(a["test_en"]))
    row("English test: person / urgent",
        lambda k, a: f"{_count(a['test_en'], 'person_handed_over')} / "
        f"{_count(a['test_en'], 'urgent_recall')}")
    row("English test: off-topic kept out",
        lambda k, a: _count(a["test_en"], "off_topic_kept_out"))
    row(f"English test: routing loss ({det['test_en']['as_cy']}/{n['test_en']} "
        "detected as Welsh)", loss("test_en"))
    row("ms/message, Welsh / English (median, MiniLM included)",
        lambda k, a: f"{a['ms_per_message_median']['cy']:.1f} / "
        f"{a['ms_per_message_median']['en']:.1f}")
    row("RSS the triage model(s) add, MB (pickled size)",
        lambda k, a: f"{a['rss_added_mb']:.0f} ({a['model_file_mb']:.0f})")
    def fit_cell(_name: str, a: Dict[str, Any]) -> str:
        if a.get("fit_source", "lab fit") != "lab fit":
            return f"{a['fit_seconds']:.0f} (the whole `rasa train`, MiniLM included)"
        welsh = (f" ({a['fit_seconds_welsh']:.1f} Welsh)"
                 if "fit_seconds_welsh" in a else "")
        return f"{a['fit_seconds']:.0f} (lab fit){welsh}"

    row("training time (s)", fit_cell)
    c = result["welsh_model_choice"]["chosen"]
    note = (f"\nWelsh model's settings, chosen on Welsh 5-fold cross-validation: "
            f"C {c['C']:g}, dense weight {c['dense_weight']:g}, fallback "
            f"{c['fallback']:g}, person {c['person_threshold']:g}, risk "
            f"{c['risk_threshold']:g}. Training examples: {n['train_en']} English, "
            f"{n['train_cy']} Welsh; English dev {n['dev_en']}, English test "
            f"{n['test_en']}, Welsh test {n['test_cy']}.\n")
    return "\n".join(rows) + "\n" + note


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detect", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rss", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--table", action="store_true",
                        help="print the table of the last run (docs/nlu/...json)")
    parser.add_argument("--stage", choices=STAGE_NAMES,
                        help="compute one cached stage only (to run fits side by side)")
    parser.add_argument("--smoke", action="store_true",
                        help="every step on a small sample (var/, never reported)")
    parser.add_argument("--no-arm-cv", action="store_true",
                        help="report without the one-model arms' Welsh CV "
                        "unless an earlier run cached it")
    args = parser.parse_args(argv)
    if args.detect:
        return _detect_stdin()
    if args.rss:
        return _rss_of(args.rss)
    if args.table:
        print(table(json.loads(OUT.read_text(encoding="utf-8"))))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    t0 = time.perf_counter()
    result = run(args.smoke, args.stage, not args.no_arm_cv)
    if args.stage:
        return 0
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = STAGES / "smoke.json" if args.smoke else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(table(result))
    _log(f"wrote {out.relative_to(ROOT)} in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
