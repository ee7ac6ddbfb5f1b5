"""Splittable backbones: a network as an ordered list of named stages.

A :class:`SplitBackbone` is a sequence of named stages (``stem``, ``layer1``, ..., ``head``).
``split(after)`` cuts it into a device part (the stages up to and including ``after``) and an edge
part (the rest), so a config chooses the split point by name. Stage names are the contract between
configs and backbones; ``stage_names`` lists them and a bad name is rejected with the allowed ones.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class Normalize(nn.Module):
    """Per-channel affine normalisation ``(x - mean) / std`` of inputs in ``[0, 1]``, of any rank.

    Kept inside the model so that data loaders hand out raw ``[0, 1]`` pixels and offloading
    baselines can rebuild the exact uint8 image. The statistics are aligned with dimension 1
    whatever the rank: images ``[B, C, H, W]`` and clips ``[B, C, T, H, W]`` alike (a fixed
    ``[1, C, 1, 1]`` view would align them with ``T`` on a clip, silently when ``T == C``).

    >>> clip = torch.zeros(2, 3, 3, 4, 4)
    >>> Normalize((0.0, 0.5, 1.0), (1.0, 1.0, 1.0))(clip)[0, :, 0, 0, 0].tolist()
    [0.0, -0.5, -1.0]
    """

    mean: torch.Tensor  # buffers (registered in __init__)
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("std", torch.tensor(std), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, C, ...]`` in ``[0, 1]`` → normalised, same shape."""
        if x.dim() < 2 or x.shape[1] != len(self.mean):
            raise ValueError(
                f"Normalize has statistics of {len(self.mean)} channels; input {list(x.shape)} "
                "is not [B, C, ...] with that C"
            )
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(shape)) / self.std.view(shape)


class SplitBackbone(nn.Module):
    """An ordered set of named stages that can be cut after any of them.

    Args:
        stages: ordered ``(name, module)`` pairs; running them in order maps the input image
            ``[B, C, H, W]`` to logits ``[B, num_classes]``.
    """

    def __init__(
        self, stages: list[tuple[str, nn.Module]], aliases: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        if not stages:
            raise ValueError("a backbone needs at least one stage")
        # nn.Sequential keys cannot contain '.', so block names like 'layer2.1' are stored as
        # 'layer2_1' and shown to users with the dot.
        self.stages = nn.Sequential(OrderedDict((n.replace(".", "_"), m) for n, m in stages))
        self._names = [n for n, _ in stages]
        self.aliases = dict(aliases or {})

    @property
    def stage_names(self) -> list[str]:
        """Names of the stages, in order; any but the last is a valid split point."""
        return list(self._names)

    @property
    def split_points(self) -> list[str]:
        """Every accepted value of ``split_after``: stage names and their aliases (e.g. a layer
        name standing for its last block)."""
        return self._names[:-1] + [a for a, t in self.aliases.items() if t in self._names[:-1]]

    def check_split(self, after: str) -> int:
        """Index of stage ``after``; raises ``ValueError`` naming the allowed split points."""
        target = self.aliases.get(after, after)
        if after not in self.split_points:
            raise ValueError(
                f"backbone.split_after={after!r} is not a split point of this backbone; "
                f"allowed: {', '.join(self.split_points)}"
            )
        return self._names.index(target)

    def split(self, after: str) -> tuple[nn.Sequential, nn.Sequential]:
        """Return ``(device_head, edge_tail)`` sharing modules (and weights) with this backbone."""
        index = self.check_split(after)
        children = list(self.stages.named_children())
        head = nn.Sequential(OrderedDict(children[: index + 1]))
        tail = nn.Sequential(OrderedDict(children[index + 1 :]))
        return head, tail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, C, H, W]`` images in ``[0, 1]`` → logits ``[B, num_classes]``."""
        return self.stages(x)

    @torch.no_grad()
    def feature_shape(self, after: str, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape ``(C, H, W)`` of the feature after stage ``after`` (one input); the network's
        train / eval mode is left as it was."""
        head, _ = self.split(after)
        was_training = self.training
        head.eval()
        out = head(torch.zeros(1, *input_shape))
        self.train(was_training)
        return tuple(out.shape[1:])
