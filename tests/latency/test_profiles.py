"""Shipped profiles are sourced and plausible; get_profile accepts names, numbers, profiles."""

from __future__ import annotations

import dataclasses
import math

import pytest

from semcom.latency import PROFILES, THIS_CPU, ComputeProfile, get_profile, profile_names

SHIPPED = ("iot-mcu", "raspberry-pi-4", "jetson-nano", "edge-gpu")


def test_every_shipped_profile_is_sourced_and_positive() -> None:
    assert set(SHIPPED) <= set(PROFILES)
    for name, p in PROFILES.items():
        assert p.name == name
        assert p.flops_per_s > 0 and math.isfinite(p.flops_per_s)
        assert len(p.source) > 40 and p.description
        assert "assumed" in p.source  # peak -> effective: the utilisation is stated
        assert p.power_w is None or p.power_w > 0


def test_profiles_are_ordered_by_capability() -> None:
    speeds = [PROFILES[n].flops_per_s for n in SHIPPED]
    assert speeds == sorted(speeds)
    assert 1e8 <= speeds[0] < 1e9  # an MCU: sub-GFLOP/s
    assert 1e12 <= speeds[-1] < 1e14  # one edge GPU: TFLOP/s


def test_profiles_are_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["edge-gpu"].flops_per_s = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="flops_per_s"):
        ComputeProfile("bad", 0.0)
    with pytest.raises(ValueError, match="power_w"):
        ComputeProfile("bad", 1.0, power_w=-3.0)


def test_get_profile_by_name_number_or_object() -> None:
    assert get_profile("edge-gpu") is PROFILES["edge-gpu"]
    assert get_profile(PROFILES["iot-mcu"]) is PROFILES["iot-mcu"]
    assert get_profile(5e9).flops_per_s == 5e9
    assert get_profile(7).flops_per_s == 7.0
    assert get_profile("5e9").flops_per_s == 5e9  # a number in a config's list of names


def test_get_profile_errors_list_the_allowed_names() -> None:
    with pytest.raises(ValueError, match="allowed: iot-mcu") as err:
        get_profile("cray-1")
    for name in profile_names():
        assert name in str(err.value)
    for bad in (-5.0, 0, math.inf, "-1e9", "nan"):
        with pytest.raises(ValueError, match="> 0"):
            get_profile(bad)
    with pytest.raises(ValueError, match="ComputeProfile"):
        get_profile(True)
    with pytest.raises(ValueError):
        get_profile(None)  # type: ignore[arg-type]


def test_profile_names() -> None:
    assert profile_names()[: len(SHIPPED)] == list(SHIPPED)
    assert THIS_CPU == "this-cpu" and THIS_CPU in profile_names()
