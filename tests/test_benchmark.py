"""The speed benchmark runs and reports every figure it promises (on a small slice, so its numbers mean nothing),
and refuses a bad option with one line before any work starts."""

import importlib.util
import re

import pytest

from conftest import REPOSITORY, run_script

spec = importlib.util.spec_from_file_location("speed_benchmark", REPOSITORY / "benchmarks" / "speed.py")
speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(speed)


def test_benchmark_runs_and_reports(small_mnist):
    result = run_script("benchmarks/speed.py", "--repeats", "1", "--cnn-repeats", "2", "--data-dir", small_mnist,
                        "--validation-size", "500", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert re.search(r"project / GEMM only\s+\d+\.\d\dx", output)
    assert re.search(r"of which clipping\s+\d+\.\d+s\s+\d+\.\d% of the epoch", output)
    assert re.search(r"scikit-learn (epoch\s+\d+\.\d+s|\s+not installed)", output)
    for method in ("shift", "affine", "elastic"):
        assert re.search(rf"{method}\s+\d+\.\d+s\s+\d+\.\d\dx of training", output)
    assert "network (28x28 -> conv 32, 64 -> 1024-256-10), 2,500 images without augmentation (median of 2)" in output
    assert re.search(r"epoch\s+\d+\.\ds   \(each: \d+\.\d, \d+\.\d\)", output)  # both epochs of the cnn
    assert re.search(r"matrix products alone\s+\d+\.\ds", output)
    assert re.search(r"epoch / products alone\s+\d+\.\d\dx", output)
    for part in ("im2col and col2im", "max-pooling", "everything else"):
        assert re.search(rf"{part}.*\s+-?\d+\.\ds\s+-?\d+% of the epoch", output), part


def test_good_options_are_read():
    args = speed.make_parser().parse_args(["--repeats", "3", "--hidden-size", "64", "--validation-size", "0",
                                           "--cnn-repeats", "2"])  # fmt: skip
    assert (args.repeats, args.hidden_size, args.validation_size, args.data_dir) == (3, 64, 0, "data")
    assert args.cnn_repeats == 2 and speed.make_parser().parse_args([]).cnn_repeats == 3


@pytest.mark.parametrize(
    "arguments, message",
    [(["--repeats", "0"], "--repeats: must be at least 1, not 0"),
     (["--repeats", "abc"], "--repeats: must be a whole number, not 'abc'"),
     (["--repeats", "2.5"], "--repeats: must be a whole number, not '2.5'"),
     (["--repeats"], "--repeats: expected one argument"),
     (["--hidden-size", "-3"], "--hidden-size: must be from 1 to 100,000, not -3"),
     (["--hidden-size", "1000000"], "--hidden-size: must be from 1 to 100,000, not 1,000,000"),
     (["--validation-size", "-1"], "--validation-size: must be at least 0, not -1"),
     (["--cnn-repeats", "0"], "--cnn-repeats: must be at least 1, not 0"),
     (["--fast"], "unrecognized arguments: --fast")],
)  # fmt: skip
def test_a_bad_option_is_one_error_line_naming_it(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        speed.make_parser().parse_args(arguments)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_validation_set_as_large_as_the_data_is_refused(small_mnist, capsys):
    parser = speed.make_parser()
    args = parser.parse_args(["--data-dir", str(small_mnist), "--validation-size", "70000"])
    with pytest.raises(SystemExit) as exit_info:
        speed.load_data(parser, args)
    assert exit_info.value.code == 2
    expected = f"--validation-size: must be less than the 3,000 training images in '{small_mnist}', not 70,000"
    assert capsys.readouterr().err == f"error: {expected}\n"


def test_a_missing_data_folder_is_one_error_line(tmp_path):
    parser = speed.make_parser()
    args = parser.parse_args(["--data-dir", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit) as exit_info:
        speed.load_data(parser, args)
    message = str(exit_info.value.code)  # sys.exit(message): printed to stderr, exit status 1
    assert message.startswith(f"error: --data-dir: data folder '{tmp_path / 'nowhere'}' does not exist")
    assert "\n" not in message


def test_the_program_refuses_a_bad_option_without_a_traceback():
    result = run_script("benchmarks/speed.py", "--repeats", "abc", timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: --repeats: must be a whole number, not 'abc'\n"  # one line, no traceback
