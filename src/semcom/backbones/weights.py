"""Pre-trained backbone weights from a local file — never downloaded at run time.

:func:`load_backbone_weights` loads ``backbone.weights`` (or a teacher's ``weights``) into a
system's ``head`` and ``tail``. The spec is a path or ``semcom:NAME`` (weights shipped in the
package, checksum-verified by :mod:`semcom.pretrained`); the file is safetensors, or a PyTorch
state dict (``.pt`` / ``.pth``, loaded with ``weights_only=True``; a ``{"state_dict": ...}`` or
``{"model": ...}`` wrapper is unwrapped). Two layouts are understood:

* semcom's own: keys ``head.*`` and ``tail.*`` (what ``semcom backbone`` writes), loaded exactly;
* the network's own (e.g. torchvision's ImageNet ``resnet18-f37072fd.pth``): every key is found
  in the head or the tail by its module path. A classifier whose shape differs (1000 ImageNet
  classes for a 10-class data set) is left at its initialisation and reported; any other
  mismatch is an error naming the keys.

:func:`weights_help` is the message for a user who expects a download: where torchvision keeps
the file for a name and where to pass it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semcom.pretrained import WeightsError, resolve_weights

#: prefixes wrappers add to a network's state-dict keys (DDP, semcom's stage list).
_WRAPPER_PREFIXES = ("module.", "stages.")


class BackboneWeightsError(ValueError):
    """Weights that cannot be found, read, or fitted to the backbone; the message says which."""


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors or ``torch.save`` file (no code is unpickled)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        raw: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated files raise many types
        raise BackboneWeightsError(
            f"{path}: cannot read the weights: {type(exc).__name__}: {exc}"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(raw, Mapping) and isinstance(raw.get(key), Mapping):
            raw = raw[key]
    if not isinstance(raw, Mapping) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise BackboneWeightsError(f"{path}: not a state dict of tensors")
    return dict(raw)


def _strip(key: str) -> str:
    for prefix in _WRAPPER_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _role_key(roles: Mapping[str, nn.Module], key: str) -> tuple[str, str] | None:
    """``(role, key inside the role)`` of a network key, or ``None``."""
    for role, module in roles.items():
        own = module.state_dict()
        for candidate in (key, f"net.{key}", key.replace(".", "_", 1)):
            if candidate in own:
                return role, candidate
    return None


def load_backbone_weights(system: Any, spec: str, field: str = "backbone.weights") -> Path:
    """Load the weights ``spec`` names into ``system``'s ``head`` and ``tail`` (module
    docstring); returns the file. Raises :class:`BackboneWeightsError` saying what is wrong
    (``field``: the config field its message names)."""
    try:
        path = resolve_weights(spec, field)
    except WeightsError as exc:
        raise BackboneWeightsError(f"{exc}. {weights_help(system.ctx.backbone)}") from None
    state = read_state(path)
    roles = {r: m for r, m in system.roles().items() if r in ("head", "tail")}
    name = f"backbone {system.ctx.backbone!r} on {system.ctx.dataset or 'this data'!r}"
    try:
        if state and all(k.split(".", 1)[0] in ("head", "tail") for k in state):
            for role, module in roles.items():
                prefix = f"{role}."
                module.load_state_dict(
                    {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                )
            return path
        _load_network_state(roles, state, name)
    except RuntimeError as exc:
        raise BackboneWeightsError(
            f"{field}: {spec} does not fit {name}: {str(exc).splitlines()[0]}"
        ) from None
    return path


def _load_network_state(
    roles: Mapping[str, nn.Module], state: Mapping[str, torch.Tensor], name: str
) -> None:
    placed: dict[str, dict[str, torch.Tensor]] = {role: {} for role in roles}
    unknown: list[str] = []
    for key, value in state.items():
        found = _role_key(roles, _strip(key))
        if found is None:
            unknown.append(key)
        else:
            placed[found[0]][found[1]] = value
    if unknown:
        raise BackboneWeightsError(
            f"{len(unknown)} weight(s) match no module of {name}: {unknown[:5]}"
            + (" ..." if len(unknown) > 5 else "")
        )
    mismatched: list[str] = []
    for role, module in roles.items():
        own = module.state_dict()
        for key in list(placed[role]):
            if placed[role][key].shape != own[key].shape:
                mismatched.append(f"{role}.{key}")
                del placed[role][key]
    classifier = [k for k in mismatched if k.startswith("tail.")]
    if len(mismatched) > 2 or len(classifier) != len(mismatched):
        raise BackboneWeightsError(f"weights of the wrong shape for {name}: {mismatched[:6]}")
    for role, module in roles.items():
        missing = [k for k in module.state_dict() if k not in placed[role]]
        missing = [k for k in missing if f"{role}.{k}" not in mismatched and "num_batches" not in k]
        if missing:
            raise BackboneWeightsError(
                f"the weights lack {len(missing)} tensor(s) of {name}'s {role}: {missing[:5]}"
            )
        module.load_state_dict(placed[role], strict=False)


def weights_help(backbone: str) -> str:
    """Where to get and put pre-trained weights for ``backbone`` (nothing is downloaded)."""
    if backbone.startswith("tv:"):
        import torchvision

        try:
            weights = torchvision.models.get_model_weights(backbone[3:]).DEFAULT
            url = weights.url
        except (ValueError, AttributeError):
            url = "torchvision's weights page"
        return (
            f"Weights are never downloaded at run time: on a machine with internet, fetch {url} "
            "(torchvision keeps it under ~/.cache/torch/hub/checkpoints/) and pass "
            "backbone.weights=/path/to/that/file"
        )
    return (
        "Weights are never downloaded at run time: train them with `semcom backbone CONFIG --out "
        "FILE` and pass backbone.weights=FILE (or semcom:NAME for shipped ones)"
    )
