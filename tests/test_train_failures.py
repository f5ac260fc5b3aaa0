"""When train.py cannot train well, it says why in one line naming the option or file, and the user loses nothing.

Every failing run here starts with a real model already saved where the new one would go, and checks that this
file is byte-for-byte the same afterwards.
"""

import os
import signal
import sys

import numpy as np
import pytest

import train
from network import Network
from support import diagnosis
from support.model_files import load_history, load_model, save_model

from conftest import (
    REPOSITORY,
    finish,
    line_starting_with,
    memory_cap_works,
    read_real,
    run_script,
    run_with_memory_cap,
    start_interruptible,
    write_dataset,
)

TINY_RUN = ["--validation-size", "500", "--hidden-size", "16", "--no-show"]


def outputs(tmp_path):
    return ["--weights", tmp_path / "model.npz", "--results-dir", tmp_path / "results"]


def save_users_model(tmp_path):
    """The model the user already has, where the run would save its own; returns the file's bytes."""
    save_model(Network([784, 8, 10], seed=5), tmp_path / "model.npz")
    return (tmp_path / "model.npz").read_bytes()


def assert_clean_failure(result, exit_code=1):
    """The run failed with a one-line error and no traceback; returns that line."""
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error: " in line]
    assert len(error_lines) == 1, result.stderr
    return error_lines[0]


# ----- advice that reads the evidence ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, advice, wrong_advice",
    [
        (["--learning-rate", "1e-6"], ["not learning", "--learning-rate 1e-06 is far below", "try --learning-rate 0.1"],
         ["smaller --learning-rate"]),
        (["--learning-rate", "1000", "--clip-norm", "0"], ["diverged", "far above", "try --learning-rate 0.1",
                                                          "--clip-norm 5"], ["far below"]),
        (["--l2", "1e30"], ["not learning", "--l2 1e+30 (weight decay)", "try --l2 0"], ["--clip-norm"]),
        (["--l2", "1e30", "--clip-norm", "0"], ["diverged", "--l2 1e+30", "weight decay"], []),
        (["--warmup-epochs", "1000"], ["not learning", "--warmup-epochs 1000"], []),
        (["--clip-norm", "1e-9"], ["not learning", "--clip-norm 1e-09 shortened most steps"], []),
        (["--augment", "shift", "--max-shift", "20"], ["not learning", "--max-shift 20"], []),
        (["--batch-size", "100000"], ["not learning", "only 2 gradient steps", "more epochs"], ["training images are"]),
    ],
)  # fmt: skip
def test_a_failed_run_says_what_to_change_and_keeps_the_weights(small_mnist, tmp_path, options, advice, wrong_advice):
    before = save_users_model(tmp_path)
    result = run_script("train.py", "--data-dir", small_mnist, "--epochs", "2", *TINY_RUN, *options, *outputs(tmp_path))
    error_line = assert_clean_failure(result)
    for words in advice:
        assert words in error_line
    for words in wrong_advice:
        assert words not in error_line
    assert f"'{tmp_path / 'model.npz'}' was not changed" in error_line
    assert (tmp_path / "model.npz").read_bytes() == before


def test_divergence_advice_without_a_usual_rate_to_offer():
    """A rate near the usual one that still diverged: the advice is a smaller rate, not the usual one."""
    args = train.default_settings(learning_rate=0.2)
    assert "try a smaller --learning-rate, such as 0.02" in diagnosis.divergence_advice("the loss became nan", args)


def test_a_dropout_that_drops_almost_everything_is_named_as_the_cause():
    advice = diagnosis.divergence_advice("the loss became nan", train.default_settings(dropout=0.99999))
    assert "--dropout 0.99999 keeps almost no unit and multiplies the few it keeps by 100,000" in advice
    assert "learning-rate" not in advice


def test_a_blow_up_in_the_very_last_step_is_not_saved(small_mnist, tmp_path, monkeypatch, capsys):
    """The loss of a step is measured before its update: only a check of the weights sees the last update fail."""
    before = save_users_model(tmp_path)
    args = train.parse_arguments(["--data-dir", str(small_mnist), "--epochs", "2", *TINY_RUN,
                                  *map(str, outputs(tmp_path))])  # fmt: skip
    total_steps = 2 * int(np.ceil(2500 / args.batch_size))
    original_step, steps_taken = train.train_step, []

    def step_that_breaks_the_last_update(network, *arguments):
        result = original_step(network, *arguments)
        steps_taken.append(1)
        if len(steps_taken) == total_steps:
            network.parameters()[0][0, 0] = np.nan
        return result

    monkeypatch.setattr(train, "train_step", step_that_breaks_the_last_update)
    with pytest.raises(SystemExit) as exit_info:
        train.run(args)
    assert len(steps_taken) == total_steps
    assert str(exit_info.value.code).startswith("error: training diverged: the weights became NaN or inf in epoch 2")
    assert "Test accuracy" not in capsys.readouterr().out
    assert (tmp_path / "model.npz").read_bytes() == before


# ----- the network the options describe -------------------------------------------------------------------


def test_a_max_shift_as_large_as_the_images_is_refused_before_training(small_mnist, tmp_path):
    before = save_users_model(tmp_path)
    result = run_script("train.py", "--data-dir", small_mnist, "--augment", "shift", "--max-shift", "28", *TINY_RUN,
                        *outputs(tmp_path))  # fmt: skip
    assert "--max-shift 28 is as large as the 28x28 images" in assert_clean_failure(result)
    assert "Training a" not in result.stdout
    assert (tmp_path / "model.npz").read_bytes() == before


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_a_negative_seed_is_refused_by_its_own_name(model, capsys):
    with pytest.raises(SystemExit):
        train.parse_arguments(["--model", model, "--seed", "-1"])
    error_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: --seed must be a whole number from 0" in error_line and "--conv-channels" not in error_line


@memory_cap_works
@pytest.mark.parametrize(
    "options, message",
    [
        (["--hidden-size", "1000000000"], "error: --hidden-sizes must each be between"),
        (["--hidden-sizes", "100000,100000"], "error: --hidden-sizes: that network would have 10,079,600,010"),
        (["--model", "cnn", "--conv-channels", "1000000000"], "error: --conv-channels must each be between"),
        (["--model", "cnn", "--conv-channels", "1024,1024", "--hidden-sizes", "100000"],
         "error: --hidden-sizes and --conv-channels: that network would have"),
    ],
)  # fmt: skip
def test_a_too_large_network_is_refused_before_any_allocation(small_mnist, tmp_path, options, message):
    """With 300 MB to spare beyond the imports, building any of these networks would raise MemoryError."""
    arguments = ["--data-dir", str(small_mnist), *TINY_RUN, *map(str, outputs(tmp_path)), *options]
    result = run_with_memory_cap("import train", f"train.main({arguments!r})", extra_megabytes=300)
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr


def test_too_many_convolution_layers_name_the_option(small_mnist, tmp_path):
    result = run_script("train.py", "--data-dir", small_mnist, "--model", "cnn", "--conv-channels", "4,4,4",
                        *TINY_RUN, *outputs(tmp_path))  # fmt: skip
    assert "error: --conv-channels:" in assert_clean_failure(result)


# ----- nothing the user had is lost -----------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_before_the_first_epoch_ends_keeps_the_weights(small_mnist, tmp_path):
    before = save_users_model(tmp_path)
    command = [sys.executable, str(REPOSITORY / "train.py"), "--data-dir", str(small_mnist), "--epochs", "1",
               "--validation-size", "500", "--hidden-size", "2048", "--no-show",
               *map(str, outputs(tmp_path))]  # fmt: skip
    process = start_interruptible(command)
    header = line_starting_with(process, "Training")  # printed once the data is loaded; the epoch takes longer
    process.send_signal(signal.SIGINT)
    rest, errors = finish(process)
    assert header.startswith("Training a 784-2048-10 network")
    assert process.returncode == 130, errors
    assert "epoch 1/1" not in rest and "Traceback" not in errors
    # Ctrl-C lands in the epoch, or, on a busy machine, just before training starts: both save nothing
    assert (
        "Training interrupted (Ctrl-C) after 0 complete epochs" in rest
        and "No epoch finished, so there is nothing to save" in errors
    ) or errors.strip() == "Interrupted (Ctrl-C)."
    assert (tmp_path / "model.npz").read_bytes() == before


def test_a_read_only_weights_file_is_refused_before_training(tmp_path):
    before = save_users_model(tmp_path)
    (tmp_path / "model.npz").chmod(0o444)  # root could still write it: the check reads the permission bits
    result = run_script("train.py", "--data-dir", tmp_path / "no-data", *outputs(tmp_path))  # refused before the data
    assert "--weights" in assert_clean_failure(result, exit_code=2) and "read-only" in result.stderr
    assert (tmp_path / "model.npz").read_bytes() == before


def test_a_weights_file_that_is_not_a_model_is_refused(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    result = run_script("train.py", "--data-dir", tmp_path / "no-data", "--weights", notes)
    assert "--weights" in assert_clean_failure(result, exit_code=2) and "is not a file this program wrote" in (
        result.stderr
    )
    assert notes.read_text() == "my notes"


def test_a_symlinked_weights_file_stays_a_link_to_the_new_model(small_mnist, tmp_path, monkeypatch):
    (tmp_path / "store").mkdir()
    save_model(Network([784, 8, 10], seed=5), tmp_path / "store" / "model.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "store" / "model.npz")
    monkeypatch.setattr(train, "draw_figures", lambda *arguments: None)  # figures are not what this is about
    train.run(train.parse_arguments(["--data-dir", str(small_mnist), "--epochs", "1", *TINY_RUN, "--weights",
                                     str(link), "--results-dir", str(tmp_path / "results")]))  # fmt: skip
    assert link.is_symlink() and link.resolve() == (tmp_path / "store" / "model.npz").resolve()
    assert load_model(tmp_path / "store" / "model.npz").layer_sizes == [784, 16, 10]


@pytest.mark.parametrize("results_dir", ["somefile", "somefile/sub"])
def test_a_results_folder_blocked_by_a_file_is_refused(tmp_path, results_dir):
    (tmp_path / "somefile").write_text("a file")
    result = run_script("train.py", "--data-dir", tmp_path / "no-data", "--weights", tmp_path / "model.npz",
                        "--results-dir", tmp_path / results_dir)  # fmt: skip
    assert "--results-dir" in assert_clean_failure(result, exit_code=2) and "is a file" in result.stderr
    assert (tmp_path / "somefile").read_text() == "a file"


# ----- data problems ----------------------------------------------------------------------------------------


def test_test_images_of_another_size_are_refused_before_training(tmp_path):
    before = save_users_model(tmp_path)
    folder = write_dataset(tmp_path / "mixed", read_real("train_images")[:300], read_real("train_labels")[:300],
                           np.zeros((10, 20, 20), np.uint8), read_real("test_labels")[:10])  # fmt: skip
    result = run_script("train.py", "--data-dir", folder, "--validation-size", "100", *outputs(tmp_path))
    error_line = assert_clean_failure(result)
    assert str(folder) in error_line and "20x20" in error_line and "28x28" in error_line
    assert "Training a" not in result.stdout
    assert (tmp_path / "model.npz").read_bytes() == before


@pytest.mark.parametrize("count, message", [(1, "show only the digit 5 (1 image)"), (0, "holds no images")])
def test_a_training_set_with_nothing_to_learn_is_refused(tmp_path, count, message):
    before = save_users_model(tmp_path)
    folder = write_dataset(tmp_path / "data", read_real("train_images")[:count], read_real("train_labels")[:count],
                           read_real("test_images")[:10], read_real("test_labels")[:10])  # fmt: skip
    result = run_script("train.py", "--data-dir", folder, "--validation-size", "0", *outputs(tmp_path))
    assert message in assert_clean_failure(result)
    assert (tmp_path / "model.npz").read_bytes() == before


def test_a_data_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "data").write_text("not a folder")
    result = run_script("train.py", "--data-dir", tmp_path / "data", *outputs(tmp_path))
    assert "is a file, not a folder" in assert_clean_failure(result)


# ----- outputs checked before the work; interruptions never replace finished work ---------------------------


@pytest.mark.parametrize("kind", ["loop", "pipe", "unwritable folder"])
def test_a_weights_path_that_cannot_be_written_is_refused_before_training(tmp_path, kind):
    if kind == "loop":
        (tmp_path / "model.npz").symlink_to(tmp_path / "model.npz")  # a link to itself
        weights, expected = tmp_path / "model.npz", "symbolic link that loops"
    elif kind == "pipe":
        os.mkfifo(tmp_path / "model.npz")
        weights, expected = tmp_path / "model.npz", "is a named pipe, not a file"
    else:  # /proc refuses new files even to root, whom permission bits do not stop
        weights, expected = "/proc/model.npz", "cannot write in the folder '/proc'"
    result = run_script("train.py", "--data-dir", tmp_path / "no-data", "--weights", weights, "--results-dir",
                        tmp_path / "results", timeout=60)  # fmt: skip
    error_line = assert_clean_failure(result, exit_code=2)
    assert "--weights" in error_line and expected in error_line, error_line
    assert "Training a" not in result.stdout


def test_a_max_shift_that_the_augmentation_does_not_use_is_not_blamed(small_mnist, tmp_path):
    result = run_script("train.py", "--data-dir", small_mnist, "--augment", "none", "--max-shift", "28", "--epochs",
                        "1", *TINY_RUN, *outputs(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX-only")
def test_sigterm_keeps_the_finished_epochs_and_leaves_no_temporary_file(small_mnist, tmp_path):
    before = save_users_model(tmp_path)
    command = [sys.executable, str(REPOSITORY / "train.py"), "--data-dir", str(small_mnist), "--epochs", "5000",
               *TINY_RUN, *map(str, outputs(tmp_path))]  # fmt: skip
    process = start_interruptible(command)
    line_starting_with(process, "epoch")  # the first epoch has finished
    process.send_signal(signal.SIGTERM)
    rest, errors = finish(process)
    assert process.returncode == 143, errors
    assert "Training interrupted (SIGTERM)" in rest and "model.interrupted.npz (of the interrupted run" in rest
    assert errors.strip().splitlines()[-1] == "Terminated." and "Traceback" not in errors
    assert (tmp_path / "model.npz").read_bytes() == before
    assert len(load_history(tmp_path / "model.interrupted.npz")[0]) >= 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.interrupted.npz", "model.npz"]


@pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX-only here")
@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_saving_leaves_no_temporary_file(small_mnist, tmp_path, signal_number, status):
    """The signal arrives while the weights are being written (played by a slow write): the old file stays whole."""
    before = save_users_model(tmp_path)
    arguments = ["--data-dir", str(small_mnist), "--epochs", "1", *TINY_RUN, *map(str, outputs(tmp_path))]
    code = f"""
import sys, time, numpy
import support.startup, train
def slow_savez(file, **arrays):
    file.write(b"PK half a file")
    print("saving", flush=True)
    time.sleep(30)
numpy.savez = slow_savez
sys.argv = ["train.py"]
support.startup.run(lambda: train.main({arguments!r}))
"""
    process = start_interruptible([sys.executable, "-c", code])
    line_starting_with(process, "saving")
    process.send_signal(signal_number)
    _, errors = finish(process)
    assert process.returncode == status and "Traceback" not in errors, errors
    assert (tmp_path / "model.npz").read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["model.npz"]


def test_output_into_a_closed_pipe_ends_quietly(small_mnist, tmp_path):
    command = [sys.executable, str(REPOSITORY / "train.py"), "--data-dir", str(small_mnist), "--epochs", "3",
               *TINY_RUN, *map(str, outputs(tmp_path))]  # fmt: skip
    process = start_interruptible(command)
    line_starting_with(process, "Training")
    process.stdout.close()  # like `| head -1`: nobody reads the rest
    status = process.wait(timeout=60)
    errors = process.stderr.read()
    assert status != 0 and errors == "", errors
