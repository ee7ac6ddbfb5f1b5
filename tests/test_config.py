"""Config validation: every error names the field and what is allowed."""

from __future__ import annotations

import pytest

from semcom.config import ConfigError, apply_overrides, expand_system, parse_config, resolve

BASE = {
    "experiment": "t",
    "systems": [{"name": "quantized-split", "channels": [2, 4], "bits": 2}, {"name": "local"}],
}


def test_minimal_config_gets_defaults() -> None:
    cfg = parse_config(BASE)
    assert cfg.data.name == "fashion-mnist"
    assert cfg.backbone.split_after == "layer2"
    assert cfg.eval.snr_db


def test_unknown_top_level_key_is_named_with_allowed_fields() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "trian": {}})
    msg = str(exc.value)
    assert "trian" in msg and "unknown field" in msg and "train" in msg


def test_unknown_nested_key_names_dotted_path_and_allowed() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "data": {"batchsize": 3}})
    msg = str(exc.value)
    assert "data.batchsize" in msg and "batch_size" in msg


def test_bad_value_names_field_and_value() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "data": {"batch_size": 0}})
    assert "data.batch_size" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "train": {"stages": [{"name": "s", "optimizer": "lbfgs"}]}})
    assert "train.stages.0.optimizer" in str(exc.value) and "adam" in str(exc.value)


def test_unknown_loss_term_lists_allowed_terms() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "train": {"stages": [{"name": "s", "losses": {"kl": 1.0}}]}})
    assert "kl" in str(exc.value) and "task" in str(exc.value) and "rate" in str(exc.value)


def test_unknown_system_lists_registered_names() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "systems": [{"name": "nope"}]})
    assert "nope" in str(exc.value) and "quantized-split" in str(exc.value)


def test_bad_system_parameter_is_named() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "systems": [{"name": "quantized-split", "chanels": 4}]})
    assert "chanels" in str(exc.value) and "channels" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "systems": [{"name": "quantized-split", "bits": [2, 99]}]})
    assert "bits" in str(exc.value)


def test_overrides_parse_yaml_values_and_list_indices() -> None:
    raw = apply_overrides(
        BASE, ["seed=7", "systems.0.bits=[2,4]", "eval.snr_db=[-5, 5]", "data.root=/x/y"]
    )
    cfg = parse_config(raw)
    assert cfg.seed == 7
    assert cfg.systems[0]["bits"] == [2, 4]
    assert cfg.eval.snr_db == [-5.0, 5.0]
    assert cfg.data.root == "/x/y"
    assert BASE["systems"][0]["bits"] == 2  # the input is not mutated


@pytest.mark.parametrize("bad", ["noequals", "systems.9.bits=2", "systems.x.bits=2", "=3"])
def test_bad_overrides_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError):
        resolve(BASE, [bad])


def test_expand_system_is_cartesian() -> None:
    variants = expand_system({"name": "quantized-split", "channels": [2, 4], "bits": [2, 4, 8]})
    assert len(variants) == 6
    assert {(v["channels"], v["bits"]) for v in variants} == {
        (c, b) for c in (2, 4) for b in (2, 4, 8)
    }


def test_quick_runs_a_few_snr_points_on_the_first_channels() -> None:
    from semcom.experiment import apply_quick

    base = {
        "experiment": "q",
        "systems": [{"name": "local"}],
        "eval": {"channel": [{"name": "awgn"}, {"name": "rayleigh"}], "snr_db": [-10, 0, 10, 20]},
    }
    cfg = resolve(base)
    assert apply_quick(cfg).eval.snr_db == [-10, 0, 10, 20]  # by default the whole sweep
    assert len(apply_quick(cfg).eval.channels()) == 2
    quick = apply_quick(resolve({**base, "quick": {"snr_db": [0], "channels": 1}}))
    assert quick.eval.snr_db == [0.0]
    assert [c["name"] for c in quick.eval.channels()] == ["awgn"]
    with pytest.raises(ConfigError, match="quick.channels"):
        resolve({**base, "quick": {"channels": 0}})


def test_warmup_needs_a_builtin_schedule_and_clipping_a_positive_norm() -> None:
    ok = parse_config(
        {**BASE, "train": {"stages": [{"name": "s", "schedule": "cosine", "warmup_epochs": 1}]}}
    )
    assert ok.train.stages[0].warmup_epochs == 1
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "train": {"backbone": {
            "schedule": {"name": "StepLR", "step_size": 5}, "warmup_epochs": 1}}})  # fmt: skip
    assert "train.backbone" in str(exc.value) and "cosine" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "train": {"stages": [{"name": "s", "grad_clip": 0}]}})
    assert "train.stages.0.grad_clip" in str(exc.value)
