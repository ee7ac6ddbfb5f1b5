"""Any torchvision classification model by name (``tv:<name>``), cut at a named graph node.

``torchvision_backbone("resnet18", 3, 10)`` builds ``torchvision.models.get_model("resnet18",
weights=None, num_classes=10)`` (random initialisation; weights are never downloaded — load a
local file with :func:`semcom.backbones.weights.load_backbone_weights`) and traces it with
``torch.fx`` the way :mod:`torchvision.models.feature_extraction` does (torchvision ops are leaf
modules), once in training and once in eval mode.

**Split points** are named like ``get_graph_node_names`` names the nodes (``layer2.1.relu_1``,
``features.6.add``), and a module path (``layer2``, ``features.6``,
``encoder.layers.encoder_layer_5``) stands for the last node inside that module, as in
``create_feature_extractor``. A node is a split point when it yields one tensor from which the
rest of the network can run alone: no other tensor computed before it is still needed after it
(the inside of a residual block or an Inception branch is not a split point; the block's output
is), no parameter or module is used on both sides, and it is not the output itself. Tensors that
do not depend on the input (a class token, a position embedding) are recomputed on whichever side
uses them. A name must be a split point in both the training and the eval graph.

``split(after)`` returns ``(head, tail)``, two ``nn.Sequential`` sharing parameters with the
model: ``head = [normalize, net]`` maps images ``[B, 3, H, W]`` in ``[0, 1]`` (ImageNet
normalisation first, as ``resnet50-imagenet`` does) to the node's output (``[B, C, h, w]`` for
convolutional stages, ``[B, N, D]`` for transformer tokens), ``tail = [net]`` maps that feature
to logits ``[B, num_classes]``. Each ``net`` is an ``fx.GraphModule`` holding torchvision's own
submodules under their own paths, so state-dict keys are ``net.<torchvision key>``: a
torchvision state dict's ``layer1.0.conv1.weight`` is ``head.net.layer1.0.conv1.weight``.
Models whose traced graph differs between training and eval mode (Swin, MaxViT) get a graph
module that switches graphs with ``train()`` / ``eval()``.

Every model takes 3-channel images. GoogLeNet and Inception-v3 are built without their
auxiliary classifiers (one output in training and eval).
"""

from __future__ import annotations

import inspect
import math
import operator
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast

import torch
import torchvision
from torch import fx, nn
from torchvision.models.feature_extraction import DualGraphModule, NodePathTracer

from semcom.backbones.base import Normalize, SplitBackbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: builder arguments that make a model a single classifier (no auxiliary heads in training).
_BUILD_KWARGS: dict[str, dict[str, bool]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}

#: the most names an error message lists before summarising.
_MAX_LISTED = 80

#: call targets whose result is never a tensor (shapes, checks).
_NON_TENSOR_FUNCTIONS: tuple[Callable[..., object], ...] = (getattr, len, torch._assert)
_NON_TENSOR_METHODS = frozenset({"size", "dim", "numel", "type", "__len__"})


def torchvision_classifiers() -> list[str]:
    """Names of torchvision's classification models (``list_models(module=torchvision.models)``)."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _leaf_modules() -> list[type[nn.Module]]:
    """torchvision's op modules (``Conv2dNormActivation``, ``StochasticDepth``, ...): traced as
    single nodes, as ``torchvision.models.feature_extraction`` does by default."""
    return [
        obj
        for _, obj in inspect.getmembers(torchvision.ops)
        if inspect.isclass(obj) and issubclass(obj, nn.Module)
    ]


@dataclass
class _Trace:
    """One traced graph (training or eval mode) and what is known about its nodes."""

    graph: fx.Graph
    #: node → feature-extraction name (``layer1.0.relu_1``).
    qualname: dict[fx.Node, str]
    #: name (node or module path) → node: a module path resolves to its last node.
    by_name: dict[str, fx.Node] = field(default_factory=dict)
    #: nodes after which the graph can be cut.
    cuts: set[fx.Node] = field(default_factory=set)
    #: node → position in execution order.
    index: dict[fx.Node, int] = field(default_factory=dict)


def _trace(model: nn.Module, training: bool) -> _Trace:
    """Trace ``model`` in one mode; dead nodes are removed before cut points are found."""
    was_training = model.training
    model.train(training)
    tracer = NodePathTracer(autowrap_modules=(math, torchvision.ops), leaf_modules=_leaf_modules())
    try:
        graph = tracer.trace(model)
    finally:
        model.train(was_training)
    _drop_dead_code(graph, model)
    nodes = list(graph.nodes)
    trace = _Trace(
        graph, {n: tracer.node_to_qualname[n] for n in nodes if n in tracer.node_to_qualname}
    )
    trace.index = {n: i for i, n in enumerate(nodes)}
    aliases: dict[str, fx.Node] = {}
    for node in nodes:
        name = trace.qualname.get(node)
        if name is None or node.op in ("placeholder", "output"):
            continue
        trace.by_name[name] = node
        parts = name.split(".")
        for depth in range(1, len(parts)):
            aliases[".".join(parts[:depth])] = node  # later nodes overwrite: the module's last
    for alias, node in aliases.items():
        trace.by_name.setdefault(alias, node)
    trace.cuts = _cut_points(model, graph)
    return trace


def _drop_dead_code(graph: fx.Graph, model: nn.Module) -> None:
    """Remove nodes whose value is unused and that have no side effect (``torch._assert``
    stays); ``graph`` is one of ``model``'s."""

    def impure(node: fx.Node) -> bool:
        if node.op == "call_module":
            return bool(getattr(model.get_submodule(str(node.target)), "_is_impure", False))
        return node.is_impure()

    graph.eliminate_dead_code(is_impure_node=impure)


def _cut_points(model: nn.Module, graph: fx.Graph) -> set[fx.Node]:
    """The nodes ``v`` such that the nodes after ``v`` need nothing computed before ``v`` but
    ``v`` itself and input-independent constants, and share no weights with the nodes up to
    ``v``."""
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    constant: dict[fx.Node, bool] = {}
    for n in nodes:
        constant[n] = n.op == "get_attr" or (
            n.op.startswith("call_") and all(constant[a] for a in n.all_input_nodes)
        )
    # cover[i] > 0: cutting after node i is invalid (difference array over cut positions).
    cover = [0] * (len(nodes) + 1)

    def block(first: int, last: int) -> None:  # cuts first .. last-1
        if last > first:
            cover[first] += 1
            cover[last] -= 1

    # constants: every input-dependent node that consumes them (directly or through constants).
    consumers: dict[fx.Node, tuple[int, int]] = {}
    for n in reversed(nodes):
        spans = [consumers[u] if constant[u] else (index[u], index[u]) for u in n.users]
        if spans:
            consumers[n] = (min(s[0] for s in spans), max(s[1] for s in spans))
        if constant[n]:
            if n in consumers:
                block(*consumers[n])  # a constant used on both sides would be duplicated
        elif n.users:
            block(index[n] + 1, max(index[u] for u in n.users))  # still needed later
    # weights (a module or parameter used at several places) must stay on one side.
    uses: dict[str, list[int]] = {}
    for n in nodes:
        if n.op == "call_module":
            module = model.get_submodule(str(n.target))
            if next(iter(module.state_dict()), None) is not None:
                uses.setdefault(str(n.target), []).append(index[n])
        elif n.op == "get_attr":
            uses.setdefault(str(n.target), []).append(consumers.get(n, (index[n], index[n]))[0])
    for positions in uses.values():
        block(min(positions), max(positions))
    output = next(n for n in nodes if n.op == "output")
    cuts: set[fx.Node] = set()
    covered = 0
    for i, n in enumerate(nodes):
        covered += cover[i]
        if covered or constant[n] or n.op in ("placeholder", "output"):
            continue
        if n in output.all_input_nodes or not _yields_tensor(n):
            continue
        cuts.add(n)
    return cuts


def _yields_tensor(node: fx.Node) -> bool:
    """Whether ``node`` can be a tensor (not a shape, a check, or a tuple unpacked later)."""
    if node.op == "call_function" and node.target in _NON_TENSOR_FUNCTIONS:
        return False
    if node.op == "call_method" and node.target in _NON_TENSOR_METHODS:
        return False
    unpacked = [
        u.op == "call_function" and u.target is operator.getitem and isinstance(u.args[1], int)
        for u in node.users
    ]
    return not (unpacked and all(unpacked))


def _head_graph(model: nn.Module, graph: fx.Graph, cut: fx.Node) -> fx.Graph:
    """The nodes up to ``cut``, returning ``cut``'s value."""
    head = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        env[node] = head.node_copy(node, lambda a: env[a])
        if node is cut:
            break
    head.output(env[cut])
    _drop_dead_code(head, model)
    head.lint()
    return head


def _tail_graph(model: nn.Module, graph: fx.Graph, cut: fx.Node) -> fx.Graph:
    """The nodes after ``cut``, fed ``cut``'s value as the placeholder ``feature``; constants
    from before the cut are recomputed."""
    tail = fx.Graph()
    env: dict[fx.Node, fx.Node] = {cut: tail.placeholder("feature")}

    def arg(node: fx.Node) -> fx.Node:
        if node not in env:  # an input-independent constant from before the cut
            env[node] = tail.node_copy(node, arg)
        return env[node]

    after = False
    for node in graph.nodes:
        if after:
            env[node] = tail.node_copy(node, arg)
        after = after or node is cut
    tail.lint()
    return tail


def _graph_module(
    model: nn.Module, train_graph: fx.Graph, eval_graph: fx.Graph | None
) -> fx.GraphModule:
    """A graph module over ``model``'s submodules (same objects, same paths); one that swaps
    graphs with the mode when ``eval_graph`` is given."""
    if eval_graph is None:
        gm = fx.GraphModule(model, train_graph, type(model).__name__)
    else:
        gm = DualGraphModule(model, train_graph, eval_graph, class_name=type(model).__name__)
    for module in gm.modules():  # tensors fx made into attributes are not weights
        for name in module._buffers:
            if name.startswith("_tensor_constant"):
                module._non_persistent_buffers_set.add(name)
    gm.train(model.training)
    return gm


def _attach_unused_state(model: nn.Module, parts: list[fx.GraphModule]) -> None:
    """Give the parts the model's state-dict tensors that no graph node uses (MaxViT's
    ``relative_position_index``, baked into its graph as a constant), under their own paths on
    the part holding most of that path, so that a torchvision state dict still loads."""
    have = {k for part in parts for k in part.state_dict()}
    for key, value in model.state_dict(keep_vars=True).items():
        if key in have:
            continue
        path = key.split(".")

        def depth(part: fx.GraphModule, path: list[str] = path) -> int:
            module: nn.Module = part
            for i, name in enumerate(path[:-1]):
                if not hasattr(module, name):
                    return i
                module = getattr(module, name)
            return len(path)

        module: nn.Module = max(reversed(parts), key=depth)  # the tail on a tie
        for name in path[:-1]:
            if not hasattr(module, name):
                module.add_module(name, nn.Module())
            module = getattr(module, name)
        if isinstance(value, nn.Parameter):
            module.register_parameter(path[-1], value)
        else:
            module.register_buffer(path[-1], value)


class TorchvisionSplitBackbone(SplitBackbone):
    """A torchvision classification model with split points at its graph nodes (module
    docstring). The whole network, ``[B, 3, H, W]`` in ``[0, 1]`` → ``[B, num_classes]``, is the
    single stage ``net`` (ImageNet normalisation, then the torchvision model).

    Args:
        name: the backbone's name, for messages (``tv:resnet18``).
        model: the torchvision model (any ``nn.Module`` ``torch.fx`` can trace).
    """

    def __init__(self, name: str, model: nn.Module) -> None:
        normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        super().__init__([("net", nn.Sequential(OrderedDict(normalize=normalize, model=model)))])
        self.name = name
        eval_trace = _trace(model, training=False)
        train_trace = _trace(model, training=True)
        same = eval_trace.graph.python_code("self").src == train_trace.graph.python_code("self").src
        self._traces = {False: eval_trace, True: train_trace}
        self._dual = not same
        self._points: list[str] = []
        self._module_points: list[str] = []
        names_at: dict[fx.Node, list[str]] = {}
        for alias, node in eval_trace.by_name.items():
            names_at.setdefault(node, []).append(alias)
        for node in eval_trace.graph.nodes:
            node_name = eval_trace.qualname.get(node)
            if node_name is None or node not in eval_trace.cuts:
                continue
            aliases = sorted(
                (a for a in names_at.get(node, []) if a != node_name), key=lambda a: -a.count(".")
            )
            points = [p for p in [node_name, *aliases] if self._resolve(p) is not None]
            self._points += points
            # a module's name stands for the node; a leaf module's node is named by itself
            named = [p for p in points if p != node_name]
            self._module_points += named or [p for p in points if node.op == "call_module"]
            self.aliases.update((p, node_name) for p in named)

    @property
    def model(self) -> nn.Module:
        """The torchvision model (the whole network after normalisation)."""
        net = cast(nn.Module, self.stages.net)
        return cast(nn.Module, net.model)

    @property
    def normalize(self) -> Normalize:
        """ImageNet normalisation of ``[B, 3, H, W]`` images in ``[0, 1]``."""
        net = cast(nn.Module, self.stages.net)
        return cast(Normalize, net.normalize)

    def _resolve(self, after: str) -> dict[bool, fx.Node] | None:
        """The node ``after`` names in each mode's graph, or ``None`` if it is not a split point
        in both."""
        found: dict[bool, fx.Node] = {}
        for mode, trace in self._traces.items():
            node = trace.by_name.get(after)
            if node is None or node not in trace.cuts:
                return None
            found[mode] = node
        return found

    @property
    def stage_names(self) -> list[str]:
        """Names of the graph's nodes (torchvision feature-extraction names), in execution order."""
        trace = self._traces[False]
        return [trace.qualname[n] for n in trace.graph.nodes if n in trace.qualname]

    @property
    def split_points(self) -> list[str]:
        """Every accepted ``split_after``, in execution order: each cut node's name followed by
        the module paths ending at it (``layer1.1.relu_1``, ``layer1.1``, ``layer1``)."""
        return list(self._points)

    @property
    def module_split_points(self) -> list[str]:
        """The split points that name a module (``layer2``, ``features.6``, ``avgpool``)."""
        return list(self._module_points)

    def _allowed(self) -> str:
        listed = self._module_points or self._points
        text = ", ".join(listed[:_MAX_LISTED])
        if len(listed) > _MAX_LISTED:
            text += f", ... ({len(listed)} modules)"
        modules = set(self._module_points)
        finer = [p for p in self._points if p not in modules]
        if finer and listed is self._module_points:
            text += (
                f"; or one of {len(finer)} graph nodes such as {', '.join(finer[:3])} "
                "(split_points lists them all)"
            )
        return text

    def check_split(self, after: str) -> int:
        """Position of node ``after`` in the eval graph; raises ``ValueError`` naming the allowed
        split points."""
        if self._resolve(after) is None:
            trace = self._traces[False]
            if after not in trace.by_name or after not in self._traces[True].by_name:
                why = f"is not a node or module of {self.name}"
            else:
                why = (
                    f"is not a split point of {self.name}: the rest of the network still needs "
                    "something computed before it (e.g. the input of a residual block), or it is "
                    "not one tensor"
                )
            raise ValueError(f"backbone.split_after={after!r} {why}; allowed: {self._allowed()}")
        return self._traces[False].index[self._traces[False].by_name[after]]

    def split(self, after: str) -> tuple[nn.Sequential, nn.Sequential]:
        """``(head, tail)``: ``head`` maps ``[B, 3, H, W]`` images to node ``after``'s output,
        ``tail`` that feature to logits ``[B, num_classes]``; both share the model's weights."""
        self.check_split(after)
        nodes = self._resolve(after)
        assert nodes is not None
        parts = []
        for cut_graph in (_head_graph, _tail_graph):
            train_graph = cut_graph(self.model, self._traces[True].graph, nodes[True])
            eval_graph = (
                cut_graph(self.model, self._traces[False].graph, nodes[False])
                if self._dual
                else None
            )
            parts.append(_graph_module(self.model, train_graph, eval_graph))
        _attach_unused_state(self.model, parts)
        head = nn.Sequential(OrderedDict(normalize=self.normalize, net=parts[0]))
        tail = nn.Sequential(OrderedDict(net=parts[1]))
        return head, tail

    @torch.no_grad()
    def feature_shape(self, after: str, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one input's feature after node ``after``: ``(C, H, W)`` for a convolutional
        stage, ``(N, D)`` for transformer tokens; ``input_shape`` is ``(3, H, W)``."""
        head, _ = self.split(after)
        was_training = self.model.training
        weight = next(self.model.parameters())
        head.eval()
        try:
            out = head(torch.zeros(1, *input_shape, device=weight.device, dtype=weight.dtype))
        except (RuntimeError, AssertionError, ValueError) as exc:
            raise ValueError(
                f"{self.name} cannot take inputs of shape {tuple(input_shape)}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        finally:
            head.train(was_training)
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"backbone.split_after={after!r} of {self.name} gives a {type(out).__name__}, "
                "not a tensor; choose another split point"
            )
        return tuple(out.shape[1:])


def torchvision_backbone(name: str, in_channels: int, num_classes: int) -> TorchvisionSplitBackbone:
    """torchvision's classification model ``name`` (random initialisation, never downloaded)
    for ``in_channels``-channel images (must be 3) and ``num_classes`` classes.

    >>> net = torchvision_backbone("resnet18", 3, 10)
    >>> net.feature_shape("layer2", (3, 64, 64))
    (128, 8, 8)
    >>> "layer2.0.conv2" in net.split_points, "layer2.0" in net.split_points
    (False, True)
    """
    known = torchvision_classifiers()
    if name not in known:
        raise ValueError(
            f"backbone.name='tv:{name}' is not a torchvision classification model; allowed: "
            + ", ".join(f"tv:{n}" for n in known)
        )
    if in_channels != 3:
        raise ValueError(
            f"tv:{name} takes 3-channel (RGB) images but the data has {in_channels} channel(s); "
            "use a CIFAR-style backbone (resnet20, resnet18, ...) for such data"
        )
    model = torchvision.models.get_model(
        name, weights=None, num_classes=num_classes, **_BUILD_KWARGS.get(name, {})
    )
    return TorchvisionSplitBackbone(f"tv:{name}", model)


def torchvision_builders() -> dict[str, Callable[[int, int], SplitBackbone]]:
    """``{"tv:<name>": builder}`` for every torchvision classification model."""
    return {f"tv:{n}": partial(torchvision_backbone, n) for n in torchvision_classifiers()}
