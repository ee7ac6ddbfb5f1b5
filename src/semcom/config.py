"""Experiment configuration: YAML → validated pydantic model, with ``--set key=value`` overrides.

Every section rejects unknown keys; an error names the field's dotted path, what was wrong and,
for unknown keys, the fields that are allowed.

**Sweeps.** A system entry expands over its list-valued fields (``{name: quantized-split,
channels: [4, 8], bits: [2, 4]}`` is four variants). Explicitly: ``{sweep: [...]}`` sweeps a field
over the listed values and ``{value: ...}`` gives one value as it is. A parameter whose value is
itself a list (``lssc``'s ``train_snr_db: [5, 20]``) must use one of the explicit forms: a plain
list there is ambiguous and refused with an error that shows both spellings
(:func:`expand_system`).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """The experiment configuration is invalid; the message names every bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AugmentConfig(_Section):
    """Training-time augmentation (:mod:`semcom.data.augment`; masks and boxes move with their
    image)."""

    crop_padding: int = Field(
        0, ge=0, le=64, description="zero-pad by this many pixels, then crop at a random offset"
    )
    hflip: bool = Field(False, description="flip left-right with probability 1/2")


class DataConfig(_Section):
    """Which data set, where it lives, and how much of it a run uses."""

    name: str = "fashion-mnist"
    root: str | None = None
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    train_subset: int | None = Field(None, ge=1, description="first N training samples only")
    test_subset: int | None = Field(None, ge=1, description="first N test samples only")
    # options of the sets that take them (image-folder, camvid, voc, the video sets hmdb51,
    # ucf101, kinetics, video-list); None: the set's default
    image_size: int | tuple[int, int] | None = Field(
        None,
        description="image-folder, camvid, voc: resize every image to (H, W) (or N x N); video "
        "sets: scale each frame to cover (H, W), then centre-crop (default 112)",
    )
    channels: Literal[1, 3] | None = Field(
        None, description="image-folder, video sets: grey (1) or RGB (3)"
    )
    test_fraction: float | None = Field(
        None, gt=0, lt=1, description="image-folder, one folder of classes: the test share"
    )
    split_seed: int | None = Field(
        None, description="image-folder, one folder of classes: seed of the split (default 0)"
    )
    train_splits: str | list[str] | None = Field(
        None, description="camvid: the splits trained on, 'train' (default) or 'train+val'"
    )
    min_object_area: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="camvid: a labelled region smaller than this share of the image gets no box "
        "(default 0.0005)",
    )
    year: str | int | None = Field(None, description="voc: the VOC<year> folder (e.g. 2012)")
    image_set: str | None = Field(
        None, description="voc: the ImageSets list trained on (default train)"
    )
    test_set: str | None = Field(
        None,
        description="voc: the ImageSets list tested on (default val); kinetics: the test split's "
        "folder next to train/ (default val, else test)",
    )
    frames: int | None = Field(None, ge=1, description="video sets: frames per clip (default 16)")
    sampling: Literal["uniform", "stride"] | None = Field(
        None,
        description="video sets: which frames: uniform (spread over the clip, the default) or "
        "stride (a centred window of frames `stride` apart)",
    )
    stride: int | None = Field(
        None, ge=1, description="video sets, sampling: stride: the frame step (default 2)"
    )
    fold: Literal[1, 2, 3] | None = Field(
        None, description="hmdb51, ucf101: the official train/test split (default 1)"
    )
    splits_dir: str | None = Field(
        None,
        description="hmdb51, ucf101: the folder of the split files (relative to data.root); "
        "default: found next to the videos",
    )
    train_list: str | None = Field(
        None, description="video-list: the training list (default train_list.txt)"
    )
    test_list: str | None = Field(
        None, description="video-list: the test list (default test_list.txt)"
    )
    label_map: str | None = Field(
        None, description="video-list: class names, one per line (default label_map.txt)"
    )
    data_prefix: str | None = Field(
        None, description="video-list: the folder list paths are relative to (default the list's)"
    )
    augment: AugmentConfig = Field(
        default_factory=AugmentConfig, description="training batches only, per sample"
    )
    class_weights: Literal["none", "median-frequency"] = Field(
        "none",
        description="segmentation loss weights per class, from the training masks: none | "
        "median-frequency (Eigen & Fergus; for imbalanced sets such as CamVid)",
    )
    validation: int | None = Field(
        None,
        ge=1,
        description="hold out this many training samples (a draw seeded by split_seed, default "
        "0, from the whole training set, before train_subset) as the validation split that "
        "plateau stopping evaluates; nothing trains on them",
    )

    def options(self) -> dict[str, Any]:
        """The data set's keyword options (``None``: not given)."""
        return {
            "image_size": self.image_size,
            "channels": self.channels,
            "test_fraction": self.test_fraction,
            "seed": self.split_seed,
            "train_splits": self.train_splits,
            "min_object_area": self.min_object_area,
            "year": self.year,
            "image_set": self.image_set,
            "test_set": self.test_set,
            "frames": self.frames,
            "sampling": self.sampling,
            "stride": self.stride,
            "fold": self.fold,
            "splits_dir": self.splits_dir,
            "train_list": self.train_list,
            "test_list": self.test_list,
            "label_map": self.label_map,
            "data_prefix": self.data_prefix,
        }


class BackboneConfig(_Section):
    """The splittable network, where it is cut, and the system that trains it once unsplit."""

    name: str = "resnet-small"
    split_after: str = "layer2"
    weights: str | None = Field(
        None,
        description="pre-trained weights: a file (semcom's head./tail. state, or the network's "
        "own state dict, e.g. torchvision's .pth) or semcom:NAME for shipped weights",
    )
    reference: str = Field(
        "local",
        description="the registered system whose unsplit network train.backbone trains and "
        "whose head/tail every variant starts from (its task must fit the data)",
    )
    init: str | None = Field(
        None,
        description="weights (a file or semcom:NAME) that train.backbone starts from and trains "
        "further, e.g. a second cosine cycle or fine-tuning on new data; weights: used as they are",
    )

    @model_validator(mode="after")
    def _weights_or_init(self) -> BackboneConfig:
        if self.weights and self.init:
            raise ValueError(
                "backbone.weights and backbone.init exclude each other: weights are used as they "
                "are, init is trained further by train.backbone"
            )
        return self


class PlateauConfig(_Section):
    """Stop a phase once its validation metric plateaus (:mod:`semcom.train.plateau`)."""

    every: float = Field(..., gt=0, description="epochs between two validation evaluations")
    min_gain: float = Field(
        0.3,
        ge=0,
        description="stop when the last `evals` evaluations gained less than this many points "
        "(the task's primary metric x 100: accuracy, mIoU, ...)",
    )
    evals: int = Field(2, ge=1, description="evaluations the gain is measured over")


class OptimConfig(_Section):
    """Epochs, optimiser and learning rate of one training phase (:mod:`semcom.train.optim`)."""

    epochs: float = Field(1, ge=0, description="may be fractional: 0.5 = half an epoch")
    lr: float = Field(1e-3, gt=0)
    optimizer: str | dict[str, Any] = Field(
        "adam",
        description="adam | sgd (momentum 0.9, Nesterov) | any torch.optim class by name, or "
        "{name: ..., <keyword arguments>}",
    )
    weight_decay: float = Field(0.0, ge=0)
    plateau: PlateauConfig | None = Field(
        None,
        description="stop early once the validation metric plateaus (needs data.validation); "
        "epochs is then the most this phase trains",
    )
    schedule: str | dict[str, Any] = Field(
        "constant",
        description="constant | cosine (decay to 0) | any torch.optim.lr_scheduler class, as "
        "{name: ..., interval: epoch|step, <keyword arguments>}",
    )
    warmup_epochs: float = Field(
        0.0,
        ge=0,
        description="linear learning-rate warm-up from lr/100 over this many epochs (may be "
        "fractional), then the schedule; only with the constant and cosine schedules",
    )
    grad_clip: float | None = Field(
        None, gt=0, description="clip the total gradient norm (L2, trainable parameters) to this"
    )

    @model_validator(mode="after")
    def _warmup_with_builtin(self) -> OptimConfig:
        from semcom.train.optim import BUILTIN_SCHEDULES, resolve_schedule

        if self.warmup_epochs > 0 and resolve_schedule(self.schedule)[0] not in BUILTIN_SCHEDULES:
            raise ValueError(
                f"warmup_epochs works with the schedules {', '.join(BUILTIN_SCHEDULES)}; "
                "a torch scheduler warms up on its own (OneCycleLR, or SequentialLR with LinearLR)"
            )
        return self

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        from semcom.train.optim import check_optimizer

        return check_optimizer(v)  # type: ignore[return-value]

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        from semcom.train.optim import check_schedule

        return check_schedule(v)  # type: ignore[return-value]


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
    task_weights: dict[str, float] | None = Field(
        None, description="multi-task systems: weight of each sub-task's loss in the task term"
    )

    @field_validator("losses")
    @classmethod
    def _known_losses(cls, v: dict[str, float]) -> dict[str, float]:
        from semcom.train.losses import loss_names

        bad = [k for k in v if k not in loss_names()]
        if bad:
            raise ValueError(f"unknown loss term(s) {bad}; allowed: {', '.join(loss_names())}")
        if any(w < 0 for w in v.values()):
            raise ValueError("loss weights must be >= 0")
        return v


class TeacherFeatureConfig(_Section):
    """A pair of modules whose outputs ``feature_distill`` brings together."""

    student: str = Field(..., description="role or dotted module path in the student system")
    teacher: str = Field(..., description="role or dotted module path in the teacher")
    weight: float = Field(1.0, ge=0)


class TeacherConfig(_Section):
    """Where the ``distill`` / ``feature_distill`` teacher comes from
    (:mod:`semcom.train.teacher`)."""

    source: Literal["self", "backbone", "run"] = Field(
        "self",
        description="self: the variant's unsplit network as loaded; backbone: a backbone with "
        "weights; run: a stored variant of another run",
    )
    backbone: str | None = Field(None, description="source backbone: the backbone name")
    split_after: str | None = Field(None, description="source backbone: where it is cut")
    weights: str | None = Field(None, description="source backbone: its weights (file)")
    run: str | None = Field(None, description="source run: the run directory")
    variant: str | None = Field(None, description="source run: the variant id (models/<id>)")
    path: str = Field("bypass", description="the teacher's training graph that gives its output")
    temperature: float = Field(2.0, gt=0, description="softening temperature of 'distill'")
    features: list[TeacherFeatureConfig] = Field(
        default_factory=list, description="module pairs for 'feature_distill'"
    )

    @model_validator(mode="after")
    def _source_fields(self) -> TeacherConfig:
        needed = {"self": (), "backbone": ("weights",), "run": ("run", "variant")}[self.source]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"source {self.source!r} needs {', '.join(missing)}")
        foreign = {
            "self": ("backbone", "split_after", "weights", "run", "variant"),
            "backbone": ("run", "variant"),
            "run": ("backbone", "split_after", "weights"),
        }[self.source]
        given = [f for f in foreign if getattr(self, f) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: not used with source {self.source!r}")
        return self


class TrainConfig(_Section):
    """Backbone pre-training (once per experiment, shared by all systems), per-system stages and
    the distillation teacher."""

    backbone: OptimConfig = Field(default_factory=lambda: OptimConfig(epochs=2, lr=2e-3))
    stages: list[StageConfig] = Field(default_factory=list)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    reuse: str | None = Field(
        None,
        description="trained variants to reuse instead of training them: a `semcom run` directory "
        "(config.yaml + models/) or semcom:NAME for a shipped one; a variant is reused only if "
        "that run trained it under the same settings (data, backbone, teacher, seed, stages), "
        "any other trains here",
    )
    start_from: str | None = Field(
        None,
        description="a `semcom run` directory or semcom:NAME: each variant with stages that is "
        "stored there starts them from the stored model (every weight: backbone parts, codec, "
        "coder tables) instead of its seeded initial weights; the teacher stays what "
        "train.teacher names; the stored model's checksum enters the checkpoint keys",
    )
    amp: bool = Field(
        False, description="mixed precision (autocast) on CUDA / MPS; ignored on the CPU"
    )
    amp_cpu: bool = Field(
        False,
        description="bfloat16 autocast for training steps on the CPU (about 1.4x faster "
        "ResNet-20 steps on the AVX-512-BF16 CPUs here; weights, optimiser, batch-norm "
        "re-estimation and evaluation stay float32; results differ from float32 training)",
    )
    channels_last: bool = Field(
        False,
        description="train image batches in the channels-last memory layout (about 1.25x faster "
        "convolutions on CPUs here; results agree to float rounding, not bit for bit)",
    )
    sync_bn: bool = Field(
        True,
        description="under torchrun, batch norm over the global batch of all ranks (as one "
        "process computes it); false: each rank normalises its own share",
    )


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
    header: Literal["compact", "self-describing"] = Field(
        "compact",
        description="payload wire form: compact (a 4-byte model id, 7-9 header bytes) where the "
        "payload shape is fixed, else self-describing; self-describing: always the long form",
    )

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
    snr_db: list[float] | None = Field(
        None,
        min_length=1,
        description="evaluation SNRs (dB) of a quick run instead of eval.snr_db (null: all); "
        "a smoke run of a simulated PHY needs a few points, not the sweep",
    )
    channels: int | None = Field(
        None, ge=1, description="evaluate on the first N of eval.channel only (null: all)"
    )


class ExperimentConfig(_Section):
    """A whole experiment: what to compare and how (see configs/*.yaml)."""

    experiment: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    seed: int = 0
    device: str = Field(
        "auto",
        description="where networks run: auto (CUDA, then MPS, else CPU) | cpu | cuda[:N] | mps",
    )
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

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        from semcom.accel import check_device_name

        return check_device_name(v)

    @model_validator(mode="after")
    def _plateau_needs_validation(self) -> ExperimentConfig:
        phases = [("train.backbone", self.train.backbone)]
        phases += [(f"train.stages[{i}]", st) for i, st in enumerate(self.train.stages)]
        stopping = [where for where, ph in phases if ph.plateau is not None]
        if stopping and self.data.validation is None:
            raise ValueError(
                f"{', '.join(stopping)}: plateau stopping evaluates on a validation split; set "
                "data.validation (the number of training samples to hold out)"
            )
        return self


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
    from semcom.systems import SystemConfigError, system_class, validate_params

    for i, entry in enumerate(cfg.systems):
        for variant in expand_system(entry, where=f"systems.{i}"):
            params = {k: v for k, v in variant.items() if k != "name"}
            try:
                validate_params(variant["name"], params, where=f"systems.{i}")
            except SystemConfigError as exc:
                raise ConfigError(f"systems.{i}: {exc}") from None
    try:
        system_class(cfg.backbone.reference)
    except SystemConfigError as exc:
        raise ConfigError(f"backbone.reference: {exc}") from None


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


def _takes_a_sequence(system: str, key: str) -> bool:
    """Whether parameter ``key`` of system ``system`` takes a list / tuple value."""
    import typing

    from semcom.systems import SystemConfigError, system_class

    try:
        fields = system_class(system).Params.model_fields
    except SystemConfigError:
        return False  # validation names the unknown system
    field = next((f for n, f in fields.items() if key in (n, f.alias)), None)
    if field is None:
        return False

    def sequence(tp: Any) -> bool:
        origin = typing.get_origin(tp)
        if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
            return True
        return any(sequence(a) for a in typing.get_args(tp)) if origin is not None else False

    return sequence(field.annotation)


def _values(system: str, key: str, value: Any, where: str) -> list[Any]:
    """The values a field of a system entry takes across its variants (module docstring)."""
    if isinstance(value, dict) and set(value) == {"sweep"}:
        if not isinstance(value["sweep"], list) or not value["sweep"]:
            raise ConfigError(f"{where}.{key}: 'sweep' needs a non-empty list of values")
        return list(value["sweep"])
    if isinstance(value, dict) and set(value) == {"value"}:
        return [value["value"]]
    if isinstance(value, list):
        if _takes_a_sequence(system, key):
            raise ConfigError(
                f"{where}.{key}: {value!r} is ambiguous, because {key!r} of {system!r} takes a "
                f"list: write `{key}: {{value: {value!r}}}` for one variant with that list, or "
                f"`{key}: {{sweep: [{value!r}, ...]}}` for one variant per listed value"
            )
        return value
    return [value]


def expand_system(entry: dict[str, Any], where: str = "systems") -> list[dict[str, Any]]:
    """Expand a system entry into the Cartesian product of its variants (module docstring).

    >>> for v in expand_system({"name": "quantized-split", "channels": [4, 8], "bits": 2}):
    ...     print(v)
    {'name': 'quantized-split', 'channels': 4, 'bits': 2}
    {'name': 'quantized-split', 'channels': 8, 'bits': 2}
    >>> entry = {"name": "lssc", "train_snr_db": {"value": [5, 20]}}
    >>> [v["train_snr_db"] for v in expand_system(entry)]
    [[5, 20]]
    >>> expand_system({"name": "lssc", "train_snr_db": [5, 20]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    semcom.config.ConfigError: systems.train_snr_db: [5, 20] is ambiguous, ...
    """
    keys = [k for k in entry if k != "name"]
    pools = [_values(str(entry["name"]), k, entry[k], where) for k in keys]
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
