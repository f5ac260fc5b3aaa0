"""experiments.py through its command line, on tiny sizes: every experiment draws its figure and says what came out,
a run that blows up is drawn and does not end the experiment, bad options get one error line, Ctrl-C ends cleanly."""

import re
import select
import signal
import subprocess
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

import experiments

from conftest import REPOSITORY, is_png, read_real, run_script, start_interruptible

TINY = ["--images", "300", "--epochs", "2", "--validation-images", "300", "--no-show"]
RUNS = {  # how many runs each experiment reports, one line each
    "optimizers": len(experiments.OPTIMIZER_RATES),
    "learning-rates": len(experiments.LEARNING_RATES),
    "batch-sizes": len(experiments.BATCH_SIZES),
    "initialization": len(experiments.STARTS),
    "overfitting": len(experiments.REGULARIZATIONS),
    "optimizer-paths": len(experiments.PATH_RATES),
}
TRAINING_RUN_LINE = re.compile(
    r"^  \S.*  (validation accuracy \d+\.\d\d% after \d+ epochs?|stopped( after \d+ steps?)?: (diverged|not learning))"
    r" +\d+\.\d s$"
)
PATH_LINE = re.compile(r"^  \S.* after \d+ steps at \(x, y\) = \(-?\d+\.\d\d, -?\d+\.\d\d\), f = \S+$")


def run_experiments(*arguments, data, results, size=TINY):
    return run_script("experiments.py", *arguments, *size, "--data-dir", data, "--results-dir", results, timeout=120)


@pytest.fixture(scope="module")
def tiny_runs(small_mnist, tmp_path_factory):
    """Each experiment run once through its command line on tiny sizes: {name: (result, results folder)}, made as
    the tests ask for them."""
    runs = {}

    def run(name):
        if name not in runs:
            results = tmp_path_factory.mktemp(name)
            runs[name] = run_experiments(name, data=small_mnist, results=results), results
        return runs[name]

    return run


def run_lines(output):
    """The lines that report one run each: they start with two spaces."""
    return [line for line in output.splitlines() if line.startswith("  ")]


def assert_reported(output, name, results):
    """The experiment said what it compares, one line per run, saved its figure and said how long it took."""
    lines = output.splitlines()
    header = lines.index(next(line for line in lines if line.startswith(f"{name}: ")))
    own_lines = lines[header + 1 : header + 1 + RUNS[name]]
    pattern = PATH_LINE if name == "optimizer-paths" else TRAINING_RUN_LINE
    assert all(pattern.match(line) for line in own_lines), "\n".join(own_lines)
    assert lines[header + 1 + RUNS[name]] == f"Saved figure: {results / f'{name}.png'}"
    assert re.fullmatch(rf"{name} took \d+\.\d s", lines[header + 2 + RUNS[name]])
    assert is_png(results / f"{name}.png")


@pytest.mark.parametrize("name", list(RUNS))
def test_each_experiment_draws_its_figure_and_reports_every_run(name, tiny_runs):
    result, results = tiny_runs(name)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_reported(result.stdout, name, results)
    assert len(run_lines(result.stdout)) == RUNS[name]
    assert [path.name for path in results.iterdir()] == [f"{name}.png"]


def test_a_run_that_blows_up_is_drawn_and_the_experiment_goes_on(tiny_runs):
    result, results = tiny_runs("learning-rates")
    assert result.returncode == 0, result.stderr
    largest = run_lines(result.stdout)[-1]
    assert largest.startswith(f"  lr {experiments.LEARNING_RATES[-1]:g} ")
    assert re.search(r"stopped after \d+ steps?: diverged", largest), largest
    assert is_png(results / "learning-rates.png")


def test_a_failed_run_ends_its_curve_with_an_x_where_it_stopped():
    failed = experiments.Run("lr 10", [], "diverged", 0.1, [2.3, 50.0, 900.0, float("nan")], [])
    figure, axis = plt.subplots()
    drawn = experiments.draw_watched_losses(axis, failed, "red")
    marks = [line for line in axis.get_lines() if line.get_marker() == "x"]
    assert drawn == [2.3, 50.0, 900.0]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [3] and list(marks[0].get_ydata()) == [900.0]
    assert axis.get_lines()[0].get_label() == "lr 10 (stopped: diverged)"
    finished = experiments.Run("lr 0.1", [], "", 0.1, [2.3, 1.0, 0.5], [])
    experiments.draw_watched_losses(axis, finished, "green")
    assert len([line for line in axis.get_lines() if line.get_marker() == "x"]) == 1  # no x for a finished run
    plt.close(figure)


def test_a_failed_run_without_a_history_is_drawn_by_every_kind_of_panel():
    failed = experiments.Run("adam, lr 0.001", [], "not learning", 0.1, [], [])
    figure, axis = plt.subplots()
    assert experiments.draw_step_losses(axis, failed, "red") == []
    for x in ("epoch", "steps", "seconds"):
        experiments.draw_validation_accuracy(axis, failed, "red", x)
    assert axis.get_legend_handles_labels()[1][0] == "adam, lr 0.001 (stopped: not learning)"
    plt.close(figure)


def tiny_setup(seed=0, epochs=2):
    images = read_real("train_images")[:600].reshape(600, 784) / np.float32(255)
    labels = read_real("train_labels")[:600].astype(np.int64)
    return experiments.Setup(images[:400], labels[:400], images[400:], labels[400:], (28, 28), epochs, seed)


def test_the_same_seed_gives_the_same_run(capsys):
    setup = tiny_setup()
    settings = experiments.run_settings(setup, optimizer="adam", learning_rate=0.001)
    first, second = (experiments.train_run("adam", settings, setup, watch=True) for _ in range(2))
    assert first.failure == "" and len(first.history) == 2
    assert [record["step_losses"] for record in first.history] == [record["step_losses"] for record in second.history]
    assert [record["val_accuracy"] for record in first.history] == [record["val_accuracy"] for record in second.history]
    assert first.watched_losses == second.watched_losses and len(first.watched_losses) == 2 * 4  # 400 / 128: 4 steps
    other_seed = tiny_setup(seed=1)
    third = experiments.train_run("adam", experiments.run_settings(other_seed, optimizer="adam", learning_rate=0.001),
                                  other_seed)  # fmt: skip
    assert [record["step_losses"] for record in third.history] != [record["step_losses"] for record in first.history]


def test_a_run_has_train_py_settings_with_the_experiments_changes():
    setup = tiny_setup(seed=7, epochs=3)
    settings = experiments.run_settings(setup, batch_size=32)
    assert (settings.seed, settings.epochs, settings.batch_size) == (7, 3, 32)
    assert (settings.hidden_sizes, settings.augment, settings.schedule) == ([128], "none", "constant")
    assert settings.optimizer == "momentum" and settings.learning_rate == 0.1  # the rest: train.py's constants


def test_training_accuracy_is_measured_after_every_epoch_on_the_images_as_they_are(capsys):
    setup = tiny_setup(epochs=3)
    run = experiments.train_run("dropout", experiments.run_settings(setup, dropout=0.5), setup,
                                measure_training_accuracy=True)  # fmt: skip
    assert len(run.training_accuracies) == len(run.history) == 3
    during_training = [record["train_accuracy"] for record in run.history]  # with half the units switched off
    assert all(after > during for after, during in zip(run.training_accuracies, during_training))


def test_the_optimizer_paths_use_the_projects_optimizers_and_reach_the_valley_floor():
    for name, rate in experiments.PATH_RATES.items():
        path = experiments.descend(name, rate)
        assert path.shape == (experiments.PATH_STEPS + 1, 2)
        assert tuple(path[0]) == experiments.START
        assert experiments.valley(*path[-1]) < experiments.valley(*path[0]) / 20, name
    sgd = experiments.descend("sgd", experiments.PATH_RATES["sgd"])
    assert np.all(np.sign(sgd[1:8, 1]) != np.sign(sgd[:7, 1]))  # zigzags across the valley at every step
    rmsprop = experiments.descend("rmsprop", experiments.PATH_RATES["rmsprop"])
    assert abs(rmsprop[-1, 1]) < 0.01  # heads down the valley floor


def test_all_runs_every_experiment_in_turn(small_mnist, tmp_path):
    smallest = ["--images", "100", "--epochs", "1", "--validation-images", "100", "--no-show"]
    result = run_experiments("all", data=small_mnist, results=tmp_path, size=smallest)
    assert result.returncode == 0, result.stderr
    for name in RUNS:
        assert_reported(result.stdout, name, tmp_path)
    assert len(run_lines(result.stdout)) == sum(RUNS.values())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{name}.png" for name in RUNS)


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["overfiting"], "NAME"),
        (["optimizers", "--images", "0"], "--images"),
        (["optimizers", "--images", "many"], "--images"),
        (["optimizers", "--epochs", "-3"], "--epochs"),
        (["optimizers", "--epochs", "2.5"], "--epochs"),
        (["optimizers", "--seed", "-1"], "--seed"),
        (["optimizers", "--validation-images", "0"], "--validation-images"),
        (["optimizers", "--colour"], "--colour"),
        ([], "NAME"),
    ],
)
def test_bad_options_are_refused_with_one_error_line_naming_them(arguments, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(arguments)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and named in error_lines[0], error_lines


def test_a_bad_option_through_the_command_line_is_one_error_line_and_status_2():
    result = run_script("experiments.py", "optimizers", "--epochs", "0", timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert error_lines == ["experiments.py: error: argument --epochs: must be from 1 to 10,000, not 0"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--data-dir", "no such folder"], "--data-dir no such folder: data folder 'no such folder' does not exist"),
        (["--validation-images", "3000"], "--validation-images 3,000: must be fewer than the 3,000 training images"),
        (["--images", "2800"], "--images 2,800: there are only 2,700 training images besides the 300 validation"),
    ],
)
def test_options_that_do_not_fit_the_data_are_refused_before_any_run(arguments, named, small_mnist, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["optimizers", "--data-dir", str(small_mnist), "--validation-images", "300",
                          "--results-dir", str(tmp_path), *arguments])  # fmt: skip
    assert exit_info.value.code == 2
    output = capsys.readouterr()
    error_lines = [line for line in output.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and named in error_lines[0], error_lines
    assert output.out == "" and not any(tmp_path.iterdir())


def test_a_figure_that_cannot_be_written_is_refused_before_any_run(small_mnist, tmp_path, capsys):
    (tmp_path / "overfitting.png").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["all", "--data-dir", str(small_mnist), "--results-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    output = capsys.readouterr()
    error_lines = [line for line in output.err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "--results-dir" in error_lines[0] and "overfitting.png" in error_lines[0]
    assert output.out == ""


def test_help_lists_every_experiment_and_the_options_for_tiny_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in [*RUNS, "all", "--images", "--epochs", "--validation-images", "--seed", "--no-show"]:
        assert name in text


def lines_until(process, prefix, seconds=60):
    """Read the process's output until a line starts with `prefix`; fail (never hang) if it ends first or takes
    longer than `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else ""
        if line.startswith(prefix):
            return line
        if ready and not line:  # the end of the output: the program has ended
            break
    process.kill()
    pytest.fail(f"no line starting with {prefix!r}: {process.communicate(timeout=10)}")


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_ends_an_experiment_cleanly(small_mnist, tmp_path):
    command = [sys.executable, str(REPOSITORY / "experiments.py"), "all", "--images", "2000", "--epochs", "1000",
               "--validation-images", "300", "--data-dir", str(small_mnist), "--results-dir", str(tmp_path),
               "--no-show"]  # fmt: skip
    process = start_interruptible(command)
    lines_until(process, "optimizers: ")  # the data is loaded and the first run has started
    time.sleep(0.5)  # well inside the first run's training loop
    process.send_signal(signal.SIGINT)
    try:
        output, errors = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running 60 s after Ctrl-C: {process.communicate(timeout=10)}")
    assert process.returncode == 130, errors
    assert errors.strip().splitlines()[-1] == "Interrupted (Ctrl-C)." and "Traceback" not in errors
    assert "Saved figure" not in output and not any(tmp_path.iterdir())
