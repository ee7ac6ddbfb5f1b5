"""The names and limits FFMNet's systems and network share (no torchvision import: the network,
which imports it, is built only when a system is)."""

#: the sub-task names the heads answer (those of :mod:`semcom.data.multitask`).
DETECTION, SEGMENTATION = "detection", "segmentation"
#: trunk stages in order.
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
#: where the network may be cut (the fusion needs ``C3``, the stride-8 map, at the edge).
SPLIT_POINTS = ("layer1", "layer2")
#: the input's sides must be multiples of this (the stride of ``C5``).
INPUT_MULTIPLE = 32
