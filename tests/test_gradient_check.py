"""gradient_check.py, the program a learner runs: it passes on the project's networks, and it catches a backward
pass broken on purpose, naming the parameter that went wrong."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gradient_check
from network import Network

from conftest import REPOSITORY, run_script

LINE = re.compile(r"^  (conv )?[Wb]\d+ +\(\d+(, \d+)?,?\) +(\d\.\de[-+]\d\d)(   <-- WRONG)?$")


def test_the_projects_networks_pass_with_one_line_per_parameter():
    result = run_script("gradient_check.py", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if LINE.match(line)]
    assert len(lines) >= 30 and not any("WRONG" in line for line in lines)
    for words in ["relu", "dropout 0.5 and weight decay", "tanh", "sigmoid", "convolutional"]:
        assert words in result.stdout
    assert re.search(r"^All \d+ gradients agree with finite differences", result.stdout, re.MULTILINE)


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the project's code, to break on purpose."""
    for path in REPOSITORY.glob("*.py"):
        shutil.copy(path, tmp_path)
    shutil.copytree(REPOSITORY / "support", tmp_path / "support", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    "line, broken, wrong",
    [
        ("db[layer] = dZ.sum(axis=0)", "db[layer] = 1.01 * dZ.sum(axis=0)", "b1"),  # a bias gradient off by 1%
        ("dH = dH * masks[layer]", "dH = dH", "W1"),  # the dropout mask forgotten on the way back
        ("return 1 - H * H", "return 1 - H", "W1"),  # a wrong derivative of tanh
    ],
)
def test_a_backward_pass_broken_on_purpose_is_caught_and_named(project_copy, line, broken, wrong):
    source = (project_copy / "network.py").read_text(encoding="utf-8")
    assert source.count(line) == 1, line
    (project_copy / "network.py").write_text(source.replace(line, broken), encoding="utf-8")
    result = subprocess.run([sys.executable, "gradient_check.py"], capture_output=True, text=True, cwd=project_copy,
                            timeout=120)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    wrong_lines = [line for line in result.stdout.splitlines() if line.endswith("<-- WRONG")]
    assert any(line.strip().startswith(wrong + " ") for line in wrong_lines), result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("FAILED:")


def test_relative_error_is_small_for_equal_gradients_and_large_for_a_one_percent_error():
    numerical = np.array([[0.5, -0.25], [1e-9, 2.0]])
    assert gradient_check.relative_error(numerical, numerical) == 0
    assert gradient_check.relative_error(numerical * 1.01, numerical) > 50 * gradient_check.TOLERANCE
    noise = numerical + 1e-11  # rounding in tiny entries is not an error
    assert gradient_check.relative_error(noise, numerical) < gradient_check.TOLERANCE


def test_numerical_gradient_of_a_known_function():
    array = np.array([1.0, -2.0, 3.0])
    gradient = gradient_check.numerical_gradient(lambda: float((array**3).sum()), array)
    np.testing.assert_allclose(gradient, 3 * np.array([1.0, -2.0, 3.0]) ** 2, rtol=1e-8)
    np.testing.assert_array_equal(array, [1.0, -2.0, 3.0])  # every entry put back


def test_check_names_every_parameter():
    network = gradient_check.in_float64(Network([6, 4, 3], seed=0))
    results = gradient_check.check(network, np.random.default_rng(0).random((2, 6)), np.array([0, 2]))
    assert [(name, shape) for name, shape, _ in results] == [("W1", (6, 4)), ("b1", (4,)), ("W2", (4, 3)),
                                                             ("b2", (3,))]  # fmt: skip


def test_a_bad_option_is_one_error_line():
    result = run_script("gradient_check.py", "--fast", timeout=60)
    assert result.returncode == 2 and "error: unrecognized arguments: --fast" in result.stderr
    assert "Traceback" not in result.stderr
