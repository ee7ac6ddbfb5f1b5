"""The `semcom` command on generated data: outputs, the metrics contract, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from semcom.cli import app

TINY = {
    "experiment": "tiny",
    "seed": 0,
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 256, "test_subset": 64},
    "backbone": {"name": "resnet-small", "split_after": "layer2"},
    "systems": [{"name": "quantized-split", "channels": 2, "bits": [2, 4]}, {"name": "local"}],
    "train": {
        "backbone": {"epochs": 1, "lr": 0.003},
        "stages": [
            {
                "name": "compressor",
                "trainable": ["encoder", "entropy", "decoder"],
                "losses": {"task": 1.0, "rate": 0.01},
                "epochs": 1,
                "lr": 0.003,
            },
        ],
    },
    "eval": {
        "channel": {"name": "rayleigh", "coherence": "block", "csi": "perfect"},
        "snr_db": [0, 20],
        "devices": ["raspberry-pi-4", "jetson-nano"],
        "deadline_s": 0.05,
        "timing_samples": 2,
    },
}

REQUIRED = {
    "system",
    "dataset",
    "channel",
    "snr_db",
    "accuracy",
    "payload_bits",
    "estimated_bits",
    "compression_ratio",
    "device_flops",
    "edge_flops",
    "device_params",
    "latency_s",
    "link",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("run")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp / "out")])
    return tmp / "out", result


def test_run_writes_the_four_outputs(tiny_run) -> None:
    out, result = tiny_run
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "metrics.json", "report.md"):
        assert (out / name).is_file(), name
    assert list(out.glob("*.png")), "no plots"
    assert "quantized-split" in result.output  # the results table


def test_metrics_follow_the_contract(tiny_run) -> None:
    out, _ = tiny_run
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["experiment"] == "tiny" and doc["seed"] == 0
    assert doc["versions"]["torch"]
    records = doc["records"]
    # 2 quantized-split variants + local, x 2 SNRs x 2 devices
    assert len(records) == 3 * 2 * 2
    for r in records:
        assert REQUIRED <= set(r), REQUIRED - set(r)
        assert set(r["latency_s"]) == {"device", "transmit", "edge", "total"}
        assert set(r["link"]) == {"bandwidth_hz", "rate_bps"}
        assert 0.0 <= r["accuracy"] <= 1.0
    split = [r for r in records if r["system"] == "quantized-split"]
    for r in split:
        assert r["payload_bits"] > r["header_bits"] > 0
        assert r["estimated_bits"] > 0
        assert r["compression_ratio"] == pytest.approx(32 * 32 * 14 * 14 / r["payload_bits"])
        lat = r["latency_s"]
        assert lat["total"] == pytest.approx(lat["device"] + lat["transmit"] + lat["edge"])
        assert r["bits"] in (2, 4)
    # higher SNR → faster link → lower transmit time, same bits
    by = {(r["variant"], r["device_profile"], r["snr_db"]): r for r in split}
    for (variant, dev, snr), r in by.items():
        if snr == 0:
            assert by[(variant, dev, 20.0)]["latency_s"]["transmit"] < r["latency_s"]["transmit"]
    local = [r for r in records if r["system"] == "local"]
    assert all(r["payload_bits"] == 0 and r["compression_ratio"] is None for r in local)


def test_resolved_config_is_saved_and_reloadable(tiny_run) -> None:
    out, _ = tiny_run
    from semcom.config import parse_config

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert parse_config(saved).model_dump() == parse_config(TINY).model_dump()


def test_rerun_resumes_from_checkpoints(tiny_run) -> None:
    out, _ = tiny_run
    cfg = out.parent / "tiny.yaml"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    assert all(p["skipped"] for p in doc["phases"]), doc["phases"]


def test_bad_config_is_rejected_with_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "data": {**TINY["data"], "batch_sise": 3}}))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "data.batch_sise" in result.output and "batch_size" in result.output
    result = CliRunner().invoke(app, ["run", str(cfg), "--set", "data=3"])
    assert result.exit_code == 2


def test_systems_lists_registry() -> None:
    result = CliRunner().invoke(app, ["systems"])
    assert result.exit_code == 0
    assert "quantized-split" in result.output and "local" in result.output


@pytest.mark.slow
def test_ddp_under_torchrun_matches_one_process(tmp_path: Path) -> None:
    """Two ranks share every step's global batch and normalise over it (train.sync_bn): the
    records equal the one-process run's within 1 point (0 here: nothing in these systems'
    training draws random numbers)."""
    cfg = tmp_path / "tiny.yaml"
    systems = [{"name": "aecnn", "k": 2, "bits": 2}, {"name": "local"}]
    data = {**TINY["data"], "test_subset": 512}
    cfg.write_text(yaml.safe_dump({**TINY, "data": data, "systems": systems}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    for prefix, out in (([sys.executable], "one"), (launch, "two")):
        proc = subprocess.run([*prefix, "-m", "semcom.cli", "run", str(cfg), "--out",
                               str(tmp_path / out)], capture_output=True, text=True, env=env,
                              timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (json.loads((tmp_path / d / "metrics.json").read_text())["records"]
                for d in ("one", "two"))  # fmt: skip
    assert len(one) == len(two) > 0
    for a, b in zip(one, two, strict=True):
        assert (a["variant"], a["snr_db"]) == (b["variant"], b["snr_db"])
        assert abs(a["accuracy"] - b["accuracy"]) <= 0.01, (a["variant"], a["snr_db"])


ALL_SYSTEMS = {
    **TINY,
    "experiment": "all-systems",
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 128, "test_subset": 32},
    "systems": [
        {"name": "aecnn", "k": 4, "bits": 2, "selection": ["global", "per-sample"]},
        {"name": "bottlenet++", "channel": ["awgn", "erasure"], "hidden": 2, "stride": 2},
        {"name": "offload-jpeg", "quality": 50},
        {"name": "offload-raw"},
        {"name": "local"},
    ],
    "train": {
        "backbone": {"epochs": 0.5, "lr": 0.003},
        "stages": [
            {
                "name": "attention",
                "systems": ["aecnn"],
                "trainable": ["attention", "tail"],
                "path": "attention",
                "epochs": 0.5,
                "lr": 0.001,
            },
            {
                "name": "compressor",
                "systems": ["aecnn"],
                "trainable": ["encoder", "entropy", "decoder"],
                "losses": {"task": 1.0, "rate": 0.01},
                "epochs": 0.5,
                "lr": 0.003,
            },
            {
                "name": "bn",
                "systems": ["bottlenet++"],
                "trainable": ["encoder", "decoder"],
                "epochs": 0.5,
                "lr": 0.001,
            },
        ],
    },
}


def test_every_system_kind_runs_end_to_end(tmp_path: Path) -> None:
    cfg = tmp_path / "all.yaml"
    cfg.write_text(yaml.safe_dump(ALL_SYSTEMS))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "out" / "metrics.json").read_text())["records"]
    systems = {r["system"] for r in records}
    assert systems == {"aecnn", "bottlenet++", "offload-jpeg", "offload-raw", "local"}
    for r in records:
        assert REQUIRED <= set(r), (r["system"], REQUIRED - set(r))
        lat = r["latency_s"]
        assert lat["total"] == pytest.approx(lat["device"] + lat["transmit"] + lat["edge"])
    analog = [r for r in records if r["system"] == "bottlenet++" and r.get("channel_uses")]
    assert analog and all(r["payload_bits"] is None for r in analog)
    assert all(r["channel_uses"] == 2 * 7 * 7 // 2 for r in analog)
    for r in analog:  # n symbols at B symbols/s
        assert r["latency_s"]["transmit"] == pytest.approx(r["channel_uses"] / 1e6)
    raw = [r for r in records if r["system"] == "offload-raw"]
    assert all(r["device_flops"] == 0 and r["payload_bits"] > 28 * 28 * 8 for r in raw)
    aecnn = [r for r in records if r["system"] == "aecnn"]
    assert {r["k"] for r in aecnn} == {4} and all(r["lambda"] == 0.01 for r in aecnn)
    plots = {p.name for p in (tmp_path / "out").glob("*.png")}
    assert {"accuracy_vs_compression.png", "latency_vs_rate.png", "device_cost.png"} <= plots
    assert "accuracy_vs_snr.png" in plots


def test_rate_loss_for_a_system_without_entropy_model_is_a_config_error(tmp_path: Path) -> None:
    bad = {**ALL_SYSTEMS, "systems": [{"name": "bottlenet++"}]}
    bad["train"] = {"stages": [{"name": "s", "losses": {"task": 1, "rate": 0.1}, "epochs": 0.1}]}
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "train.stages.0.losses.rate" in result.output


def test_stage_path_unknown_to_a_system_is_a_config_error(tmp_path: Path) -> None:
    bad = {**ALL_SYSTEMS, "systems": [{"name": "quantized-split"}]}
    bad["train"] = {"stages": [{"name": "s", "path": "attention", "epochs": 0.1}]}
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "train.stages.0.path" in result.output and "bypass" in result.output


def test_several_evaluation_channels_give_records_and_plots_per_channel(tmp_path: Path) -> None:
    two = {
        **ALL_SYSTEMS,
        "experiment": "two-channels",
        "systems": [
            {"name": "bottlenet++", "channel": "awgn", "hidden": 2, "stride": 2},
            {"name": "offload-jpeg", "quality": 50},
            {"name": "local"},
        ],
        "train": {"backbone": {"epochs": 0.25, "lr": 0.003}, "stages": []},
    }
    two["eval"] = {
        **TINY.get("eval", {}),
        "channel": [{"name": "awgn"}, {"name": "rayleigh", "coherence": "block", "csi": "perfect"}],
        "snr_db": [0.0, 20.0],
    }
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(two))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = json.loads((out / "metrics.json").read_text())["records"]
    labels = {(r["system"], r["channel_label"]) for r in records}
    rayleigh = "rayleigh (coherence=block, csi=perfect)"
    assert labels == {
        ("bottlenet++", "awgn"),
        ("bottlenet++", rayleigh),
        ("offload-jpeg", "awgn"),
        ("offload-jpeg", rayleigh),
        ("local", "none"),  # nothing sent: one set of records
    }
    plots = {p.name for p in out.glob("*.png")}
    assert {
        "accuracy_vs_snr_awgn.png",
        "accuracy_vs_snr_rayleigh-coherence-block-csi-perfect.png",
    } <= plots
    assert "Accuracy against SNR" in (out / "report.md").read_text()
    bad = {
        **two,
        "eval": {**two["eval"], "channel": [{"name": "awgn"}, {"name": "rayleigh", "csi": "x"}]},
    }
    cfg.write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o2")])
    assert result.exit_code != 0 and "eval.channel" in result.output and "entry 1" in result.output


CODECS = {
    **ALL_SYSTEMS,
    "experiment": "codecs",
    "systems": [
        {"name": "lssc", "depth": 2, "cbam": [True, False], "width": 8, "cbr": 1.0},
        {"name": "unet", "width": 8, "cbr": 1.0},
        {"name": "sscc", "source": "webp", "qam": 16, "ldpc_rate": "1/2", "cbr": 1.0},
        {"name": "sscc", "source": "features", "qam": 4, "ldpc_rate": "1/2", "cbr": 1.0},
        {"name": "capacity", "source": "webp", "cbr": 1.0},
    ],
    "train": {
        "backbone": {"epochs": 0.5, "lr": 0.003},
        "stages": [
            {
                "name": "codec",
                "systems": ["lssc", "unet"],
                "trainable": ["encoder", "decoder"],
                "losses": {"task": 1.0, "feature": 1.0},
                "epochs": 0.5,
                "lr": 0.003,
                "snr_db": [-10, 20],
            },
            {
                "name": "feature-coder",
                "systems": ["sscc"],  # the image sources have nothing to train: skipped
                "trainable": ["encoder", "entropy", "decoder"],
                "losses": {"task": 1.0, "rate": 0.01, "distill": 1.0},
                "epochs": 0.5,
                "lr": 0.003,
            },
        ],
    },
}


def test_lssc_against_separate_coding_end_to_end(tmp_path: Path) -> None:
    cfg = tmp_path / "codecs.yaml"
    cfg.write_text(yaml.safe_dump({**CODECS, "eval": {**CODECS["eval"], "snr_db": [-10, 30]}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = json.loads((out / "metrics.json").read_text())["records"]
    uses = {r["channel_uses"] for r in records}
    assert uses == {28 * 28}  # every codec at the same channel uses
    for r in records:
        assert REQUIRED <= set(r)
        if r["system"] in ("lssc", "unet"):
            assert {"depth", "cbam", "codec_flops", "codec_bytes"} <= set(r)
        if r["system"] == "sscc" and r["source"] == "webp":
            assert (r["qam"], r["ldpc_rate"]) == (16, 0.5) and "channels" not in r
        if r["system"] == "sscc":
            assert r["link_stats"]["samples"] == r["samples"]
    features = {
        r["snr_db"]: r for r in records if r["system"] == "sscc" and r["source"] == "features"
    }
    assert features[30.0]["code_shape"] == [8, 7, 7] and features[30.0]["device_flops"] > 0
    assert features[30.0]["link_stats"]["delivered_rate"] == 1 and features[30.0]["accuracy"] > 0
    phases = json.loads((out / "metrics.json").read_text())["phases"]
    trained = [p["phase"] for p in phases if p["phase"].startswith("sscc")]
    assert trained and all("source=features" in p for p in trained)
    sscc = {r["snr_db"]: r for r in records if r["system"] == "sscc" and r["source"] == "webp"}
    # 16-QAM rate 1/2 cannot be decoded at -10 dB: nothing delivered, nothing right (the cliff)
    assert sscc[-10.0]["accuracy"] == 0 and sscc[-10.0]["link_stats"]["delivered_rate"] == 0
    assert sscc[30.0]["link_stats"]["bler"] == 0 and sscc[30.0]["accuracy"] > 0
    report = (out / "report.md").read_text()
    assert "depth × CBAM" in report and "Accuracy against SNR" in report


def test_segmentation_codec_reports_pixel_accuracy_and_miou(tmp_path: Path) -> None:
    seg = {
        "experiment": "seg",
        "data": {
            "name": "synthetic-segmentation",
            "batch_size": 32,
            "train_subset": 256,
            "test_subset": 64,
        },  # fmt: skip
        "systems": [{"name": "lssc", "task": "segmentation", "depth": 2, "width": 8}],
        "train": {
            "backbone": {"epochs": 0},
            "stages": [
                {
                    "name": "codec",
                    "trainable": ["encoder", "decoder"],
                    "epochs": 1,
                    "lr": 0.003,
                    "snr_db": [0, 20],
                    "bn_batches": 0,
                }
            ],  # fmt: skip
        },
        "eval": {"channel": {"name": "awgn"}, "snr_db": [20.0], "timing_samples": 0},
    }
    cfg = tmp_path / "seg.yaml"
    cfg.write_text(yaml.safe_dump(seg))
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (r,) = json.loads((tmp_path / "out" / "metrics.json").read_text())["records"]
    assert r["metric"] == "mIoU" and r["primary_metric"] == "miou" and 0 <= r["miou"] <= 1
    assert 0 < r["accuracy"] <= 1 and 0 < r["pixel_accuracy"] <= 1
