"""The contract every registered system keeps (torchvision's ``test_models.py`` pattern): each
registered name, with each of its ``contract_params``, is built on a small input of its task and
checked for everything the rest of the project relies on. A new system inherits all of it by
registering.

Checked: task and transport are declared objects; ``describe()`` is JSON; every declared training
path runs and its task loss back-propagates; the real path measures through the transport with
FLOPs and parameters counted and gives records with the contract fields; payload systems are
bit-exact through the byte format (deterministic bytes, strict parse, same decode) and accept
their own payloads; the device part exports to ONNX or refuses with a reason; the store round
trip rebuilds the same system.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from semcom.coding import Payload
from semcom.data import TaskSpec
from semcom.eval.evaluate import measure_system
from semcom.eval.records import link_records
from semcom.latency.flops import count_params
from semcom.runtime.onnx_device import load_onnx_device
from semcom.runtime.onnx_export import export_device, export_refusal, verify_export
from semcom.storage.store import StoredSystem, load_system, write_system
from semcom.systems import BuildContext, DeviceExportError, build_system, system_class, system_names
from semcom.tasks import Task
from semcom.transports import PayloadTransport, Transport

CASES = [
    pytest.param((name, params), id=f"{name}-{i}")
    for name in system_names()
    for i, params in enumerate(system_class(name).contract_params)
]
RECORD_FIELDS = {
    "system", "dataset", "channel", "snr_db", "accuracy", "metric", "primary_metric",
    "payload_bits", "compression_ratio", "device_flops", "edge_flops", "device_params",
    "latency_s", "link", "transport", "task", "samples",
}  # fmt: skip


def context_for(name: str, params: dict) -> BuildContext:
    """A small context on which the system can be built (its own task decides the targets)."""
    shape = system_class(name).contract_input_shape
    # clips (C, T, H, W) run on the video backbone; systems with a network of their own ignore it
    backbone, split = ("video-vit", "stem") if len(shape) == 4 else ("resnet-small", "layer2")
    probe = build_system(name, params, BuildContext(4, shape, backbone, split, "contract"))
    return BuildContext(4, shape, backbone, split, "contract", probe.task.spec)


def example_targets(spec: TaskSpec, n: int, input_shape: tuple[int, ...], seed: int = 0):
    """Targets of ``n`` samples of a task spec (labels, masks, boxes or a dict of them)."""
    g = torch.Generator().manual_seed(seed)
    h, w = input_shape[-2:]
    if spec.kind == "classification":
        return torch.randint(0, spec.num_classes, (n,), generator=g)
    if spec.kind == "segmentation":
        return torch.randint(0, spec.num_classes, (n, h, w), generator=g)
    if spec.kind == "detection":
        out = []
        for _ in range(n):
            xy = torch.rand(2, generator=g) * torch.tensor([w / 2, h / 2])
            box = torch.cat([xy, xy + torch.tensor([w / 3, h / 3])])[None]
            label = torch.randint(0, spec.num_classes, (1,), generator=g)
            out.append({"boxes": box, "labels": label})
        return out
    return {k: example_targets(s, n, input_shape, seed) for k, s in spec.subtasks.items()}


class _Examples(Dataset):
    def __init__(self, x: torch.Tensor, targets) -> None:
        self.x, self.targets = x, targets

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        t = self.targets
        target = {k: v[i] for k, v in t.items()} if isinstance(t, dict) else t[i]
        return self.x[i], target


@pytest.fixture(scope="module", params=CASES)
def built(request):
    name, params = request.param
    ctx = context_for(name, params)
    torch.manual_seed(0)
    system = build_system(name, params, ctx)
    x = torch.rand(4, *ctx.input_shape, generator=torch.Generator().manual_seed(1))
    y = example_targets(system.task.spec, 4, ctx.input_shape)
    return name, params, system, x, y


def test_task_and_transport_are_declared_and_describe_is_json(built) -> None:
    name, _, system, _, _ = built
    assert isinstance(system.task, Task) and isinstance(system.transport, Transport)
    assert system.transport.kind in type(system).transport_kinds
    assert system.name == name and system.link == system.transport.kind
    json.dumps(system.describe())
    json.dumps(system.task.describe())
    json.dumps(system.task.output_schema())
    assert set(system.roles()) and all(
        isinstance(m, torch.nn.Module) for m in system.roles().values()
    )


def _training_step(system, x, y, path: str):
    """One training-mode forward of ``path`` at 10 dB and its task loss: ``(output, loss)``."""
    system.zero_grad()
    system.train()
    extra = {"targets": y} if system.wants_targets else {}
    out = system(x, torch.full((len(x),), 10.0), path, **extra)
    return out, system.task_loss(out.output, y)


def test_every_declared_path_trains(built) -> None:
    _, _, system, x, y = built
    for path in system.paths:
        out, loss = _training_step(system, x, y, path)
        assert loss.dim() == 0 and torch.isfinite(loss), path
        if loss.requires_grad:
            loss.backward()
            assert any(p.grad is not None for p in system.parameters()), path
        if out.rate_bits is not None:
            assert out.rate_bits.shape == (len(x),) and bool((out.rate_bits >= 0).all())
    with pytest.raises(ValueError, match="allowed"):
        system(x, None, "no-such-path")


def test_every_declared_path_trains_under_cpu_bfloat16_autocast(built) -> None:
    """``train.amp_cpu`` runs training steps under bfloat16 autocast: every path must run there
    and leave the system's buffers (running statistics, importance, tables) in their dtype."""
    _, _, system, x, y = built
    dtypes = {name: b.dtype for name, b in system.named_buffers()}
    for path in system.paths:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, loss = _training_step(system, x, y, path)
        assert torch.isfinite(loss.float()), path
        if loss.requires_grad:
            loss.backward()
    assert {name: b.dtype for name, b in system.named_buffers()} == dtypes


def test_the_real_path_is_measured_with_costs_and_contract_records(built) -> None:
    _, _, system, x, y = built
    system.prepare_for_coding()
    data = _Examples(x, y)
    channel = {"name": "awgn"}
    m = measure_system(system, data, batch_size=2, timing_samples=1, channel=channel, snr_db=[10.0])
    assert m.samples == 4 and m.device_flops >= 0 and m.edge_flops >= 0
    assert m.device_flops + m.edge_flops > 0
    assert m.device_params == count_params(system.device_modules())
    assert m.edge_params == count_params(system.edge_modules())
    assert set(m.measured_s) == {"device", "edge"}
    records = link_records(
        system, m, dataset="contract", channel=channel, snr_db=[10.0], bandwidth_hz=1e6,
        devices=["raspberry-pi-4"], edge="edge-gpu", deadline_s=0.5, seed=0,
    )  # fmt: skip
    (record,) = records
    assert RECORD_FIELDS <= set(record), RECORD_FIELDS - set(record)
    assert (
        record[system.task.primary_metric] is None or 0 <= record[system.task.primary_metric] <= 1
    )
    assert set(record["metrics_within_deadline"]) >= set(system.task.metric_names) - {
        "multitask_mean"
    }
    json.dumps(record)


def test_payloads_are_bit_exact_through_the_byte_format(built) -> None:
    _, _, system, x, _ = built
    if not isinstance(system.transport, PayloadTransport):
        pytest.skip(f"{system.transport.kind} transport: no payload bytes")
    system.prepare_for_coding()
    system.eval()
    with torch.no_grad():
        payloads = system.device_encode(x)
        again = system.device_encode(x)
        wire = [p.to_bytes() for p in payloads]
        assert wire == [p.to_bytes() for p in again] and len(wire) == len(x)
        parsed = [Payload.from_bytes(b, layout=system.payload_layout()) for b in wire]
        for p in parsed:
            system.check_payload(p)
        direct = system.edge_decode(payloads)
        through = system.edge_decode(parsed)
    assert _equal(direct, through)
    try:
        tensors = system.device_tensors(x)
    except DeviceExportError as exc:
        assert str(exc).strip()
        return
    assert [p.to_bytes() for p in system.pack_payloads(tensors)] == wire


def test_compact_wire_form_round_trips_with_a_short_header(built, tmp_path: Path) -> None:
    """Every payload system's compact form (where its layout is fixed) has a header of at most
    12 bytes and decodes to the same payloads; a stored and reloaded copy has the same model id
    (device and server agree on it without coordination)."""
    _, _, system, x, _ = built
    if not isinstance(system.transport, PayloadTransport):
        pytest.skip(f"{system.transport.kind} transport: no payload bytes")
    system.prepare_for_coding()
    system.eval()
    codec = system.wire_codec()
    with torch.no_grad():
        payloads = system.device_encode(x)
    wire = [codec.encode(p) for p in payloads]
    assert [codec.decode(b) for b in wire] == payloads
    if system.payload_layout().fixed:
        assert codec.written_form == "compact"
        assert all(codec.header_bytes(p) <= 12 for p in payloads)
    else:
        assert codec.written_form == "self-describing"
    stored = load_system(write_system(system, tmp_path / "s.safetensors"))
    assert stored.system.model_id() == system.model_id()


def test_export_or_a_clear_refusal(built, tmp_path: Path) -> None:
    """A device part that says it exports does (ONNX + the packing agree with PyTorch; checked
    once per system name, the ONNX export takes seconds); the others say why not."""
    name, params, system, _, _ = built
    system.prepare_for_coding()
    reason = export_refusal(system.eval())
    assert reason is None or (isinstance(reason, str) and len(reason) > 10)
    if reason is not None:
        return
    assert isinstance(system.transport, PayloadTransport)
    if params != system_class(name).contract_params[0]:
        return
    stored = StoredSystem(name, system, params)
    folder = export_device(stored, tmp_path / "onnx")
    result = verify_export(stored, load_onnx_device(folder), samples=2)
    assert not result.problems, result.problems


def test_store_round_trip_rebuilds_the_same_system(built, tmp_path: Path) -> None:
    name, params, system, x, _ = built
    system.prepare_for_coding()
    path = write_system(system, tmp_path / "s.safetensors")
    stored = load_system(path)
    assert stored.system.name == name and stored.system.ctx == system.ctx
    a, b = system.state_dict(), stored.system.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    system.eval()
    with torch.no_grad():
        assert _equal(system(x, None, "bypass").output, stored.system(x, None, "bypass").output)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b, strict=True))
    return bool(a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _rows(value, rows: slice):
    """The samples ``rows`` of a batched value (tensors, lists of per-sample items, dicts)."""
    if isinstance(value, torch.Tensor):
        return value[rows]
    if isinstance(value, dict):
        return {k: _rows(v, rows) for k, v in value.items()}
    if isinstance(value, list):
        return value[rows]
    return value


def test_training_noise_does_not_depend_on_how_ddp_splits_the_batch(built) -> None:
    """Two DDP ranks each hold every other sample of a batch (semcom.sharded_batch): with the
    same RNG state, each must compute for its samples what one process computes for them. Batch
    norm runs on its running statistics here (its global-batch form is train.sync_bn's)."""
    from semcom.sharded_batch import batch_shard

    _, _, system, x, y = built
    system.train()
    for module in system.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    snr = torch.tensor([0.0, 5.0, 10.0, 15.0])
    # the ranks start a step from the same state (a training forward may update buffers, such
    # as AECNN's channel importance): each forward here starts from the state before the step
    state = {k: v.clone() for k, v in system.state_dict().items()}
    for path in system.paths:
        extra = lambda t: {"targets": t} if system.wants_targets else {}  # noqa: E731
        system.load_state_dict(state)
        torch.manual_seed(7)
        whole = system(x, snr, path, **extra(y))
        for rank in (0, 1):
            rows = slice(rank, None, 2)
            system.load_state_dict(state)
            torch.manual_seed(7)
            with batch_shard(rank, 2, len(x)):
                part = system(x[rows], snr[rows], path, **extra(_rows(y, rows)))
            for field in ("output", "rate_bits"):
                got, want = getattr(part, field), getattr(whole, field)
                if isinstance(want, torch.Tensor) and want.dim() > 0 and len(want) == len(x):
                    torch.testing.assert_close(got, want[rows], msg=f"{path} {field} {rank}")
