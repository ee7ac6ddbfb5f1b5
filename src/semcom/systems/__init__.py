"""Co-inference systems behind one contract (:class:`SplitSystem`), registered by name.

Importing this package registers every built-in system.
"""

from semcom.systems import (  # noqa: F401  (registration side effects)
    aecnn,
    bottlenet,
    clip_split,
    deepisc,
    det_split,
    ffmnet,
    local,
    lssc,
    offload,
    offload_video,
    quantized_split,
    seg_split,
    separate_coding,
    stae,
)
from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import (
    BuildContext,
    DeviceExportError,
    LinkKindError,
    SplitSystem,
    SystemOutput,
    SystemParams,
    apply_train_mode,
    set_trainable,
)
from semcom.systems.registry import (
    SystemConfigError,
    build_system,
    register_system,
    system_class,
    system_names,
    validate_params,
)

__all__ = [
    "BackboneSplitSystem",
    "BuildContext",
    "DeviceExportError",
    "LinkKindError",
    "SplitSystem",
    "SystemConfigError",
    "SystemOutput",
    "SystemParams",
    "apply_train_mode",
    "build_system",
    "register_system",
    "set_trainable",
    "system_class",
    "system_names",
    "validate_params",
]
