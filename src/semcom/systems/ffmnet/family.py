"""What every FFMNet system shares: the architecture parameters, the network (built by
:mod:`.network`, cut at ``backbone.split_after``), the multi-task task and the training graph.

* **Task.** Each system answers the sub-tasks its class names (``TASKS``): ``detection`` and
  ``segmentation`` for FFMNet, one of them for ``det-only`` / ``seg-only``. On a multi-task data
  set (:mod:`semcom.data.multitask`) they are the set's own sub-task specs (class counts and
  names); on any other the system asks for a multi-task set and the experiment refuses the pair
  by name.
* **Shared network.** A system whose architecture is the default one and which answers both tasks
  (``ffmnet``, ``ffmnet-digital``, ``ffmnet-jscc`` with their network fields left alone) shares
  its head and tail with the experiment's reference (``backbone.reference: ffmnet``): the
  multi-task network is trained once by ``train.backbone`` and every split system starts from it
  (the paper's first training stage). Any other (``det-only``, ``seg-only``, ``mtl-hardshare``, or
  an FFMNet with other fields) trains its own network in its stages.
* **Training graph.** ``forward(x, snr_db, path, targets)``: head → (``path != "bypass"``:
  :meth:`FFMNetFamily.link_forward`, the system's link) → tail. In training mode with targets the
  detection output is the FCOS loss terms (images without detection labels left out), otherwise
  boxes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from semcom.data.info import TaskSpec
from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import SystemOutput, SystemParams
from semcom.systems.ffmnet.names import DETECTION, INPUT_MULTIPLE, SEGMENTATION, SPLIT_POINTS
from semcom.systems.registry import SystemConfigError
from semcom.tasks import Task, build_task


class FFMNetParams(SystemParams):
    """The network's fields (every FFMNet system has them)."""

    width: int = Field(32, ge=8, le=256, multiple_of=8, description="trunk's first planes")
    blocks: int = Field(1, ge=1, le=4, description="basic blocks per trunk stage")
    fusion: Literal["fpn", "concat", "none"] = Field(
        "fpn", description="how the heads' maps mix the trunk's levels (semcom.nn.feature_fusion)"
    )
    head_channels: int = Field(
        64,
        ge=32,
        le=512,
        multiple_of=32,
        description="planes of the fused maps and heads (a multiple of 32: the FCOS group norm)",
    )
    head_convs: int = Field(2, ge=1, le=4, description="convolutions in each FCOS tower")
    score_thresh: float = Field(0.05, ge=0, lt=1, description="lowest detection score kept")


#: the fields that shape the network (a system with other values than the defaults trains its own).
NETWORK_FIELDS = tuple(FFMNetParams.model_fields)


def task_spec(ctx_task: TaskSpec, num_classes: int, names: tuple[str, ...]) -> TaskSpec:
    """The multi-task spec over ``names``: the data set's sub-tasks when it has them, else a
    default one (``num_classes`` each) that the experiment's task check then refuses."""
    if ctx_task.kind == "multitask" and all(n in ctx_task.subtasks for n in names):
        return TaskSpec("multitask", subtasks={n: ctx_task.subtasks[n] for n in names})
    default = {
        DETECTION: TaskSpec("detection", num_classes),
        SEGMENTATION: TaskSpec("segmentation", num_classes),
    }
    return TaskSpec("multitask", subtasks={n: default[n] for n in names})


class FFMNetFamily(BackboneSplitSystem):
    """Base of the FFMNet systems (module docstring). Input ``[B, C, H, W]`` in ``[0, 1]`` (``H``,
    ``W`` multiples of 32) → ``{"detection": [...], "segmentation": [B, K, H, W]}``."""

    Params: ClassVar[type[SystemParams]] = FFMNetParams
    params: FFMNetParams
    #: the sub-tasks this system answers.
    TASKS: ClassVar[tuple[str, ...]] = (DETECTION, SEGMENTATION)
    wants_targets = True
    contract_input_shape = (3, 64, 64)

    def make_task(self) -> Task:
        return build_task(task_spec(self.ctx.task, self.ctx.num_classes, self.TASKS))

    @property
    def shares_backbone(self) -> bool:  # type: ignore[override]
        """Whether the network is the reference FFMNet's (module docstring)."""
        if self.TASKS != (DETECTION, SEGMENTATION):
            return False
        defaults = FFMNetParams()
        return all(getattr(self.params, f) == getattr(defaults, f) for f in NETWORK_FIELDS)

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        c, (h, w) = self.ctx.in_channels, self.ctx.image_size
        if h % INPUT_MULTIPLE or w % INPUT_MULTIPLE:
            raise SystemConfigError(
                f"{self.name} needs an input whose sides are multiples of {INPUT_MULTIPLE} (the "
                f"stride of its coarsest map), got {h}x{w}; set data.image_size"
            )
        if self.ctx.split_after not in SPLIT_POINTS:
            raise SystemConfigError(
                f"backbone.split_after: {self.name} is cut after one of "
                f"{', '.join(SPLIT_POINTS)}, got {self.ctx.split_after!r}"
            )
        # torchvision (its detection and ops modules) is imported when a network is built
        from semcom.systems.ffmnet.network import MultiTaskNetwork

        subtasks = self.task.spec.subtasks
        p = self.params
        network = MultiTaskNetwork(
            c,
            subtasks[DETECTION].num_classes if DETECTION in subtasks else 0,
            subtasks[SEGMENTATION].num_classes if SEGMENTATION in subtasks else 0,
            width=p.width,
            blocks=p.blocks,
            fusion=p.fusion,
            head_channels=p.head_channels,
            head_convs=p.head_convs,
            score_thresh=p.score_thresh,
        )
        head, tail = network.split(self.ctx.split_after)
        return head, tail, network.split_shape(self.ctx.split_after, (h, w))

    # --- training graph ------------------------------------------------------------------------
    def link_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """The link's training graph on the split feature ``[B, *feature_shape]``: ``(what the
        edge receives, estimated bits per sample [B] or None, extras)``; none by default."""
        return feature, None, {}

    def finish(self, feature_hat: torch.Tensor, targets: Any = None) -> Any:
        """The edge's task output from the (received) split feature."""
        return self.tail(feature_hat, self.ctx.image_size, targets)

    def infer_local(self, x: torch.Tensor) -> Any:
        """The unsplit network on ``x`` (no link): head, then the edge part. It takes precedence
        over the separate-coding bases' classifier form (``tail(head(x))``)."""
        return self.finish(self.head(x))

    def forward(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor | None = None,
        path: str = "full",
        targets: dict[str, Any] | None = None,
    ) -> SystemOutput:
        """The training graph (module docstring); ``bypass`` skips the link."""
        self.check_path(path)
        feature = self.head(x)
        rate: torch.Tensor | None = None
        extras: dict[str, torch.Tensor] = {}
        if path != "bypass":
            feature, rate, extras = self.link_forward(feature, snr_db)
        given = targets if self.training else None
        return SystemOutput(self.finish(feature, given), rate, extras)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["tasks"] = list(self.TASKS)
        out["split_shape"] = list(self.feature_shape)
        return out
