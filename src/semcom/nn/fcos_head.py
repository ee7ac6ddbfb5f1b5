"""An anchor-free (FCOS) detection head on one feature map, built from torchvision's pieces.

:class:`SingleLevelFCOS` takes a feature map ``[B, C, h, w]`` of an input ``H × W`` at stride
``s = H / h`` and gives, in training, torchvision's FCOS loss terms against targets
(``classification`` — sigmoid focal loss, ``bbox_regression`` — GIoU, ``bbox_ctrness`` —
centre-ness BCE) and at evaluation one ``{"boxes", "scores", "labels"}`` dict per image (boxes in
input pixels, ``x1, y1, x2, y2``). The head (:class:`torchvision.models.detection.fcos.FCOSHead`),
the anchors (:class:`~torchvision.models.detection.anchor_utils.AnchorGenerator`, one per
location, of size ``s``), the target matching (centre sampling) and the post-processing
(score threshold, top-k, batched NMS) are torchvision's own; only the image transform is left out
(inputs are already in ``[0, 1]`` at their size, so no resizing to 800 pixels). With one level
every object size is assigned to it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.models.detection.image_list import ImageList


class SingleLevelFCOS(nn.Module):
    """FCOS on one feature map (module docstring).

    Args:
        in_channels: channels ``C`` of the feature map.
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

    def _anchors(self, feature: torch.Tensor, image_size: tuple[int, int]) -> list[torch.Tensor]:
        b, _, h, _ = feature.shape
        stride = image_size[0] // h
        generator = AnchorGenerator(sizes=((stride,),), aspect_ratios=((1.0,),))
        images = ImageList(feature.new_zeros(b, 1, *image_size), [image_size] * b)
        return generator(images, [feature])

    def forward(
        self,
        feature: torch.Tensor,
        image_size: tuple[int, int],
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> Any:
        """Training (with ``targets``): loss terms by name; otherwise detections per image."""
        head_outputs = self.head([feature])
        anchors = self._anchors(feature, image_size)
        per_level = [feature.shape[2] * feature.shape[3]]
        if targets is not None:
            # torchvision's matching and losses; they read this module's attributes only
            return FCOS.compute_loss(self, targets, head_outputs, anchors, per_level)
        split = {k: [v] for k, v in head_outputs.items()}
        return FCOS.postprocess_detections(
            self,
            split,
            [[a] for a in anchors],
            [image_size] * len(feature),
        )
