"""ViT_STAE (issue 18): spatiotemporal attention-based semantic compression of video clips."""

from semcom.systems.stae.system import STAE, STAEParams

__all__ = ["STAE", "STAEParams"]
