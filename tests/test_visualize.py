"""Figures are written as PNG files under the Agg backend, and never block."""

import numpy as np

import visualize
from network import Network

from conftest import is_png, run_script


def test_no_display_under_agg():
    assert not visualize.display_available()


def test_prediction_grid_all_and_mistakes_only(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = rng.random((50, 784), dtype=np.float32)
    true_labels = rng.integers(0, 10, 50)
    predicted = true_labels.copy()
    predicted[[3, 7]] = (predicted[[3, 7]] + 1) % 10
    visualize.plot_prediction_grid(images, true_labels, predicted, tmp_path / "all.png")
    visualize.plot_prediction_grid(images, true_labels, predicted, tmp_path / "wrong.png", mistakes_only=True)
    visualize.plot_prediction_grid(images, true_labels, true_labels, tmp_path / "none.png", mistakes_only=True)
    printed = capsys.readouterr().out
    for name in ("all.png", "wrong.png", "none.png"):
        assert is_png(tmp_path / name)
        assert f"Saved figure: {tmp_path / name}" in printed
    assert not list(tmp_path.glob("*.tmp"))


def test_mistakes_are_titled_in_red(tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(
        visualize,
        "save_figure",
        lambda figure, path: titles.extend(
            (axis.get_title(), axis.title.get_color()) for axis in figure.axes if axis.get_title()
        ),
    )
    labels = np.array([1, 2, 3])
    visualize.plot_prediction_grid(np.zeros((3, 784)), labels, np.array([1, 5, 3]), tmp_path / "x.png")
    assert titles == [("true 1, pred 1", "black"), ("true 2, pred 5", "red"), ("true 3, pred 3", "black")]


def test_training_curves(tmp_path):
    history = [
        {"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.2 / epoch, "train_accuracy": 0.9, "val_accuracy": 0.88}
        for epoch in (1, 2, 3)
    ]
    assert is_png(visualize.plot_training_curves(history, tmp_path / "curves.png"))


def test_visualize_script_draws_a_saved_model(small_mnist, tmp_path):
    Network([784, 16, 10], seed=0).save(tmp_path / "model.npz")
    result = run_script(
        "visualize.py",
        "--weights",
        tmp_path / "model.npz",
        "--data-dir",
        small_mnist,
        "--results-dir",
        tmp_path / "figures",
        "--mistakes-only",
    )
    assert result.returncode == 0, result.stderr
    assert "Test accuracy:" in result.stdout
    assert is_png(tmp_path / "figures" / "predictions.png")


def test_visualize_script_missing_weights(tmp_path):
    result = run_script("visualize.py", "--weights", tmp_path / "none.npz")
    assert result.returncode == 1 and result.stderr.startswith("error:") and "Traceback" not in result.stderr
