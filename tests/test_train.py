"""train.py end to end through its command line, on a small slice of the real data."""

import io
import os
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import train
from conv_network import ConvNetwork
from network import Network
from optimizers import SGD, make_optimizer
from support import command_line, progress
from support.model_files import load_history, load_model, save_model

from conftest import REPOSITORY, finish, is_png, line_starting_with, run_script, start_interruptible, write_dataset


@pytest.fixture(autouse=True)
def away_from_the_shipped_model(tmp_path, monkeypatch):
    """parse_arguments() looks at the default --weights and --results-dir: here those are in an empty folder, so
    that no test depends on the model_weights.npz a learner has in the repository."""
    monkeypatch.chdir(tmp_path)


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
    history, settings = load_history(tmp_path / "model.npz")  # the run's history and settings, saved with it
    assert [record["epoch"] for record in history] == [1, 2, 3] and settings["hidden_sizes"] == [64]
    assert all(len(record["step_losses"]) == record["steps"] == 20 for record in history)  # 2,500 images / 128
    dead_units = re.search(r"^Hidden units firing on fewer than 1% of the validation digits: \d+ of 64\b",
                           result.stdout, re.MULTILINE)  # fmt: skip
    assert dead_units, result.stdout
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
        ("--weights", "."),
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
    save_model(Network([784, 8, 10], seed=5), tmp_path / "model.npz")  # the finished model the user already has
    before = (tmp_path / "model.npz").read_bytes()
    process = start_interruptible(command)
    first_lines = [line_starting_with(process, "Training"), line_starting_with(process, "epoch")]
    process.send_signal(signal.SIGINT)
    rest, errors = finish(process)
    assert process.returncode == 130, errors
    assert first_lines[1].startswith("epoch")
    assert "interrupted (Ctrl-C)" in rest and "Test accuracy:" in rest
    kept = tmp_path / "model.interrupted.npz"
    assert f"Saved weights: {kept} (of the interrupted run; '{tmp_path / 'model.npz'}' was not changed)" in rest
    assert load_model(kept).layer_sizes == [784, 64, 10] and len(load_history(kept)[0]) >= 1
    assert (tmp_path / "model.npz").read_bytes() == before  # a finished model is never replaced by an interrupted one
    assert errors.strip().splitlines()[-1] == "Interrupted (Ctrl-C)." and "Traceback" not in errors


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
    own_validation = "validation_size" in train.PRESETS[name]  # run as written: best and cnn train on all images
    held_out = [] if own_validation else ["--validation-size", "500"]  # the default 10,000 is more than small_mnist
    result = run_script("train.py", "--preset", name, "--epochs", "1", "--data-dir", small_mnist, *held_out,
                        "--no-show", *outputs(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"preset '{name}'" in result.stdout and "Test accuracy:" in result.stdout
    assert ("(no validation set)" in result.stdout) == (train.PRESETS[name].get("validation_size") == 0)
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


# ----- each hyperparameter declared once, as a constant at the top of train.py -----------------------------


def test_help_lists_one_flag_per_constant():
    constants = command_line.read_constants(train.__file__, vars(train))
    result = run_script("train.py", "--help", env={**os.environ, "COLUMNS": "200"})  # one line per option
    assert result.returncode == 0, result.stderr
    first_flags = re.findall(r"^  (-[\w-]+)", result.stdout, re.MULTILINE)
    expected = [f"--{name.replace('_', '-')}" for name in constants]
    assert sorted(first_flags) == sorted(["-h", "--preset", "--no-show", *expected])
    # Python 3.13 names the value once after all spellings of a flag, older versions after each
    assert re.search(r"--hidden-sizes( N,N,\.\.\.)?, --hidden-size N,N,\.\.\.", result.stdout)
    assert "(comma-separated; default: 512)" in result.stdout and "(comma-separated; default: 32,64)" in result.stdout
    assert "step size of gradient descent at its peak (default: 0.1)" in result.stdout  # the comment is the help
    assert "keep the weights of the epoch with the best validation accuracy, not the last (default: off)" in (
        result.stdout
    )


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("init", ["he", "xavier", "small"])
def test_every_activation_and_initialization_trains(small_mnist, activation, init):
    import data_loader

    data = data_loader.load_training_data(small_mnist, 500)
    rate = "1" if activation == "sigmoid" else "0.3"  # sigmoid units learn slowly: their slope is at most 1/4
    args = train.parse_arguments(["--activation", activation, "--init", init, "--hidden-sizes", "32", "--epochs",
                                  "2", "--augment", "none", "--learning-rate", rate])  # fmt: skip
    network, optimizer = train.build_model(args, (28, 28))
    assert (network.activation, network.init) == (activation, init)
    history, _ = train.train(network, optimizer, *data, args, log=lambda line: None)
    assert history[-1]["val_accuracy"] > 0.5  # all of them learn on this shallow network


def test_hidden_size_is_an_alias_of_hidden_sizes():
    assert train.parse_arguments(["--hidden-size", "64"]).hidden_sizes == [64]
    assert train.parse_arguments(["--hidden-sizes", "64,32"]).hidden_sizes == [64, 32]


@pytest.mark.parametrize(
    "preset, message",
    [
        ({"hiden_sizes": [8]}, "PRESETS['fast'] in train.py sets 'hiden_sizes', which is not one of the constants"),
        ({"epochs": "5"}, "PRESETS['fast']['epochs'] in train.py: must be a whole number, not '5'"),
        ({"epochs": 2.5}, "PRESETS['fast']['epochs'] in train.py: must be a whole number, not 2.5"),
        ({"hidden_sizes": ["64"]}, "PRESETS['fast']['hidden_sizes'] in train.py: must be a whole number"),
        ({"learning_rate": True}, "PRESETS['fast']['learning_rate'] in train.py: must be a number, not True"),
        ({"dropout": 1.5}, "PRESETS['fast']['dropout'] in train.py: must be at least 0 and less than 1"),
    ],
)
def test_a_broken_preset_is_refused_by_name_when_it_is_chosen(monkeypatch, capsys, preset, message):
    monkeypatch.setattr(train, "PRESETS", {"fast": preset})
    assert train.parse_arguments([]).preset is None  # a preset nobody chose is not in the way
    with pytest.raises(SystemExit):
        train.parse_arguments(["--preset", "fast"])
    error_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error_line, error_line


def test_values_are_read_as_their_kind_in_presets_too(monkeypatch):
    monkeypatch.setattr(train, "PRESETS", {"fast": {"learning_rate": 1, "epochs": 3.0, "hidden_sizes": 64}})
    args = train.parse_arguments(["--preset", "fast"])
    assert (args.learning_rate, args.epochs, args.hidden_sizes) == (1.0, 3, [64])
    assert type(args.learning_rate) is float and type(args.epochs) is int


def test_flags_in_the_variables_own_spelling_work():
    args = train.parse_arguments(["--hidden_size", "32", "--learning_rate=0.2", "--keep_best"])
    assert (args.hidden_sizes, args.learning_rate, args.keep_best) == ([32], 0.2, True)


@pytest.mark.parametrize(
    "arguments, hint",
    [(["--hidden-sizes", "32", "64"], "a list is written with commas and no spaces: --hidden-sizes 32,64"),
     (["--hidden-size", "800", "800", "10"], "--hidden-size 800,800,10"),
     (["--lerning-rate", "0.1"], "did you mean --learning-rate?")],
)  # fmt: skip
def test_natural_slips_on_the_command_line_get_a_hint(capsys, arguments, hint):
    with pytest.raises(SystemExit):
        train.parse_arguments(arguments)
    error_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert error_line.startswith("train.py: error: unrecognized arguments") and hint in error_line, error_line


# ----- the progress line: on a terminal only ----------------------------------------------------------------


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal, as sys.stderr does in a console window."""

    def isatty(self):
        return True


def train_one_tiny_epoch(small_mnist, progress):
    """One epoch of 157 steps of a tiny network; returns the lines train() logged."""
    import data_loader

    data = data_loader.load_training_data(small_mnist, 500)
    args = train.parse_arguments(["--epochs", "1", "--hidden-size", "8", "--batch-size", "16", "--augment", "none"])
    lines = []
    train.train(Network([784, 8, 10], seed=0), make_optimizer("momentum"), *data, args, log=lines.append,
                progress=progress)  # fmt: skip
    return lines


def test_a_terminal_sees_the_progress_of_a_long_epoch_then_a_clean_epoch_line(small_mnist, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0)  # every epoch counts as long
    terminal = FakeTerminal()
    lines = train_one_tiny_epoch(small_mnist, progress.Progress(terminal))
    shown = terminal.getvalue()
    assert "\repoch 1/1 [###" in shown and "] 10/157 steps" in shown and "] 157/157 steps" in shown
    assert shown.endswith("\r" + " " * 79 + "\r")  # erased before the epoch line is written
    assert len(lines) == 1 and EPOCH_LINE.match(lines[0]), lines


def test_short_epochs_and_files_get_no_progress_line(small_mnist, monkeypatch):
    terminal, log_file = FakeTerminal(), io.StringIO()
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 1000)
    train_one_tiny_epoch(small_mnist, progress.Progress(terminal))
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0)
    train_one_tiny_epoch(small_mnist, progress.Progress(log_file))
    assert terminal.getvalue() == "" and log_file.getvalue() == ""


def run_without_figures(small_mnist, tmp_path, **popen_options):
    """train.main for one epoch in a new Python, every epoch counting as long and no figures drawn (they are slow)."""
    arguments = ["--data-dir", str(small_mnist), "--epochs", "1", *SMALL_RUN, *map(str, outputs(tmp_path))]
    code = (f"import train, support.progress\nsupport.progress.PROGRESS_AFTER_SECONDS = 0\n"
            f"train.draw_figures = lambda *arguments: None\ntrain.main({arguments!r})")  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPOSITORY, **popen_options)


def test_a_pipe_gets_no_progress_line(small_mnist, tmp_path):
    process = run_without_figures(small_mnist, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    assert "[#" not in output + errors and "\r" not in output + errors
    assert any(EPOCH_LINE.match(line) for line in output.splitlines())


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX-only")
def test_a_real_terminal_gets_the_progress_line(small_mnist, tmp_path):
    import pty

    controller, terminal = pty.openpty()
    process = run_without_figures(small_mnist, tmp_path, stdout=terminal, stderr=terminal)
    os.close(terminal)
    shown, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:  # a deadline: a program that never ends fails the test, never hangs it
        if not select.select([controller], [], [], deadline - time.monotonic())[0]:
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # Linux: the other end is closed
            break
        if not chunk:  # macOS: the other end is closed
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0, shown
    text = shown.decode()
    assert "epoch 1/1 [" in text
    visible_lines = [line.split("\r")[-1] for line in text.split("\r\n")]  # what is left after each \r
    assert any(EPOCH_LINE.match(line) for line in visible_lines), visible_lines


def test_ctrl_c_with_keep_best_still_keeps_the_best_epoch(small_mnist):
    import data_loader

    data = data_loader.load_training_data(small_mnist, 500)
    args = train.parse_arguments(["--epochs", "6", "--hidden-size", "16", "--learning-rate", "0.5",
                                  "--schedule", "constant", "--keep-best"])  # fmt: skip
    network, lines = Network([784, 16, 10], seed=0), []

    def log_then_ctrl_c_in_epoch_3(line):
        lines.append(line)
        if line.startswith("epoch 3/"):
            raise KeyboardInterrupt

    history, interrupted = train.train(network, make_optimizer("momentum"), *data, args, log=log_then_ctrl_c_in_epoch_3)
    assert interrupted and len(history) == 3
    best = max(record["val_accuracy"] for record in history[:2])  # epoch 3 was interrupted before it counted
    assert network.evaluate(data[2], data[3])[1] == best
    assert lines[-1].startswith("Keeping the weights of epoch")
