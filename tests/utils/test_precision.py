"""precision auto: bfloat16 only where native; an explicit bf16 on emulating hardware warns."""

import pytest

from svdgan.config import load_config
from svdgan.errors import UserError
from svdgan.utils import hardware, precision


@pytest.fixture
def no_native(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")


@pytest.fixture
def native(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")


def test_auto_is_fp32_without_native_bf16_and_says_why(no_native, capsys):
    assert precision.resolve_precision("auto") == "fp32"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "auto -> fp32" in err and "emulated" in err


def test_auto_is_bf16_with_native_support(native, capsys):
    assert precision.resolve_precision("auto") == "bf16"
    assert "auto -> bf16" in capsys.readouterr().err and precision.native_bf16()[0]


def test_explicit_bf16_runs_after_a_warning_only_where_emulated(no_native, capsys):
    assert precision.resolve_precision("bf16") == "bf16"
    assert "warning" in capsys.readouterr().err
    assert precision.resolve_precision("fp32") == "fp32" and capsys.readouterr().err == ""


def test_explicit_bf16_on_native_hardware_is_silent(native, capsys):
    assert precision.resolve_precision("bf16") == "bf16" and capsys.readouterr().err == ""


def test_bad_precision_is_a_user_error():
    with pytest.raises(UserError):
        precision.resolve_precision("fp16")
    with pytest.raises(UserError, match="train.precision"):
        load_config(overrides=["train.precision=half"])


def test_training_and_recipe_default_to_auto():
    assert load_config().train.precision == "auto"
    assert load_config("configs/ped2.yaml").train.precision == "auto"
