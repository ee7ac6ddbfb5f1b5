"""``benchmarks/ffmnet_targets.py`` judges the issue-17 targets from records: the network
comparison, the 512x loss, the duel with separate coding at equal channel uses, and cliffs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location(
    "ffmnet_targets", ROOT / "benchmarks" / "ffmnet_targets.py"
)
assert _spec is not None and _spec.loader is not None
targets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(targets)


def rec(system: str, variant: str, map_50: float, miou: float, **extra: object) -> dict:
    return {"system": system, "variant": variant, "map_50": map_50, "miou": miou,
            "channel": "awgn", "snr_db": 20.0, **extra}  # fmt: skip


def test_networks_compare_with_hard_sharing_and_single_task() -> None:
    records = [
        rec("ffmnet", "ffmnet", 0.50, 0.60, device_params=100, fusion="fpn"),
        rec("mtl-hardshare", "mtl-hardshare", 0.45, 0.58, device_params=100, fusion="none"),
        rec("det-only", "det-only", 0.51, None, device_params=90),
        rec("seg-only", "seg-only", None, 0.63, device_params=80),
    ]
    row = targets.network_rows(records)[0]
    assert row["above_hardshare"] is True
    assert abs(row["det_gap"] - 1.0) < 1e-9 and abs(row["seg_gap"] - 3.0) < 1e-9
    assert row["within_2_of_single"] is False


def test_the_512x_target_and_one_record_per_point() -> None:
    base = rec("ffmnet", "ffmnet", 0.50, 0.60, fusion="fpn", device_profile="a")
    jscc = rec("ffmnet-jscc", "j512", 0.49, 0.585, compression_ratio=512.0, device_profile="a")
    far = rec("ffmnet-jscc", "j1024", 0.40, 0.59, compression_ratio=1024.0, device_profile="a")
    records = targets.one_per_point([base, jscc, dict(jscc, device_profile="b"), far])
    assert len(records) == 3
    rows = {r["variant"]: r for r in targets.ratio_rows(records)}
    assert rows["j512"]["meets_512x"] is True
    assert rows["j1024"]["meets_512x"] is False  # 10 points of mAP@0.5 lost


def test_duel_takes_the_best_separate_coding_at_the_same_channel_uses() -> None:
    records = [
        rec("ffmnet-jscc", "j", 0.30, 0.40, snr_db=0.0, channel_uses=96),
        rec("ffmnet-sscc", "s1", 0.10, 0.20, snr_db=0.0, channel_uses=96),
        rec("ffmnet-sscc", "s2", 0.35, 0.30, snr_db=0.0, channel_uses=96),
        rec("ffmnet-sscc", "other", 0.90, 0.90, snr_db=0.0, channel_uses=768),
        rec("ffmnet-capacity", "c", 0.60, 0.60, snr_db=0.0, channel_uses=96),
    ]
    (row,) = targets.duel_rows(records)
    assert row["sscc_best_map_50_variant"] == "s2" and row["sscc_best_miou_variant"] == "s2"
    assert row["above_sscc"] is False  # below s2 on mAP@0.5
    assert row["capacity_best_miou"] == 60.0 and row["in_duel"] is True


def test_a_cliff_is_a_large_step_between_neighbouring_snrs() -> None:
    smooth = [rec("ffmnet-jscc", "s", 0.1 * i, 0.1 * i, snr_db=5.0 * i) for i in range(5)]
    steep = [rec("ffmnet-jscc", "c", 0.0 if i < 3 else 0.5, 0.5, snr_db=5.0 * i) for i in range(5)]
    rows = {r["variant"]: r for r in targets.cliff_rows(smooth + steep)}
    assert rows["c"]["no_cliff"] is False
    assert rows["s"]["no_cliff"] is False  # 0.1 per step is 25 % of 0.4
    gentle = [rec("ffmnet-jscc", "g", 0.4 + 0.01 * i, 0.5, snr_db=5.0 * i) for i in range(5)]
    assert targets.cliff_rows(gentle)[0]["no_cliff"] is True
