"""Experiment configuration: YAML → validated pydantic model, with ``--set key=value`` overrides.

Every section rejects unknown keys; an error names the field's dotted path, what was wrong and,
for unknown keys, the fields that are allowed. System entries expand over their list-valued fields
(``{name: quantized-split, channels: [4, 8], bits: [2, 4]}`` is four variants).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LOSS_TERMS = ("task", "rate", "feature", "distill")


class ConfigError(ValueError):
    """The experiment configuration is invalid; the message names every bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    """Which data set, where it lives, and how much of it a run uses."""

    name: str = "fashion-mnist"
    root: str | None = None
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    train_subset: int | None = Field(None, ge=1, description="first N training samples only")
    test_subset: int | None = Field(None, ge=1, description="first N test samples only")


class BackboneConfig(_Section):
    """The splittable network and where it is cut."""

    name: str = "resnet-small"
    split_after: str = "layer2"
    weights: str | None = Field(None, description="safetensors file with pre-trained weights")


class OptimConfig(_Section):
    """Epochs, optimiser and learning rate of one training phase."""

    epochs: float = Field(1, ge=0, description="may be fractional: 0.5 = half an epoch")
    lr: float = Field(1e-3, gt=0)
    optimizer: Literal["adam", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the phase: constant, or cosine decay to 0"
    )


class StageConfig(OptimConfig):
    """One training stage: which roles train, with which loss terms and weights."""

    name: str
    trainable: list[str] | Literal["all"] = "all"
    losses: dict[str, float] = Field(default_factory=lambda: {"task": 1.0})
    systems: list[str] | None = Field(
        None, description="names of the systems this stage applies to (default: every system)"
    )
    bn_batches: int = Field(
        20, ge=0, description="batches to re-estimate batch-norm statistics after the stage"
    )
    path: str = Field(
        "full",
        description="training graph: 'full', 'bypass' (backbone unsplit) or a system-specific one",
    )
    snr_db: tuple[float, float] | None = Field(
        None, description="noise-aware training: SNR drawn per sample, uniform in [lo, hi] dB"
    )

    @field_validator("losses")
    @classmethod
    def _known_losses(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k not in LOSS_TERMS]
        if bad:
            raise ValueError(f"unknown loss term(s) {bad}; allowed: {', '.join(LOSS_TERMS)}")
        if any(w < 0 for w in v.values()):
            raise ValueError("loss weights must be >= 0")
        return v


class TrainConfig(_Section):
    """Backbone pre-training (once per experiment, shared by all systems) and per-system stages."""

    backbone: OptimConfig = Field(default_factory=lambda: OptimConfig(epochs=2, lr=2e-3))
    stages: list[StageConfig] = Field(default_factory=list)


class ChannelConfig(_Section):
    """The wireless channel used at evaluation (``awgn``, ``rayleigh``, ``rician``, ...)."""

    model_config = ConfigDict(extra="allow")
    name: str = "awgn"


class LinkConfig(_Section):
    bandwidth_hz: float = Field(1.0e6, gt=0)


class EvalConfig(_Section):
    channel: ChannelConfig | list[ChannelConfig] = Field(
        default_factory=ChannelConfig,
        description="one channel, or a list: every system is evaluated on each",
    )
    snr_db: list[float] = Field(default_factory=lambda: [0.0, 10.0, 20.0])
    link: LinkConfig = Field(default_factory=LinkConfig)
    devices: list[str] = Field(default_factory=lambda: ["raspberry-pi-4"])
    edge: str = "edge-gpu"
    deadline_s: float | None = Field(None, gt=0)
    timing_samples: int = Field(64, ge=0, description="images timed one by one on this CPU")

    @field_validator("devices")
    @classmethod
    def _known_devices(cls, v: list[str]) -> list[str]:
        for name in v:
            _check_profile(name)
        return v

    @field_validator("edge")
    @classmethod
    def _known_edge(cls, v: str) -> str:
        _check_profile(v)
        return v

    @field_validator("channel")
    @classmethod
    def _known_channel(
        cls, v: ChannelConfig | list[ChannelConfig]
    ) -> ChannelConfig | list[ChannelConfig]:
        from semcom.channels import build_channel

        channels = v if isinstance(v, list) else [v]
        if not channels:
            raise ValueError("give at least one channel")
        for i, ch in enumerate(channels):
            params = ch.model_dump()
            try:
                build_channel(params.pop("name"), **params)
            except ValueError as exc:
                where = f"entry {i}: " if isinstance(v, list) else ""
                raise ValueError(f"{where}{exc}") from None
        return v

    def channels(self) -> list[dict[str, Any]]:
        """The evaluation channels as ``{"name": ..., **params}`` dicts, in config order."""
        channels = self.channel if isinstance(self.channel, list) else [self.channel]
        return [c.model_dump() for c in channels]


def _check_profile(name: str) -> None:
    """``ValueError`` listing the allowed names unless ``name`` is a compute profile (without
    measuring ``this-cpu``)."""
    from semcom.latency import profile_names

    if name in profile_names():
        return
    try:
        float(name)
    except ValueError:
        raise ValueError(
            f"unknown compute profile {name!r}; allowed: {', '.join(profile_names())} or a "
            "number of FLOP/s"
        ) from None


class QuickConfig(_Section):
    """What ``--quick`` changes: small subsets and short training, for smoke runs."""

    train_subset: int = Field(2048, ge=1)
    test_subset: int = Field(512, ge=1)
    epochs: float = Field(1, ge=0, description="cap on every phase's epochs")
    timing_samples: int = Field(8, ge=0)


class ExperimentConfig(_Section):
    """A whole experiment: what to compare and how (see configs/*.yaml)."""

    experiment: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    systems: list[dict[str, Any]] = Field(..., min_length=1)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    quick: QuickConfig = Field(default_factory=QuickConfig)

    @field_validator("systems")
    @classmethod
    def _systems_have_names(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, entry in enumerate(v):
            if not isinstance(entry, dict) or "name" not in entry:
                raise ValueError(f"entry {i} needs a 'name' (a registered system)")
        return v


def _format_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, err["loc"][:-1])
            msg = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif "input" in err and err["type"] not in ("missing",):
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"  {loc}: {msg}")
    return "invalid experiment config:\n" + "\n".join(lines)


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", ()) + (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def parse_config(raw: dict[str, Any]) -> ExperimentConfig:
    """Validate a raw mapping; raises :class:`ConfigError` naming every bad field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping at the top level, got {type(raw).__name__}")
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, ExperimentConfig)) from None
    _check_systems(cfg)
    return cfg


def _check_systems(cfg: ExperimentConfig) -> None:
    from semcom.systems import SystemConfigError, validate_params

    for i, entry in enumerate(cfg.systems):
        for variant in expand_system(entry):
            params = {k: v for k, v in variant.items() if k != "name"}
            try:
                validate_params(variant["name"], params, where=f"systems.{i}")
            except SystemConfigError as exc:
                raise ConfigError(f"systems.{i}: {exc}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file with ``safe_load`` (no arbitrary objects)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=c`` overrides (values parsed as YAML; list indices as numbers: ``systems.0.k``).

    >>> apply_overrides({"data": {"batch_size": 8}}, ["data.batch_size=32", "seed=3"])
    {'data': {'batch_size': 32}, 'seed': 3}
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set has an empty key in {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: value {text!r} is not valid YAML ({exc})") from None
        node: Any = out
        for depth, part in enumerate(parts[:-1]):
            node = _descend(node, part, ".".join(parts[: depth + 1]))
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, key)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is not a mapping or list")
    return out


def _descend(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path)]
    if isinstance(node, dict):
        if node.get(part) is None:
            node[part] = {}
        return node[part]
    raise ConfigError(f"--set {path}: cannot descend into a {type(node).__name__}")


def _index(node: list[Any], part: str, path: str) -> int:
    try:
        i = int(part)
    except ValueError:
        raise ConfigError(f"--set {path}: {part!r} must be a list index") from None
    if not -len(node) <= i < len(node):
        raise ConfigError(f"--set {path}: index {i} out of range (list has {len(node)} entries)")
    return i


def expand_system(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand list-valued fields of a system entry into the Cartesian product of variants.

    >>> for v in expand_system({"name": "quantized-split", "channels": [4, 8], "bits": 2}):
    ...     print(v)
    {'name': 'quantized-split', 'channels': 4, 'bits': 2}
    {'name': 'quantized-split', 'channels': 8, 'bits': 2}
    """
    keys = [k for k in entry if k != "name"]
    pools = [entry[k] if isinstance(entry[k], list) else [entry[k]] for k in keys]
    return [
        {"name": entry["name"], **dict(zip(keys, combo, strict=True))}
        for combo in itertools.product(*pools)
    ]


def variant_id(variant: dict[str, Any]) -> str:
    """A filesystem-safe id for a variant, e.g. ``quantized-split_channels=4_bits=2``.

    >>> variant_id({"name": "bottlenet++", "hidden": 8})
    'bottlenet++_hidden=8'
    """
    parts = [str(variant["name"])] + [f"{k}={v}" for k, v in variant.items() if k != "name"]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def resolve(raw: dict[str, Any], overrides: list[str] | None = None) -> ExperimentConfig:
    """Overrides then validation: the config a run actually uses."""
    return parse_config(apply_overrides(raw, overrides or []))


def dump_yaml(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML (saved next to the results)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
