"""Figures are written as PNG files under the Agg backend, and never block."""

import numpy as np

import visualize
from model_files import save_model
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
    save_model(Network([784, 16, 10], seed=0), tmp_path / "model.npz")
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
    assert is_png(tmp_path / "figures" / "augmented_samples.png")


def test_visualize_script_missing_weights(tmp_path):
    result = run_script("visualize.py", "--weights", tmp_path / "none.npz")
    assert result.returncode == 1 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_confusion_matrix_counts_by_hand():
    true_labels = np.array([0, 0, 1, 2, 2, 2, 1])
    predicted = np.array([0, 1, 1, 2, 0, 2, 1])
    counts = visualize.confusion_matrix(true_labels, predicted, num_classes=3)
    # rows: true 0 -> {0: 1, 1: 1}; true 1 -> {1: 2}; true 2 -> {2: 2, 0: 1}
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_allclose(visualize.per_class_accuracy(counts), [0.5, 1.0, 2 / 3])
    table = visualize.format_confusion_table(counts).splitlines()
    assert len(table) == 4
    assert table[3].split() == ["2", "1", "0", "2", "66.67%"]


def test_per_class_accuracy_of_an_absent_class_is_zero_not_nan():
    counts = visualize.confusion_matrix(np.array([0, 0]), np.array([0, 1]), num_classes=3)
    np.testing.assert_array_equal(visualize.per_class_accuracy(counts), [0.5, 0, 0])


def test_confident_mistakes_are_sorted_by_confidence(tmp_path, monkeypatch):
    shown_titles = []
    monkeypatch.setattr(visualize, "save_figure", lambda figure, path: shown_titles.extend(
        axis.get_title() for axis in figure.axes if axis.get_title()))  # fmt: skip
    probabilities = np.full((4, 10), 0.01)
    probabilities[0, 3], probabilities[1, 5], probabilities[2, 7], probabilities[3, 1] = 0.6, 0.9, 0.7, 0.95
    true_labels = np.array([3, 4, 2, 1])  # image 0 and 3 are right; 1 (90%) and 2 (70%) are wrong
    visualize.plot_confident_mistakes(np.zeros((4, 784)), true_labels, probabilities, tmp_path / "m.png")
    assert shown_titles == ["true 4, pred 5\n90.0% sure", "true 2, pred 7\n70.0% sure"]


def test_every_evaluation_figure_is_a_png(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.random((60, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 60)
    network = Network([784, 20, 10], seed=0)
    probabilities = network.predict_probabilities(images)
    visualize.evaluation_figures(network, images, labels, probabilities, tmp_path)
    for name in ("predictions.png", "confusion_matrix.png", "confident_mistakes.png", "hidden_units.png"):
        assert is_png(tmp_path / name), name


def test_hidden_units_fewer_than_asked(tmp_path):
    weights = np.random.default_rng(0).normal(size=(784, 5)).astype(np.float32)
    assert is_png(visualize.plot_hidden_units(weights, tmp_path / "units.png", count=36))


def test_augmented_samples_figure(tmp_path):
    images = np.random.default_rng(2).random((3, 784), dtype=np.float32)
    path = visualize.plot_augmented_samples(images, ["shift", "affine", "elastic"], tmp_path / "augmented.png")
    assert is_png(path)
