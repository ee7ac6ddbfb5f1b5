"""The ``--quick`` records of the shipped configs are unchanged (``tests/expected/quick``).

Each config runs ``semcom run CONFIG --quick`` in a subprocess with one torch thread and every
field of every golden record and training phase must come back identical, timings and package
versions aside (``benchmarks/golden_quick.py`` says which fields those are, how the files were
recorded and which configs only that script checks: the CIFAR-10 ones need the shared archive and
minutes).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "golden_quick", ROOT / "benchmarks" / "golden_quick.py"
)
assert _spec is not None and _spec.loader is not None
golden_quick = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden_quick)


def _fashion_mnist_available() -> bool:
    from semcom.data import DEBIAN_FASHION_MNIST_DIR, resolve_data_root
    from semcom.data.fashion_mnist import locate_fashion_mnist

    found = locate_fashion_mnist(resolve_data_root(None)) is not None
    return found or Path(DEBIAN_FASHION_MNIST_DIR).is_dir()


@pytest.mark.parametrize("config", golden_quick.SUITE_CONFIGS)
def test_quick_run_matches_its_golden_records(config: str) -> None:
    if "fashion" in config and not _fashion_mnist_available():
        pytest.skip(
            "Fashion-MNIST is not installed here (`semcom data fashion-mnist --install`, which "
            "`make test` tries first); benchmarks/golden_quick.py check runs it where it is"
        )
    assert golden_quick.expected_path(config).is_file(), f"no golden file for {config}"
    diffs, exact = golden_quick.check(config)
    how = "exactly" if exact else "within the cross-platform tolerance (another CPU / torch)"
    assert not diffs, (
        f"{config}: {len(diffs)} field(s) differ from the golden run, compared {how}:\n"
        + "\n".join(diffs[:30])
    )


def test_a_changed_field_is_reported() -> None:
    golden = {"records": [{"accuracy": 0.5, "measured_s": {"device": 1.0}, "k": 2}]}
    same_but_timed = {"records": [{"accuracy": 0.5, "k": 2, "new_field": 1}]}
    assert golden_quick.differences(golden_quick.strip_timings(golden), same_but_timed) == []
    changed = {"records": [{"accuracy": 0.25, "k": 2}]}
    assert golden_quick.differences(golden, changed) == [
        ".records[0].accuracy: golden 0.5, now 0.25",
        ".records[0].measured_s: missing",
    ]
    assert golden_quick.differences({"a": 1}, {"a": 1.0}) == [".a: golden 1, now 1.0"]
    # across platforms floats may differ in their last digits, nothing else may change
    assert golden_quick.differences({"a": 0.5}, {"a": 0.52}, tolerant=True) == []
    assert golden_quick.differences({"a": 0.5}, {"a": 0.6}, tolerant=True) != []
    assert golden_quick.differences({"h": 56, "s": "x"}, {"h": 57, "s": "x"}, tolerant=True) != []
    assert golden_quick.differences({"s": "x"}, {"s": "y"}, tolerant=True) != []


def test_every_suite_config_has_a_golden_file() -> None:
    missing = [c for c in golden_quick.SUITE_CONFIGS if not golden_quick.expected_path(c).is_file()]
    assert not missing, missing
    assert os.path.isdir(golden_quick.CONFIG_DIR)
