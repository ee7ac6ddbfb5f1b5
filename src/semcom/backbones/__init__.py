"""semcom.backbones."""
