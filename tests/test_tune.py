"""tune.py through its command line: it searches, ranks on validation, saves, and never reads the test set."""

import csv
import signal
import sys

import numpy as np
import pytest

import tune

from conftest import (
    REPOSITORY,
    finish,
    is_png,
    line_starting_with,
    read_real,
    run_script,
    start_interruptible,
    write_dataset,
)

TINY_SEARCH = ["--hidden-sizes", "16", "--batch-sizes", "64", "--epochs", "1", "--validation-size", "500",
               "--no-show"]  # fmt: skip


def read_table(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_tiny_search_end_to_end(small_mnist, tmp_path):
    result = run_script("tune.py", "--learning-rates", "0.01,0.3", *TINY_SEARCH, "--data-dir", small_mnist,
                        "--results-dir", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("trial ") == 2 and "Estimated total time" in result.stdout
    rows = read_table(tmp_path / "tuning.csv")
    assert [row["rank"] for row in rows] == ["1", "2"]
    accuracies = [float(row["val_accuracy"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] > 0.5
    best = rows[0]
    assert f"learning_rate = {float(best['learning_rate']):g}" in result.stdout
    assert "    hidden_sizes = [16]" in result.stdout and "    batch_size = 64" in result.stdout
    assert f"python train.py --learning-rate {float(best['learning_rate']):g} --hidden-size 16 --batch-size 64" in (
        result.stdout
    )
    assert is_png(tmp_path / "tuning.png")


def test_the_test_set_is_never_read(small_mnist, tmp_path):
    """A data folder whose test files are garbage still tunes: the search only ever reads the training files."""
    folder = write_dataset(tmp_path / "data", read_real("train_images")[:1500], read_real("train_labels")[:1500],
                           read_real("test_images")[:10], read_real("test_labels")[:10])  # fmt: skip
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"corrupted")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    result = run_script("tune.py", "--learning-rates", "0.1", *TINY_SEARCH, "--data-dir", folder,
                        "--results-dir", tmp_path / "out")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(read_table(tmp_path / "out" / "tuning.csv")) == 1


def test_diverged_trials_are_reported_and_the_search_goes_on(small_mnist, tmp_path):
    result = run_script("tune.py", "--learning-rates", "1000,0.1", *TINY_SEARCH, "--data-dir", small_mnist,
                        "--results-dir", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_table(tmp_path / "tuning.csv")
    assert [(row["rank"], row["status"]) for row in rows] == [("1", "ok"), ("-", "diverged")]
    assert "diverged" in result.stdout.splitlines()[1]  # the first trial's progress line


def test_random_search_draws_within_the_ranges():
    args = tune.parse_arguments(["--trials", "50", "--learning-rates", "0.01,1", "--hidden-sizes", "8,16",
                                 "--batch-sizes", "32"])  # fmt: skip
    settings = tune.settings_to_try(args)
    assert len(settings) == 50
    rates = [rate for rate, _, _ in settings]
    assert min(rates) >= 0.01 and max(rates) <= 1
    assert sum(rate < 0.1 for rate in rates) > 10  # log-uniform: 0.01-0.1 is as likely as 0.1-1
    assert {hidden for _, hidden, _ in settings} == {8, 16} and {batch for *_, batch in settings} == {32}
    assert settings == tune.settings_to_try(args)  # seeded


def test_grid_is_every_combination():
    args = tune.parse_arguments([])
    assert len(tune.settings_to_try(args)) == 27  # the default search: 3 x 3 x 3


@pytest.mark.parametrize("option, value", [("--learning-rates", "0.1,-1"), ("--hidden-sizes", "0"),
                                           ("--batch-sizes", "x"), ("--epochs", "0"), ("--trials", "-2")])  # fmt: skip
def test_bad_options(option, value, capsys):
    with pytest.raises(SystemExit):
        tune.parse_arguments([option, value])
    assert option in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_ranks_the_trials_done_and_keeps_the_finished_search(small_mnist, tmp_path):
    (tmp_path / "tuning.csv").write_text("the table of a finished search, three rows long")
    command = [sys.executable, str(REPOSITORY / "tune.py"), "--trials", "500", "--learning-rates", "0.05,0.2",
               *TINY_SEARCH, "--data-dir", str(small_mnist), "--results-dir", str(tmp_path)]  # fmt: skip
    process = start_interruptible(command)
    line_starting_with(process, "trial")
    process.send_signal(signal.SIGINT)
    output, errors = finish(process)
    assert process.returncode == 130, errors
    assert "Search interrupted (Ctrl-C)" in output and "rank  learning rate" in output
    rows = read_table(tmp_path / "tuning.interrupted.csv")
    assert 1 <= len(rows) < 500 and is_png(tmp_path / "tuning.interrupted.png")
    assert (tmp_path / "tuning.csv").read_text() == "the table of a finished search, three rows long"
    assert "tuning.csv and tuning.png in" in output and "were not changed" in output
    assert "Traceback" not in errors


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_during_the_first_trial_keeps_the_old_results(small_mnist, tmp_path):
    (tmp_path / "tuning.csv").write_text("the last search's table")
    (tmp_path / "tuning.png").write_bytes(b"the last search's figure")
    command = [sys.executable, str(REPOSITORY / "tune.py"), "--learning-rates", "0.1", "--hidden-sizes", "2048",
               "--batch-sizes", "128", "--epochs", "50", "--validation-size", "500", "--no-show",
               "--data-dir", str(small_mnist), "--results-dir", str(tmp_path)]  # fmt: skip
    process = start_interruptible(command)
    header = line_starting_with(process, "Tuning:")  # printed once the data is loaded, as the first trial starts
    process.send_signal(signal.SIGINT)
    output, errors = finish(process)
    assert header.startswith("Tuning: grid search of 1 setting,")
    assert process.returncode == 130, errors
    assert "trial 1/1" not in output and "Traceback" not in errors
    assert "No trial finished" in errors or "Interrupted (Ctrl-C)" in errors  # in a trial, or just before it
    assert (tmp_path / "tuning.csv").read_text() == "the last search's table"
    assert (tmp_path / "tuning.png").read_bytes() == b"the last search's figure"


def test_a_negative_seed_is_a_clean_error():
    result = run_script("tune.py", "--seed", "-1")
    assert result.returncode == 2
    assert "error: --seed must be a whole number from 0" in result.stderr and "Traceback" not in result.stderr


def test_too_small_learning_rates_are_reported_as_not_learning(small_mnist, tmp_path):
    result = run_script("tune.py", "--learning-rates", "1e-6", *TINY_SEARCH, "--data-dir", small_mnist,
                        "--results-dir", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [row["status"] for row in read_table(tmp_path / "tuning.csv")] == ["not learning"]
    assert "No trial learned" in result.stdout and "the learning rates (up to 1e-06) were too small" in result.stdout
    assert "too large" not in result.stdout and "Paste at the top" not in result.stdout


@pytest.mark.parametrize(
    "trials, options, train_count, advice",
    [([(0.5, "diverged"), (3, "diverged")], [], 2500, "learning rates of 0.5 and above were too large"),
     ([(1e-6, "not learning")], [], 2500, "the learning rates (up to 1e-06) were too small: try larger ones"),
     ([(0.1, "not learning")], ["--epochs", "1", "--batch-sizes", "1000"], 2500, "the trials were too short (at most "
      "3 gradient steps each)"),
     ([(0.1, "not learning")], [], 40, "40 training images are too few"),
     ([(0.1, "not learning")], [], 2500, "check the data (--data-dir)"),
     ([(1e-6, "not learning"), (5, "diverged")], [], 2500, "the learning rates 1e-06 did not learn and 5 diverged")],
)  # fmt: skip
def test_failure_advice_reads_the_evidence(trials, options, train_count, advice):
    results = [{"learning_rate": rate, "status": status} for rate, status in trials]
    text = tune.failure_advice(results, tune.parse_arguments(options), train_count)
    assert advice in text, text
    assert ("too small" in text) == ("too small" in advice)  # never blames the rates for what the batches did


def test_a_search_too_large_to_run_is_refused_before_it_is_built(capsys):
    many = ",".join(str(0.001 * number) for number in range(1, 1001))
    sizes = ",".join(str(number) for number in range(1, 101))
    with pytest.raises(SystemExit):
        tune.parse_arguments(["--learning-rates", many, "--hidden-sizes", sizes, "--batch-sizes", "1,2"])
    assert "make a grid of 200,000 settings, more than the 10,000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tune.parse_arguments(["--trials", "1000000000"])
    assert "--trials must be from 0 to 10,000" in capsys.readouterr().err


def test_data_that_shows_one_digit_is_refused_as_train_py_refuses_it(tmp_path):
    labels = np.full(300, 7, np.uint8)
    folder = write_dataset(tmp_path / "sevens", read_real("train_images")[:300], labels,
                           read_real("test_images")[:10], read_real("test_labels")[:10])  # fmt: skip
    result = run_script("tune.py", "--data-dir", folder, "--validation-size", "100", *TINY_SEARCH[:-3], "--no-show",
                        "--results-dir", tmp_path / "out", timeout=60)  # fmt: skip
    assert result.returncode == 1 and "show only the digit 7" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "tuning.csv").exists()


def test_train_py_settings_that_do_not_fit_the_data_are_not_blamed_on_a_missing_flag(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (300, 1, 1), dtype=np.uint8)  # 1x1 pictures
    labels = np.arange(300) % 10
    folder = write_dataset(tmp_path / "dots", images, labels, images[:10], labels[:10])
    result = run_script("tune.py", "--data-dir", folder, "--validation-size", "100", *TINY_SEARCH[:-3], "--no-show",
                        "--results-dir", tmp_path / "out", timeout=60)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "max_shift (at the top of train.py, which every trial uses) 1 is as large as the 1x1 images" in (
        result.stderr
    )
    assert "--max-shift" not in result.stderr
