"""`semcom data mnist | cifar10 | image-folder` on generated files: output and failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

import semcom.cli as cli
from semcom.data import (
    write_cifar_torchvision,
    write_image_folder,
    write_mnist_raw,
    write_mnist_torchvision,
)


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consoles that never wrap, so messages with long paths can be matched."""
    monkeypatch.setattr(cli, "console", Console(width=1000))
    monkeypatch.setattr(cli, "err_console", Console(width=1000, stderr=True))


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli.app, ["data", *map(str, args)])


def test_mnist_prints_what_it_found(tmp_path: Path) -> None:
    write_mnist_torchvision(tmp_path, n_train=30, n_test=10)
    result = _run("mnist", "--root", tmp_path)
    assert result.exit_code == 0, result.output
    assert f"MNIST ready under {tmp_path}" in result.output
    assert "mnist: 10 classes, inputs 1×28×28" in result.output
    assert "train: 30 samples (0 3, 1 3, 2 3" in result.output
    assert "test: 10 samples (0 1, 1 1" in result.output


def test_mnist_raw_files_and_the_env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist_raw(tmp_path, n_train=20, n_test=10)
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path))
    result = _run("mnist")
    assert result.exit_code == 0 and "train: 20 samples" in result.output


def test_mnist_missing_exits_2_with_the_message(tmp_path: Path) -> None:
    result = _run("mnist", "--root", tmp_path / "none")
    assert result.exit_code == 2
    assert "error:" in result.output and "MNIST is not available" in result.output
    assert "simulated: no internet in tests" in result.output


def test_cifar10_prints_what_it_found(tmp_path: Path) -> None:
    folder = write_cifar_torchvision(tmp_path, n_train=20, n_test=10)
    result = _run("cifar10", "--root", tmp_path)
    assert result.exit_code == 0, result.output
    assert f"CIFAR-10 ready from {folder} (torchvision)" in result.output
    assert "cifar10: 10 classes, inputs 3×32×32" in result.output
    assert "train: 20 samples (airplane" in result.output


def test_cifar10_missing_exits_2(tmp_path: Path) -> None:
    result = _run("cifar10", "--root", tmp_path / "none")
    assert result.exit_code == 2 and "CIFAR-10 is not available" in result.output


@pytest.mark.parametrize("size", [["24", "16"], ["24x16"], ["24,16"]])
def test_image_folder_decodes_then_uses_the_cache(tmp_path: Path, size: list[str]) -> None:
    write_image_folder(tmp_path / "set", "train-val", n_train=4, n_test=2)
    args = ["image-folder", "--root", tmp_path / "set", "--image-size", *size, "--channels", "1"]
    first = _run(*args)
    assert first.exit_code == 0, first.output
    assert f"{tmp_path / 'set'}: train/ + val/; decoded into the cache" in first.output
    assert "image-folder: 3 classes, inputs 1×24×16 (C×H×W)" in first.output
    assert "train: 12 samples (ant 4, bee 4, cat 4)" in first.output
    assert "test: 6 samples (ant 2, bee 2, cat 2)" in first.output
    second = _run(*args)
    assert second.exit_code == 0 and "; from the cache" in second.output


def test_image_folder_single_folder_split_options(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "set", "classes", n_train=3, n_test=1)
    archive = shutil.make_archive(str(tmp_path / "set"), "gztar", tmp_path / "set")
    result = _run(
        "image-folder", "--root", archive, "--image-size", "8", "--test-fraction", "0.5",
        "--seed", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "class folders, split by test_fraction (0.5 per class to test, seed 3)" in result.output
    assert (
        "inputs 3×8×8" in result.output and "test: 6 samples (ant 2, bee 2, cat 2)" in result.output
    )


def test_image_folder_class_names_are_printed_verbatim(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train-test", classes=("[bold]x", "y"), n_train=1, n_test=1)
    result = _run("image-folder", "--root", tmp_path, "--image-size", "4")
    assert result.exit_code == 0 and "([bold]x 1, y 1)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channels", "2"], "channels must be 1 (grey) or 3 (RGB), got 2"),
        (["--image-size", "0x4"], "image_size must be"),
        (["--image-size", "4", "5", "6"], "unexpected argument(s): 5 6"),
        (["--test-fraction", "1.5"], "test_fraction must lie strictly in (0, 1)"),
    ],
)
def test_image_folder_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    write_image_folder(tmp_path, "classes", n_train=1, n_test=1)
    result = _run("image-folder", "--root", tmp_path, *args)
    assert result.exit_code == 2 and message in result.output


def test_image_folder_data_errors_exit_2(tmp_path: Path) -> None:
    missing = _run("image-folder", "--root", tmp_path / "none")
    assert missing.exit_code == 2 and f"{tmp_path / 'none'} does not exist" in missing.output
    write_image_folder(tmp_path / "d", "train-test", classes=("a", "b"), n_train=1, n_test=1)
    shutil.rmtree(tmp_path / "d" / "test" / "b")
    mismatch = _run("image-folder", "--root", tmp_path / "d")
    assert mismatch.exit_code == 2 and "test/ lacks 'b'" in mismatch.output
    assert _run("image-folder").exit_code == 2  # --root is required
