"""train.py end to end through its command line, on a small slice of the real data."""

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import train
from conv_network import ConvNetwork
from model_files import load_model
from network import Network
from optimizers import SGD, make_optimizer

from conftest import REPOSITORY, is_png, run_script, write_dataset

EPOCH_LINE = re.compile(r"^epoch\s+\d+/\d+\s+loss \d+\.\d+\s+train \d+\.\d\d%\s+val \d+\.\d\d%.*\s\d+\.\d\ds$")
SMALL_RUN = ["--validation-size", "500", "--hidden-size", "64", "--no-show"]


def outputs(tmp_path):
    return ["--weights", tmp_path / "model.npz", "--results-dir", tmp_path / "results"]


def test_end_to_end(small_mnist, tmp_path):
    result = run_script("train.py", "--data-dir", small_mnist, "--epochs", "3", *SMALL_RUN, *outputs(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch")]
    assert len(epoch_lines) == 3 and all(EPOCH_LINE.match(line) for line in epoch_lines), epoch_lines
    accuracy = re.search(r"^Test accuracy: (\d+\.\d\d)%$", result.stdout, re.MULTILINE)
    assert accuracy and float(accuracy.group(1)) >= 80  # 2,500 images, 3 epochs: about 85%
    network = load_model(tmp_path / "model.npz")
    assert network.layer_sizes == [784, 64, 10]
    for name in ("predictions.png", "training_curves.png", "confusion_matrix.png", "confident_mistakes.png",
                 "hidden_units.png"):  # fmt: skip
        assert is_png(tmp_path / "results" / name)
        assert f"results{os.sep}{name}" in result.stdout  # the file names are printed
    assert result.stderr == ""
    assert re.search(r"^\s+9(\s+\d+){10}\s+\d+\.\d\d%$", result.stdout, re.MULTILINE)  # the confusion table


def test_training_is_reproducible_bit_for_bit(small_mnist):
    import data_loader

    data = data_loader.load_training_data(small_mnist, 500)
    args = train.parse_arguments(["--epochs", "2", "--hidden-size", "32", "--seed", "3"])
    weights = []
    for _ in range(2):
        network = Network([784, 32, 10], seed=args.seed)
        train.train(network, SGD(args.momentum), *data, args, log=lambda line: None)
        weights.append(network.parameters())
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "option, value",
    [
        ("--learning-rate", "0"),
        ("--learning-rate", "-0.1"),
        ("--learning-rate", "nan"),
        ("--batch-size", "0"),
        ("--hidden-size", "0"),
        ("--epochs", "0"),
        ("--epochs", "two"),
        ("--clip-norm", "-1"),
        ("--momentum", "1"),
        ("--schedule", "linear"),
        ("--augment", "twist"),
        ("--validation-size", "-1"),
        ("--dropout", "1"),
        ("--l2", "-0.1"),
        ("--optimizer", "lbfgs"),
        ("--hidden-sizes", "800,0"),
        ("--hidden-size", "many"),
        ("--preset", "fastest"),
        ("--weights", "tests"),
        ("--max-shift", "-1"),
        ("--weights", "no/such/folder/model.npz"),
    ],
)
def test_bad_options_are_refused_by_name(option, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_arguments([option, value])
    assert exit_info.value.code == 2
    error_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in error_line and option in error_line


def test_bad_option_through_the_command_line():
    result = run_script("train.py", "--learning-rate", "-1")
    assert result.returncode == 2
    assert "error: --learning-rate must be greater than 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_is_a_clean_error(tmp_path):
    result = run_script("train.py", "--data-dir", tmp_path / "empty", *outputs(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: data folder")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model.npz").exists()


def test_too_large_validation_set_is_a_clean_error(small_mnist, tmp_path):
    result = run_script("train.py", "--data-dir", small_mnist, "--validation-size", "3000", *outputs(tmp_path))
    assert result.returncode == 1
    assert "error: validation size 3000" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_saves_the_model_trained_so_far(small_mnist, tmp_path):
    command = [
        sys.executable,
        str(REPOSITORY / "train.py"),
        "--data-dir",
        str(small_mnist),
        "--epochs",
        "5000",
        *SMALL_RUN,
        *map(str, outputs(tmp_path)),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    first_lines = [process.stdout.readline(), process.stdout.readline()]  # the header and epoch 1
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert first_lines[1].startswith("epoch")
    assert "interrupted (Ctrl-C)" in rest and "Test accuracy:" in rest
    assert "Saved weights" in rest and "(of the interrupted run)" in rest
    load_model(tmp_path / "model.npz")
    assert "Traceback" not in errors


def test_keep_best_needs_a_validation_set(capsys):
    with pytest.raises(SystemExit):
        train.parse_arguments(["--keep-best", "--validation-size", "0"])
    assert "--keep-best needs a validation set" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(train.PRESETS))
def test_presets_parse_and_flags_override_them(name):
    args = train.parse_arguments(["--preset", name])
    for key, value in train.PRESETS[name].items():
        assert getattr(args, key) == value
    assert train.parse_arguments(["--preset", name, "--epochs", "2"]).epochs == 2


@pytest.mark.parametrize("name", sorted(train.PRESETS))
def test_a_tiny_run_of_each_preset(small_mnist, tmp_path, name):
    result = run_script("train.py", "--preset", name, "--epochs", "1", "--data-dir", small_mnist,
                        "--validation-size", "500", "--no-show", *outputs(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"preset '{name}'" in result.stdout and "Test accuracy:" in result.stdout
    args = train.parse_arguments(["--preset", name])
    model = load_model(tmp_path / "model.npz")
    assert isinstance(model, ConvNetwork) == (args.model == "cnn")
    if args.model == "cnn":
        assert model.conv_channels == args.conv_channels and model.hidden_sizes == args.hidden_sizes
    else:
        assert model.layer_sizes == [784, *args.hidden_sizes, 10]


def test_every_switch_at_once_through_the_command_line(small_mnist, tmp_path):
    result = run_script(
        "train.py", "--data-dir", small_mnist, "--validation-size", "0", "--epochs", "2", "--no-show",
        "--hidden-sizes", "48,24", "--optimizer", "adam", "--learning-rate", "0.002", "--l2", "1e-4",
        "--dropout", "0.2", "--augment", "elastic", "--schedule", "step", "--warmup-epochs", "0.5",
        "--clip-norm", "5", *outputs(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 2 and all("val -" in line for line in epoch_lines)
    assert "(no validation set)" in result.stdout
    assert load_model(tmp_path / "model.npz").layer_sizes == [784, 48, 24, 10]
    assert is_png(tmp_path / "results" / "augmented_samples.png")
    assert is_png(tmp_path / "results" / "training_curves.png")


def test_keep_best_restores_the_best_epoch(small_mnist):
    import data_loader

    data = data_loader.load_training_data(small_mnist, 500)
    args = train.parse_arguments(["--epochs", "6", "--hidden-size", "16", "--learning-rate", "0.5",
                                  "--schedule", "constant", "--keep-best"])  # fmt: skip
    network = Network([784, 16, 10], seed=0)
    lines = []
    history, _ = train.train(network, make_optimizer("momentum"), *data, args, log=lines.append)
    accuracies = [record["val_accuracy"] for record in history]
    best_epoch = int(np.argmax(accuracies)) + 1
    assert best_epoch < len(history)  # a too-high learning rate makes the last epoch worse than the best
    assert network.evaluate(data[2], data[3])[1] == max(accuracies)
    assert lines[-1].startswith(f"Keeping the weights of epoch {best_epoch}")


def test_a_non_square_data_set_trains_with_its_own_image_shape(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    images = np.zeros((300, 6, 9), np.uint8)
    for index, label in enumerate(labels):  # a bright column whose position tells the label
        images[index, 1:5, label % 9] = 255
        images[index, 0, 0] = rng.integers(0, 255)
    folder = write_dataset(tmp_path / "wide", images, labels, images[:50], labels[:50])
    result = run_script("train.py", "--data-dir", folder, "--validation-size", "50", "--epochs", "3",
                        "--hidden-size", "16", "--augment", "affine", "--no-show", *outputs(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert load_model(tmp_path / "model.npz").image_shape == (6, 9)
