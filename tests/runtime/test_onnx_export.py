"""ONNX export of the device part: onnxruntime reproduces PyTorch's latent within tolerance, its
symbols and indices exactly, and the packed payloads byte for byte; non-exportable systems and
bad export folders are refused with reasons; ``semcom export`` exports and verifies a run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from semcom.cli import app
from semcom.runtime.onnx_device import OnnxDevice, OnnxDeviceError, load_onnx_device
from semcom.runtime.onnx_export import (
    ExportError,
    export_device,
    export_refusal,
    verify_device,
    verify_export,
)
from semcom.storage.store import StoredSystem, save_system
from semcom.systems import BuildContext, DeviceExportError, SplitSystem, build_system

FASHION = BuildContext(10, (1, 28, 28), "resnet-small", "layer2", "fashion-mnist")
CIFAR = BuildContext(10, (3, 32, 32), "resnet-small", "layer2", "cifar10")

#: variant id → (system, params, context). Bits stay <= 4 so that a rounding-boundary flip (see
#: DESIGN.md, "ONNX export") is improbable on any CPU; 8 bits is exercised by the CLI test.
CASES: dict[str, tuple[str, dict, BuildContext]] = {
    "aecnn-global": ("aecnn", {"k": 4, "bits": 4}, FASHION),
    "aecnn-ps-mix-down": (
        "aecnn",
        {"k": 4, "bits": 4, "selection": "per-sample", "mix": 3, "downsample": 2},
        FASHION,
    ),
    "aecnn-global-mix-cifar": ("aecnn", {"k": 8, "bits": 3, "mix": 4}, CIFAR),
    "aecnn-ps-down4-cifar": (
        "aecnn",
        {"k": 6, "bits": 4, "selection": "per-sample", "downsample": 4},
        CIFAR,
    ),
    "qs-fashion": ("quantized-split", {"channels": 4, "bits": 4}, FASHION),
    "qs-cifar": ("quantized-split", {"channels": 4, "bits": 3}, CIFAR),
}


def perturbed(name: str, params: dict, ctx: BuildContext, seed: int = 0) -> SplitSystem:
    """A coding-ready system with seeded random weights, non-trivial batch-norm statistics and
    affine parameters, and (AECNN) a random global channel ranking; eval mode."""
    torch.manual_seed(seed)
    system = build_system(name, params, ctx)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in system.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.5, generator=g)
                m.running_var.uniform_(0.3, 3.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0.0, 0.3, generator=g)
        if hasattr(system, "importance"):
            system.importance.copy_(torch.rand(system.importance.shape, generator=g))
    system.prepare_for_coding()
    return system.eval()


def images(ctx: BuildContext, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, ctx.in_channels, *ctx.image_size, generator=g)


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory) -> tuple[StoredSystem, OnnxDevice, Path]:
    name, params, ctx = CASES[request.param]
    stored = StoredSystem(request.param, perturbed(name, params, ctx), params)
    folder = export_device(stored, tmp_path_factory.mktemp("onnx"))
    return stored, load_onnx_device(folder), folder


def _mismatch_report(ref: torch.Tensor, got: torch.Tensor, latent: torch.Tensor, step: float):
    off = ref != got
    u = latent[off] / step
    return (
        f"{int(off.sum())} of {off.numel()} symbols differ; PyTorch's symbol-domain values there: "
        f"{u[:8].tolist()}"
    )


@pytest.mark.parametrize("batch", [1, 5])
def test_onnxruntime_reproduces_the_device_tensors(exported, batch) -> None:
    stored, device, _ = exported
    system = stored.system
    x = images(system.ctx, batch, seed=10 + batch)
    with torch.no_grad():
        ref = system.device_tensors(x)
    got = device.tensors(x)
    assert list(got) == list(ref) == device.output_names
    for name in ref:
        assert got[name].shape == ref[name].shape and got[name].dtype == ref[name].dtype, name
    assert got["symbols"].dtype == torch.int32
    torch.testing.assert_close(got["latent"], ref["latent"], rtol=0, atol=1e-5)
    q = system.quantizer
    assert torch.equal(got["symbols"], ref["symbols"]), _mismatch_report(
        ref["symbols"], got["symbols"], ref["latent"], q.step
    )
    # the quantiser step in the graph is exactly the system's quantiser (always, not just here)
    assert torch.equal(q.symbols(got["latent"]), got["symbols"])
    if "index" in ref:  # per-sample selection
        assert got["index"].dtype == torch.int64
        assert torch.equal(got["index"], ref["index"])


def test_payloads_are_bit_identical_to_device_encode(exported) -> None:
    stored, device, _ = exported
    x = images(stored.system.ctx, 6, seed=3)
    with torch.no_grad():
        ref = [p.to_bytes() for p in stored.system.device_encode(x)]
    got = [p.to_bytes() for p in device.encode(x)]
    assert got == ref
    result = verify_export(stored, device, samples=6, seed=4)
    assert result.identical and result.ok, result
    assert result.latent_max_diff < 1e-5


def test_export_folder_describes_the_device(exported) -> None:
    stored, device, folder = exported
    meta = json.loads((folder / "device.json").read_text())
    system = stored.system
    assert meta["format"] == "semcom-onnx-device/1"
    assert (meta["variant"], meta["system"]) == (stored.variant, system.name)
    assert meta["input_shape"] == [system.ctx.in_channels, *system.ctx.image_size]
    assert meta["params"] == system.params.model_dump(by_alias=True, mode="json")
    assert meta["context"]["dataset"] == system.ctx.dataset
    assert isinstance(meta["opset"], int) and meta["opset"] >= 17
    assert meta["outputs"][:2] == ["symbols", "latent"]
    assert (folder / "device.onnx").is_file() and (folder / "system.safetensors").is_file()
    assert device.input_shape == tuple(meta["input_shape"])
    assert (device.variant, device.system_name) == (stored.variant, system.name)
    # the compact payload's model identifier: the server's, derived from the same stored model
    assert meta["model_id"] == system.model_id().hex() == device.codec.model_id.hex()
    x = images(system.ctx, 1, seed=8)
    wire = device.wire(device.encode(x)[0])
    assert wire[1:5].hex() == meta["model_id"]
    assert system.wire_codec().decode(wire) == device.encode(x)[0]


def test_a_device_json_of_another_model_is_refused(exported, tmp_path) -> None:
    import shutil

    _, _, folder = exported
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    meta = json.loads((copy / "device.json").read_text())
    (copy / "device.json").write_text(json.dumps({**meta, "model_id": "00000000"}))
    with pytest.raises(OnnxDeviceError, match="different models"):
        load_onnx_device(copy)


def test_verification_catches_a_device_that_disagrees(exported) -> None:
    stored, device, _ = exported
    name, params, ctx = CASES[stored.variant]
    other = perturbed(name, params, ctx)
    with torch.no_grad():
        other.encoder[-2].bias.add_(0.5)  # the batch norm before the sigmoid
    result = verify_device(StoredSystem(stored.variant, other, params), device, images(ctx, 3, 0))
    assert not result.ok and any("latent differs" in p for p in result.problems)


class NudgedDevice:
    """A stand-in device: PyTorch's tensors with the latent element nearest to a rounding
    boundary moved just across it (and ``jump`` extra levels on the symbol), packed by the
    system — what onnxruntime's ulp-level differences do, made certain."""

    def __init__(self, system: SplitSystem, jump: int = 0) -> None:
        self.system, self.jump = system, jump
        self.variant = "nudged"

    def tensors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            t = {k: v.clone() for k, v in self.system.device_tensors(x).items()}
        q = self.system.quantizer
        u = q.to_symbol_domain(t["latent"]).flatten()
        frac = u - u.floor()
        i = int((frac - 0.5).abs().argmin())
        up = bool(frac[i] < 0.5)
        t["latent"].view(-1)[i] = (u.floor()[i] + 0.5 + (1e-3 if up else -1e-3)) * q.step
        t["symbols"] = q.symbols(t["latent"])
        t["symbols"].view(-1)[i] += self.jump if up else -self.jump
        return t

    def encode(self, x: torch.Tensor):
        return self.system.pack_payloads(self.tensors(x))


def test_verification_tells_boundary_flips_from_errors() -> None:
    params = {"k": 2, "bits": 8}
    system = perturbed("aecnn", params, FASHION)
    stored = StoredSystem("v", system, params)
    x = images(FASHION, 4, seed=0)
    flip = verify_device(stored, NudgedDevice(system), x)  # type: ignore[arg-type]
    assert flip.ok and not flip.identical, flip
    assert flip.symbols_differing == 1 and flip.payloads_identical == 3
    assert flip.boundary_distance < 0.01 and flip.latent_max_diff < 1e-4
    wrong = verify_device(stored, NudgedDevice(system, jump=1), x)  # type: ignore[arg-type]
    assert not wrong.ok
    assert any("not the quantiser of its own latent" in p for p in wrong.problems)
    assert any("differ by up to 2 levels" in p for p in wrong.problems)


def test_device_encode_is_pack_of_device_tensors() -> None:
    system = perturbed("aecnn", {"k": 4, "bits": 4, "selection": "per-sample"}, FASHION)
    x = images(FASHION, 3, seed=0)
    with torch.no_grad():
        tensors = system.device_tensors(x)
        assert set(tensors) == {"symbols", "latent", "index"}
        assert tensors["index"].shape == (3, 4) and tensors["latent"].dtype == torch.float32
        assert [p.to_bytes() for p in system.pack_payloads(tensors)] == [
            p.to_bytes() for p in system.device_encode(x)
        ]
        with pytest.raises(ValueError, match="missing \\['index'\\]"):
            system.pack_payloads({"symbols": tensors["symbols"]})
        with pytest.raises(ValueError, match="expected \\[B, 4, 14, 14\\]"):
            system.pack_payloads({**tensors, "symbols": tensors["symbols"][:, :2]})
        repeated = tensors["index"].clone()
        repeated[:, 1] = repeated[:, 0]
        with pytest.raises(ValueError, match="repeats a channel"):
            system.pack_payloads({**tensors, "index": repeated})


@pytest.mark.parametrize(
    ("name", "params", "reason"),
    [
        ("offload-jpeg", {"quality": 50}, "JPEG with Pillow"),
        ("offload-raw", {}, "raw pixels"),
        ("local", {}, "nothing crosses the link"),
        ("bottlenet++", {}, "analog link"),
        ("bottlenet++", {"channel": "erasure"}, "not split into device_tensors"),
    ],
)
def test_systems_without_an_exportable_device_part_are_refused(
    tmp_path, name, params, reason
) -> None:
    system = build_system(name, params, FASHION).eval()
    assert reason in (export_refusal(system) or "")
    with pytest.raises(DeviceExportError, match=reason):
        system.device_tensors(images(FASHION, 1, 0))
    with pytest.raises(ExportError, match=re.escape(f"v: {name}: ") + ".*" + reason):
        export_device(StoredSystem("v", system, params), tmp_path)
    assert not any(tmp_path.iterdir())


def test_loading_names_what_is_wrong_with_the_folder(tmp_path, exported) -> None:
    _, _, folder = exported
    with pytest.raises(OnnxDeviceError, match="no ONNX device export"):
        load_onnx_device(tmp_path)
    assert load_onnx_device(folder.parent).variant == folder.name  # a root with one variant
    twin = tmp_path / "a"
    twin.mkdir()
    (twin / "device.json").write_text(json.dumps({"format": "something-else/1"}))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "device.json").write_text("{}")
    with pytest.raises(OnnxDeviceError, match=r"2 exported variants \(a, b\)"):
        load_onnx_device(tmp_path)
    with pytest.raises(OnnxDeviceError, match="not a semcom ONNX device export"):
        load_onnx_device(twin)
    with pytest.raises(OnnxDeviceError, match="expected \\[B, "):
        load_onnx_device(folder).tensors(torch.rand(1, 2, 5, 5))


# ----------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """A run directory written with ``save_system``: one exportable 8-bit variant and two that
    are not exportable."""
    run = tmp_path_factory.mktemp("cli") / "run"
    save_system(perturbed("aecnn", {"k": 2, "bits": 8}, FASHION), run, "aecnn_k=2_bits=8")
    save_system(perturbed("offload-png", {}, FASHION), run, "offload-png")
    save_system(perturbed("local", {}, FASHION), run, "local")
    return run


def test_cli_exports_and_verifies_a_run(cli_run, tmp_path) -> None:
    out = tmp_path / "onnx"
    result = CliRunner().invoke(app, ["export", str(cli_run), "--onnx", str(out), "--check", "4"])
    assert result.exit_code == 0, result.output
    assert "skipping offload-png" in result.output and "skipping local" in result.output
    assert "aecnn_k=2_bits=8" in result.output
    assert [p.name for p in out.iterdir()] == ["aecnn_k=2_bits=8"]
    device = load_onnx_device(out)
    assert device.system_name == "aecnn"


def test_cli_strict_fails_on_boundary_flips(cli_run, tmp_path, monkeypatch) -> None:
    import semcom.runtime.onnx_export as onnx_export

    def with_flip(stored, device, samples=8, seed=0):
        x = images(FASHION, samples, seed)
        return verify_device(stored, NudgedDevice(stored.system), x)

    monkeypatch.setattr(onnx_export, "verify_export", with_flip)
    args = ["export", str(cli_run), "--onnx", str(tmp_path), "--system", "aecnn", "--strict"]
    result = CliRunner().invoke(app, args)
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and "(rounding-boundary flips; --strict)" in out, out
    assert "boundary flips" in out and "7/8" in out and "straddle a rounding boundary" in out
    # without --strict the same result passes (the CLI test above runs the real verification)


def test_cli_fails_clearly_when_nothing_is_exportable(cli_run, tmp_path) -> None:
    def export(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["export", *args, "--onnx", str(tmp_path / "o")])
        return result.exit_code, " ".join(result.output.split())  # undo console wrapping

    code, out = export(str(cli_run), "--system", "offload-png")
    assert code == 2 and "nothing to export" in out and "skipping offload-png" in out
    code, out = export(str(cli_run), "--system", "nope")
    assert code == 2 and "no variant or system named 'nope'" in out and "local" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = export(str(empty))
    assert code == 2 and "no stored systems" in out
    assert not (tmp_path / "o").exists()
