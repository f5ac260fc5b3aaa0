"""Editing the constants at the top of train.py, as a learner does, in a copy of the project: every ordinary
edit runs as the learner meant it, or ends with one `error:` line that names the constant and no traceback."""

import re
import shutil
import subprocess
import sys

import pytest

import train

from conftest import REPOSITORY


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's code (not its data, nor its model), to edit."""
    folder = tmp_path_factory.mktemp("project")
    for path in REPOSITORY.glob("*.py"):
        shutil.copy(path, folder)
    shutil.copytree(REPOSITORY / "support", folder / "support", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def edited(project, old, new):
    """Replace the line `old` at the top of the copy's train.py with `new` (the original is kept for the next test)."""
    original = project / "train.py.original"
    if not original.exists():
        shutil.copy(project / "train.py", original)
    text = original.read_text(encoding="utf-8")
    assert old in text, old
    (project / "train.py").write_text(text.replace(old, new, 1), encoding="utf-8")


SHOW_SETTINGS = "import train; args = train.parse_arguments([]); print(repr(args.{name}), type(args.{name}).__name__)"


def settings_after_edit(project, name):
    """What the edited train.py's settings hold for `name`, as the program would run with them."""
    return subprocess.run([sys.executable, "-c", SHOW_SETTINGS.format(name=name)], capture_output=True, text=True,
                          cwd=project, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    "old, new, name, expected",
    [
        ("epochs = 20  # passes", "epochs = 3 # quick test. passes", "epochs", "3 int"),
        ("epochs = 20  # passes over the training images", "epochs = 3", "epochs", "3 int"),
        ("epochs = 20  # passes", "epochs = 3#passes", "epochs", "3 int"),
        ("epochs = 20  # passes", "epochs = 1.0  # passes", "epochs", "1 int"),
        ("learning_rate = 0.1  #", "learning_rate = 1  #", "learning_rate", "1.0 float"),
        ("learning_rate = 0.1  #", "learning_rate = 5  #", "learning_rate", "5.0 float"),
        ("hidden_sizes = [512]  #", "hidden_sizes = 32  #", "hidden_sizes", "[32] list"),
        ("hidden_sizes = [512]  #", "hidden_sizes = [800, 800]  #", "hidden_sizes", "[800, 800] list"),
        ("hidden_sizes = [512]  #", "hidden_sizes = (64,)  #", "hidden_sizes", "[64] list"),
        ("keep_best = False  #", "keep_best = True  #", "keep_best", "True bool"),
        ("dropout = 0.0  #", "dropout = 0  #", "dropout", "0.0 float"),
        ("epochs = 20  #", "epochs: int = 4  #", "epochs", "4 int"),
    ],
)
def test_an_ordinary_edit_runs_as_meant(project, old, new, name, expected):
    edited(project, old, new)
    result = settings_after_edit(project, name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("epochs = 20  #", "epochs = 2.5  #", "epochs = 2.5 at the top of train.py: must be a whole number, not 2.5"),
        ("epochs = 20  #", "epochs = 0  #", "epochs = 0 at the top of train.py: must be at least 1"),
        ("epochs = 20  #", 'epochs = "20"  #', "epochs = '20' at the top of train.py: must be a whole number"),
        (
            "learning_rate = 0.1  #",
            "learning_rate = -1  #",
            "learning_rate = -1 at the top of train.py: must be greater",
        ),
        ('model = "mlp"  #', 'model = "CNN"  #', "model = 'CNN' at the top of train.py: must be one of mlp, cnn"),
        ("hidden_sizes = [512]  #", "hidden_sizes = []  #", "hidden_sizes = [] at the top of train.py: must list at"),
        ("keep_best = False  #", 'keep_best = "yes"  #', "keep_best = 'yes' at the top of train.py: must be True or"),
        ("augment = ", "augmentation = ", "the constant augment is missing from the top of train.py"),
    ],
)
def test_a_wrong_edit_gets_one_error_line_naming_the_constant(project, old, new, message):
    edited(project, old, new)
    result = settings_after_edit(project, "epochs")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr
    assert "PRESETS" not in error_lines[0]  # a preset is never blamed for the learner's edit


def test_learning_rate_1_runs_though_the_cnn_preset_sets_a_fraction(project):
    """Before, an integer learning rate made the cnn preset's fraction look like the wrong kind of value."""
    edited(project, "learning_rate = 0.1  #", "learning_rate = 1  #")
    code = "import train; print(train.parse_arguments(['--preset', 'cnn']).learning_rate)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project, timeout=60)
    preset_rate = train.PRESETS["cnn"]["learning_rate"]
    assert isinstance(preset_rate, float) and preset_rate != 1
    assert result.returncode == 0 and float(result.stdout) == preset_rate, result.stderr


def test_an_edited_train_py_trains_end_to_end(project, small_mnist, tmp_path):
    edited(project, "epochs = 20  # passes over the training images", "epochs = 1.0 # one quick pass")
    command = [sys.executable, "train.py", "--data-dir", str(small_mnist), "--validation-size", "500",
               "--hidden_size", "16", "--no-show", "--weights", str(tmp_path / "m.npz"),
               "--results-dir", str(tmp_path / "r")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=project, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Training a 784-16-10 network on 2,500 images .* for 1 epoch$", result.stdout, re.MULTILINE)
    assert "Test accuracy:" in result.stdout


def test_a_new_constant_gets_its_own_flag(project):
    edited(project, "seed = 0  #", "my_setting = 3  # a setting of my own\nseed = 0  #")
    code = "import train; print(train.parse_arguments(['--my-setting', '7']).my_setting)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "7", result.stderr
    help_text = subprocess.run([sys.executable, "train.py", "--help"], capture_output=True, text=True, cwd=project,
                               timeout=60).stdout  # fmt: skip
    assert "--my-setting" in help_text and "a setting of my own (default: 3)" in help_text
