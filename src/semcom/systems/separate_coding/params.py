"""Parameters of the separate-coding baselines ``capacity`` and ``sscc``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from semcom.sscc.mcs import parse_rate
from semcom.sscc.source import SOURCE_NAMES, check_source_name
from semcom.systems.base import SystemParams

#: parameters that only the ``features`` source uses (field name → config name).
FEATURE_FIELDS = {
    "channels": "channels",
    "bits": "bits",
    "downsample": "downsample",
    "rate_weight": "lambda",
}


class CapacityParams(SystemParams):
    """Parameters of ``capacity``."""

    source: Literal["jpeg", "webp", "features"] = Field(
        "jpeg",
        description="source coder: jpeg | webp (the image) | features (a learned feature code)",
    )
    cbr: float = Field(
        0.25, gt=0, le=16, description="channel uses per source element: n_cu = round(cbr·C·H·W)"
    )
    # source: features only (systems/sscc_features.py)
    channels: int | None = Field(None, ge=1, le=255, description="features: code planes (8)")
    bits: int | None = Field(None, ge=1, le=8, description="features: quantiser bits (2)")
    downsample: Literal[1, 2, 4] | None = Field(None, description="features: code stride (2)")
    rate_weight: float | None = Field(
        None, ge=0, alias="lambda", description="features: overrides the stages' rate weight"
    )

    _source = field_validator("source")(check_source_name)

    @model_validator(mode="after")
    def _feature_fields(self) -> CapacityParams:
        if self.source != "features":
            given = [
                alias for name, alias in FEATURE_FIELDS.items() if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: apply to source 'features' only, and source is "
                    f"{self.source!r} (allowed sources: {', '.join(SOURCE_NAMES)})"
                )
        return self


class SSCCParams(CapacityParams):
    """Parameters of ``sscc``."""

    ldpc_rate: float = Field(0.5, description="5G LDPC code rate: 1/3, 1/2, 2/3, 3/4 or 5/6")
    qam: Literal[4, 16, 64] = Field(16, description="QAM order")
    on_error: Literal["drop", "zero-fill"] = Field(
        "drop", description="a failed codeword: drop the sample, or zero its bytes and decode"
    )
    bp_iterations: int = Field(20, ge=1, le=200, description="maximum LDPC BP iterations")

    @field_validator("ldpc_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"ldpc_rate must be a number such as 0.5 or '1/2', got {value!r}")
        return parse_rate(value)
