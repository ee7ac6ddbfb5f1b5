"""An anchor-free (FCOS) detection head on one or several feature maps, built from torchvision's
pieces.

:class:`FCOSDetector` takes feature maps ``[B, C, h_l, w_l]`` (finest first) of an input
``H × W`` at strides ``s_l = H / h_l`` and gives, in training, torchvision's FCOS loss terms
against targets (``classification`` — sigmoid focal loss, ``bbox_regression`` — GIoU,
``bbox_ctrness`` — centre-ness BCE) and at evaluation one ``{"boxes", "scores", "labels"}`` dict per
image (boxes in input pixels, ``x1, y1, x2, y2``). The head
(:class:`torchvision.models.detection.fcos.FCOSHead`, shared over the levels), the anchors
(:class:`~torchvision.models.detection.anchor_utils.AnchorGenerator`, one per location, of size
``s_l``), the target matching (centre sampling, and FCOS's scale ranges: level ``l`` takes objects
whose largest side distance lies in ``[4 s_l, 8 s_l]``, the finest everything below, the coarsest
everything above) and the post-processing (score threshold, top-k, batched NMS) are torchvision's
own; only the image transform is left out (inputs are already in ``[0, 1]`` at their size, so no
resizing to 800 pixels). :class:`SingleLevelFCOS` is the one-map form: every object size goes to
its level.

Targets may carry ``has_boxes`` (bool, 0-d; :mod:`semcom.data.multitask`): an image whose
``has_boxes`` is ``False`` has no detection labels (not *no objects*), so it is left out of the
loss altogether; a batch without any labelled image gives zero loss terms (still attached to the
graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.models.detection.image_list import ImageList

#: the loss terms torchvision's FCOS head returns.
LOSS_TERMS = ("classification", "bbox_regression", "bbox_ctrness")


def labelled_images(targets: Sequence[dict[str, torch.Tensor]]) -> list[int]:
    """Indices of the images whose targets carry detection labels (``has_boxes`` absent or
    true)."""
    return [i for i, t in enumerate(targets) if "has_boxes" not in t or bool(t["has_boxes"])]


class FCOSDetector(nn.Module):
    """FCOS on a list of feature maps of one width (module docstring).

    Args:
        in_channels: channels ``C`` of every feature map (a multiple of 32: the head's group norm).
        num_classes: object classes (no background class: FCOS scores each class by a sigmoid).
        num_convs: convolutions in each of the head's two towers (torchvision's default is 4).
        score_thresh, nms_thresh, detections_per_img, topk_candidates: post-processing.
        center_sampling_radius: of the target matching, in strides.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        num_convs: int = 2,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.6,
        detections_per_img: int = 100,
        topk_candidates: int = 1000,
        center_sampling_radius: float = 1.5,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.head = FCOSHead(in_channels, 1, num_classes, num_convs=num_convs)
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.center_sampling_radius = center_sampling_radius

    @staticmethod
    def _anchors(
        features: Sequence[torch.Tensor], image_size: tuple[int, int]
    ) -> list[torch.Tensor]:
        b = features[0].shape[0]
        strides = tuple((image_size[0] // f.shape[2],) for f in features)
        for f, (s,) in zip(features, strides, strict=True):
            if f.shape[2] * s != image_size[0] or f.shape[3] * s != image_size[1]:
                raise ValueError(
                    f"a {f.shape[2]}x{f.shape[3]} feature map is no whole stride of the "
                    f"{image_size[0]}x{image_size[1]} input"
                )
        generator = AnchorGenerator(sizes=strides, aspect_ratios=((1.0,),) * len(features))
        images = ImageList(features[0].new_zeros(b, 1, *image_size), [image_size] * b)
        return generator(images, list(features))

    def forward(
        self,
        features: Sequence[torch.Tensor],
        image_size: tuple[int, int],
        targets: Sequence[dict[str, torch.Tensor]] | None = None,
    ) -> Any:
        """Training (with ``targets``): loss terms by name (scalars); otherwise detections per
        image. ``features``: maps ``[B, C, h_l, w_l]``, finest first."""
        features = list(features)
        # matching, losses and box decoding in float32 also under bfloat16 autocast (pixel
        # coordinates of a few hundred lose whole pixels in bfloat16)
        head_outputs = {k: v.float() for k, v in self.head(features).items()}
        anchors = self._anchors(features, image_size)
        per_level = [f.shape[2] * f.shape[3] for f in features]
        if targets is not None:
            keep = labelled_images(targets)
            if not keep:
                zero = sum(v.sum() for v in head_outputs.values()) * 0.0
                return dict.fromkeys(LOSS_TERMS, zero)
            if len(keep) < len(targets):
                head_outputs = {k: v[keep] for k, v in head_outputs.items()}
                anchors = [anchors[i] for i in keep]
            # torchvision's matching and losses; they read this module's attributes only
            return FCOS.compute_loss(
                self, [targets[i] for i in keep], head_outputs, anchors, per_level
            )
        split = {k: list(v.split(per_level, dim=1)) for k, v in head_outputs.items()}
        split_anchors = [list(a.split(per_level)) for a in anchors]
        return FCOS.postprocess_detections(
            self, split, split_anchors, [image_size] * len(features[0])
        )


class SingleLevelFCOS(FCOSDetector):
    """FCOS on one feature map ``[B, C, h, w]`` (module docstring)."""

    def forward(  # type: ignore[override]
        self,
        feature: torch.Tensor,
        image_size: tuple[int, int],
        targets: Sequence[dict[str, torch.Tensor]] | None = None,
    ) -> Any:
        """Training (with ``targets``): loss terms by name; otherwise detections per image."""
        return super().forward([feature], image_size, targets)
