"""support/startup.py: what every program does first and last, so that its surroundings never show a traceback."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import REPOSITORY, finish, line_starting_with, run_script

PROGRAMS = [
    "train.py",
    "tune.py",
    "predict.py",
    "visualize.py",
    "web_demo.py",
    "gradient_check.py",
    "experiments.py",
    "benchmarks/speed.py",
]


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_program_started_without_its_packages_says_how_to_get_them(program):
    """`python -S` leaves out the folders where pip installs packages: as when the environment is not active."""
    result = subprocess.run([sys.executable, "-S", program], capture_output=True, text=True, cwd=REPOSITORY,
                            timeout=60)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: NumPy and matplotlib and Pillow not found"), lines
    assert "source .venv/bin/activate" in lines[0] or "python -m pip install -r requirements.txt" in lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
def test_ctrl_c_while_the_modules_load_is_one_line(tmp_path):
    """A module that takes its time to load (here a stand-in for matplotlib) is interrupted by Ctrl-C."""
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("import time\nprint('loading', flush=True)\ntime.sleep(60)\n")
    process = subprocess.Popen(
        [sys.executable, "train.py", "--help"], cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    line_starting_with(process, "loading")
    process.send_signal(signal.SIGINT)
    _, errors = finish(process, seconds=30)
    assert process.returncode == 130 and errors.strip() == "Interrupted (Ctrl-C).", errors


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_answers_a_bad_option_with_one_error_line(program):
    needed = ["optimizers"] if program == "experiments.py" else []  # its one required argument, the experiment
    result = run_script(program, *needed, "--no-such-option", timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "--no-such-option" in error_lines[0], result.stderr
