"""Object detection: boxes, scores and labels per image, scored by COCO-style mAP.

Outputs follow torchvision's convention. At evaluation a system returns one dict per sample,
``{"boxes": float [n, 4] (x1, y1, x2, y2, pixels), "scores": float [n], "labels": int64 [n]}``;
targets are ``{"boxes": [m, 4], "labels": [m]}`` per sample (a list, :mod:`semcom.data.batch`).
In training a detection system computes its own loss terms from the targets (as torchvision's
detectors do) and returns them as a dict of scalars; :meth:`DetectionTask.loss` sums them, each
weighted by ``weights[name]`` when given (default 1).

Metrics from torchmetrics' :class:`~torchmetrics.detection.MeanAveragePrecision` with the
``faster_coco_eval`` backend (pycocotools returns -1 for non-default max-detection settings):
``map`` (IoU 0.50:0.95), ``map_50``, ``map_75``; a metric COCO cannot define (no ground truth)
is ``None``. A late or undelivered sample predicts no box.

Targets may carry two optional keys (:mod:`semcom.data.multitask`): ``difficult`` (bool ``[m]``,
Pascal VOC's flag) — those objects are neither required nor penalised: they go to COCO's
evaluation as crowd regions (``iscrowd``), so a missed one is no false negative and a detection on
one no false positive (COCO matches crowds by intersection over the detection's area, VOC by
IoU: a near-identical rule) — and ``has_boxes`` (bool, 0-d) — ``False`` marks an image without
detection labels, which is left out of the metrics altogether (its predictions count nowhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from semcom.tasks.base import Evaluator, Metrics, Task, TaskError

METRICS = ("map", "map_50", "map_75")


def empty_detection(device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A prediction with no box."""
    return {
        "boxes": torch.zeros(0, 4, device=device),
        "scores": torch.zeros(0, device=device),
        "labels": torch.zeros(0, dtype=torch.int64, device=device),
    }


def _as_list(value: Any, what: str) -> list[Mapping[str, torch.Tensor]]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise TaskError(f"detection expects {what} as a list of dicts (one per sample)")
    return list(value)


def _cpu(d: Mapping[str, torch.Tensor], keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    missing = [k for k in keys if k not in d]
    if missing:
        raise TaskError(f"detection dict lacks {missing}; has {sorted(d)}")
    out = {k: d[k].detach().cpu() for k in keys}
    out["boxes"] = out["boxes"].float().reshape(-1, 4)
    out["labels"] = out["labels"].long().reshape(-1)
    if "scores" in out:
        out["scores"] = out["scores"].float().reshape(-1)
    return out


def _truth(d: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A target for torchmetrics: boxes, labels and ``iscrowd`` (= ``difficult``, if given)."""
    out = _cpu(d, ("boxes", "labels"))
    if "difficult" in d:
        crowd = d["difficult"].detach().cpu().reshape(-1).long()
        if len(crowd) != len(out["labels"]):
            raise TaskError(f"{len(crowd)} difficult flags for {len(out['labels'])} boxes")
        out["iscrowd"] = crowd
    return out


class DetectionEvaluator(Evaluator):
    """``map``, ``map_50``, ``map_75`` over every sample added (module docstring).

    >>> ev = DetectionEvaluator()
    >>> box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    >>> pred = [{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}]
    >>> ev.update(pred, [{"boxes": box, "labels": torch.tensor([1])}])
    >>> ev.compute()["map_50"], ev.compute(on_time=torch.tensor([False]))["map_50"]
    (1.0, 0.0)
    """

    def reset(self) -> None:
        self._preds: list[dict[str, torch.Tensor]] = []
        self._targets: list[dict[str, torch.Tensor]] = []
        self._labelled: list[bool] = []  # False: the image has no detection labels (left out)
        self._cache: dict[bytes, Metrics] = {}

    def update(self, output: Any, targets: Any, delivered: torch.Tensor | None = None) -> None:
        preds = _as_list(output, "outputs")
        truth = _as_list(targets, "targets")
        if len(preds) != len(truth):
            raise TaskError(f"{len(preds)} predictions for {len(truth)} targets")
        for i, (p, t) in enumerate(zip(preds, truth, strict=True)):
            arrived = delivered is None or bool(delivered[i])
            self._preds.append(
                _cpu(p, ("boxes", "scores", "labels")) if arrived else empty_detection()
            )
            self._targets.append(_truth(t))
            self._labelled.append(bool(t["has_boxes"]) if "has_boxes" in t else True)
        self._cache.clear()

    @property
    def count(self) -> int:
        return len(self._targets)

    def subset(self, index: torch.Tensor) -> DetectionEvaluator:
        out = DetectionEvaluator()
        rows = [int(i) for i in index]
        out._preds = [self._preds[i] for i in rows]
        out._targets = [self._targets[i] for i in rows]
        out._labelled = [self._labelled[i] for i in rows]
        return out

    def compute(self, on_time: torch.Tensor | None = None) -> Metrics:
        if not self._targets:
            return dict.fromkeys(METRICS)
        keep = (
            torch.ones(len(self._targets), dtype=torch.bool)
            if on_time is None
            else on_time.to(torch.bool).cpu().reshape(-1)
        )
        key = bytes(keep.numpy().tobytes())
        if key not in self._cache:
            from torchmetrics.detection import MeanAveragePrecision

            metric = MeanAveragePrecision(
                iou_type="bbox", box_format="xyxy", backend="faster_coco_eval"
            )
            preds = [
                p if k else empty_detection()
                for p, k in zip(self._preds, keep.tolist(), strict=True)
            ]
            used = [i for i, labelled in enumerate(self._labelled) if labelled]
            if not used:
                return dict.fromkeys(METRICS)
            metric.update([preds[i] for i in used], [self._targets[i] for i in used])
            result = metric.compute()
            values: Metrics = {}
            for name in METRICS:
                v = float(result[name])
                values[name] = v if v >= 0 else None  # -1: undefined (no ground truth)
            self._cache[key] = values
        return dict(self._cache[key])


class DetectionTask(Task):
    """The system's own loss terms, summed; ``map_50`` first; the answer is the boxes."""

    kind = "detection"
    primary_metric = "map_50"
    metric_names = METRICS
    tracks_training = False  # training outputs are loss terms, not boxes

    @property
    def metric_label(self) -> str:
        return "mAP@0.5"

    def loss(self, output: Any, targets: Any, weights: Mapping[str, float] | None = None) -> Any:
        if not isinstance(output, Mapping) or not output:
            raise TaskError(
                "a detection system returns its loss terms in training (a dict of scalars, as "
                f"torchvision's detectors do), got {type(output).__name__}"
            )
        w = weights or {}
        return sum(w.get(name, 1.0) * value for name, value in output.items())

    def evaluator(self) -> DetectionEvaluator:
        return DetectionEvaluator()

    def answer(self, output: Any) -> dict[str, Any]:
        det = output[0] if isinstance(output, (list, tuple)) else output
        det = _cpu(det, ("boxes", "scores", "labels"))
        names = self.spec.classes
        return {
            "boxes": det["boxes"].tolist(),
            "scores": det["scores"].tolist(),
            "labels": det["labels"].tolist(),
            "label_names": [
                names[i] if 0 <= i < len(names) else str(i) for i in det["labels"].tolist()
            ],
        }

    def output_schema(self) -> dict[str, Any]:
        return {
            "boxes": "list of [x1, y1, x2, y2] in input pixels",
            "scores": "list of floats in [0, 1]",
            "labels": f"list of class indices in 0..{self.num_classes - 1}",
            "label_names": "list of class names",
        }
