"""FFMNet (joint detection + segmentation) and what it is compared with: the unsplit networks
(``ffmnet``, ``det-only``, ``seg-only``, ``mtl-hardshare``), the analog split by deep JSCC
(``ffmnet-jscc``) and the digital split (``ffmnet-digital``). Importing registers them."""

from semcom.systems.ffmnet import digital, jscc, separate, unsplit  # noqa: F401  (registration)
from semcom.systems.ffmnet.family import FFMNetFamily, FFMNetParams

__all__ = ["FFMNetFamily", "FFMNetParams"]
