"""Figures are written as PNG files under the Agg backend, and never block."""

import numpy as np
import pytest

import visualize
from conv_network import ConvNetwork
from network import Network
from support.model_files import save_model

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
    assert titles == [("#0: true 1, pred 1", "black"), ("#1: true 2, pred 5", "red"), ("#2: true 3, pred 3", "black")]


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


def figure_texts(monkeypatch):
    """Instead of saving figures, collect the titles of every drawing and of the whole figure, and the images."""
    texts = {"titles": [], "suptitle": [], "images": []}

    def collect(figure, path):
        texts["titles"] += [axis.get_title() for axis in figure.axes if axis.get_title()]
        texts["suptitle"].append(figure._suptitle.get_text() if figure._suptitle else "")
        texts["images"] += [axis.images[0].get_array() for axis in figure.axes if axis.images]
        return path

    monkeypatch.setattr(visualize, "save_figure", collect)
    return texts


def test_hidden_units_show_their_change_how_often_they_fire_and_how_far_they_moved(tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    network = Network([784, 5, 10], seed=3)
    start = network.weights[0].copy()
    network.weights[0][:, 2] *= 3  # unit 2 moved by twice its start
    network.biases[0][:] = [-100, 100, 100, 100, 100]  # unit 0 never fires, the others always
    visualize.plot_hidden_units(network, np.random.default_rng(0).random((50, 784), dtype=np.float32), tmp_path / "u")
    assert texts["titles"][:4] == ["unit 1: 100.0%", "moved 0%", "unit 2: 100.0%", "moved 200%"]  # most active first
    assert texts["titles"][-2:] == ["unit 0: 0.0%", "moved 0%"]  # the silent unit last
    assert "What the 5 hidden units look for" in texts["suptitle"][0]
    assert "share of the 50 test digits the unit fires on" in texts["suptitle"][0]
    np.testing.assert_allclose(texts["images"][3], (network.weights[0] - start)[:, 2].reshape(28, 28))


@pytest.mark.parametrize(
    "shares, count, expected, rule",
    [([0.5, 0.001, 0, 0.3, 0.9, 0.2, 0.6, 0.0], 6, [4, 6, 3, 7, 2, 1], "the 2 most active, 1 typical and all 3 silent"),
     ([0.5, 0.001, 0, 0.3, 0.9, 0.2, 0.6, 0.0, 0.4, 0.0], 5, [4, 3, 9, 7, 2], "1 typical and 3 silent"),
     ([0.5, 0.001, 0, 0.3, 0.9, 0.2, 0.6, 0.0], 8, [4, 6, 0, 3, 5, 1, 2, 7], "all 8"),
     ([0.5, 0.4, 0.3, 0.9, 0.2], 3, [3, 1, 0], "the 1 most active and 2 typical (none is silent)")],
)  # fmt: skip
def test_the_hidden_units_figure_chooses_its_units_by_the_rule_it_states(shares, count, expected, rule):
    units, stated = visualize.units_to_show(np.array(shares), count)
    assert [int(unit) for unit in units] == expected and rule in stated, (units, stated)


def test_firing_shares_count_every_image_of_the_set(monkeypatch):
    network = Network([4, 3, 10], seed=0)
    network.weights[0][:] = np.eye(4, 3)  # unit k fires on images with pixel k lit
    images = np.zeros((5000, 4), np.float32)
    images[:10, 0] = 1  # 0.2% of the images light pixel 0 ...
    images[4990:, 1] = 1  # ... and the last 10, beyond any first 2,000, light pixel 1
    shares = visualize.firing_shares(network, images, chunk_size=2000)
    np.testing.assert_allclose(shares[0], [0.002, 0.002, 0.0])


def test_filters_are_shown_at_their_start_trained_and_changed(tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    network = ConvNetwork(conv_channels=(3, 4), hidden_sizes=(8,), seed=5)
    start = network.conv_weights[0].copy()
    network.conv_weights[0] += 1
    visualize.plot_filters(network, tmp_path / "filters.png")
    assert texts["titles"] == [f"{row} {index}" for row in ("start", "trained", "change") for index in range(3)]
    np.testing.assert_allclose(texts["images"][0], start[:, 0].reshape(5, 5))  # rebuilt from the seed
    np.testing.assert_allclose(texts["images"][6], np.ones((5, 5)), rtol=1e-6)


def test_the_prediction_grid_always_shows_some_mistakes(tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    labels = np.arange(100) % 10
    predicted = labels.copy()
    predicted[[51, 62, 73, 84, 95]] = 0  # five mistakes, none among the first 36
    visualize.plot_prediction_grid(np.zeros((100, 784)), labels, predicted, tmp_path / "grid.png")
    mistakes = [f"#{i}: true {i % 10}, pred 0" for i in (51, 62, 73, 84)]
    assert len(texts["titles"]) == 36 and texts["titles"][-4:] == mistakes
    assert texts["titles"][:32] == [f"#{i}: true {i % 10}, pred {i % 10}" for i in range(32)]


def test_one_epoch_curves_have_one_whole_tick(tmp_path, monkeypatch):
    ticks = []
    monkeypatch.setattr(visualize, "save_figure", lambda figure, path: ticks.append(figure.axes[0].get_xticks()))
    history = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "train_accuracy": 0.9, "val_accuracy": 0.88}]
    visualize.plot_training_curves(history, tmp_path / "curves.png")
    assert list(ticks[0]) == [1]


def test_cells_without_mistakes_stay_white(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(visualize, "save_figure", lambda figure, path: drawn.append(figure.axes[0].images[0]))
    counts = np.array([[5, 0], [2, 7]])
    visualize.plot_confusion_matrix(counts, tmp_path / "confusion.png")
    reds = drawn[0].get_array()
    assert reds.mask[0, 1] and reds.mask[0, 0] and not reds.mask[1, 0]  # the 0 and the diagonal are not tinted


def test_a_tuning_figure_without_failures_does_not_mention_them(tmp_path, monkeypatch):
    legends = []
    monkeypatch.setattr(visualize, "save_figure", lambda figure, path: legends.append(figure.axes[0].get_legend()))
    trial = {"learning_rate": 0.1, "hidden_size": 16, "batch_size": 64, "val_accuracy": 0.9, "status": "ok"}
    visualize.plot_tuning_results([trial], tmp_path / "tuning.png")
    visualize.plot_tuning_results([trial, {**trial, "learning_rate": 9, "status": "diverged"}], tmp_path / "t.png")
    assert legends[0].get_title().get_text() == "" and "diverged" in legends[1].get_title().get_text()


def test_visualize_refuses_what_it_cannot_draw(small_mnist, tmp_path):
    save_model(Network([784, 8, 5], seed=0), tmp_path / "five.npz")
    save_model(Network([400, 8, 10], seed=0), tmp_path / "small.npz")
    (tmp_path / "a file").write_text("not a folder")
    cases = [
        (["--weights", tmp_path / "five.npz"], "has 5 outputs"),
        (["--weights", tmp_path / "small.npz"], "takes 20x20 images, not 28x28"),
        (
            ["--weights", tmp_path / "small.npz", "--results-dir", tmp_path / "a file" / "sub"],
            "is a file, not a folder",
        ),
    ]
    for arguments, message in cases:
        figures = ["--results-dir", tmp_path / "figures"]
        result = run_script("visualize.py", *figures, *arguments, "--data-dir", small_mnist, "--no-show")
        assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr, message
        assert not (tmp_path / "figures").exists()


def test_augmented_samples_figure(tmp_path):
    images = np.random.default_rng(2).random((3, 784), dtype=np.float32)
    path = visualize.plot_augmented_samples(images, ["shift", "affine", "elastic"], tmp_path / "augmented.png")
    assert is_png(path)


def test_with_a_display_one_figure_is_shown_and_all_are_freed(tmp_path, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(visualize, "display_available", lambda: True)

    def show():  # instead of a window: which figures would be shown
        shown.append([visualize.plt.figure(number).get_label() for number in visualize.plt.get_fignums()])

    monkeypatch.setattr(visualize.plt, "show", show)
    history = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "train_accuracy": 0.9, "val_accuracy": 0.88}]
    curves = visualize.plot_training_curves(history, tmp_path / "curves.png")
    visualize.plot_confusion_matrix(np.eye(3, dtype=int), tmp_path / "confusion.png")
    visualize.show_or_close(True, curves)
    assert shown == [[str(curves)]] and visualize.plt.get_fignums() == []
    assert f"Showing {curves} in a window; close it to finish" in capsys.readouterr().out
    visualize.plot_confusion_matrix(np.eye(3, dtype=int), tmp_path / "confusion.png")
    visualize.show_or_close(False, curves)  # --no-show: no window, and nothing left open
    assert len(shown) == 1 and visualize.plt.get_fignums() == []


def test_a_full_disk_while_drawing_is_one_error_line(small_mnist, tmp_path, monkeypatch, capsys):
    save_model(Network([784, 8, 10], seed=0), tmp_path / "model.npz")

    def full_disk(path, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(visualize, "write_atomically", full_disk)
    arguments = ["--weights", str(tmp_path / "model.npz"), "--data-dir", str(small_mnist), "--no-show",
                 "--results-dir", str(tmp_path / "figures")]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        visualize.main(arguments)
    assert "error: could not save the figures" in str(exit_info.value) and "No space left" in str(exit_info.value)


def test_a_model_from_an_older_file_without_its_seed_is_drawn_without_its_change(tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    network, cnn = Network([784, 3, 10], seed=3), ConvNetwork(conv_channels=(2, 4), hidden_sizes=(8,), seed=5)
    network.seed = cnn.seed = None  # as model_files.load_model leaves it for a file that does not record it
    visualize.plot_hidden_units(network, np.zeros((5, 784), np.float32), tmp_path / "units.png")
    visualize.plot_filters(cnn, tmp_path / "filters.png")
    assert texts["titles"] == ["unit 0: 0.0%", "unit 1: 0.0%", "unit 2: 0.0%", "trained 0", "trained 1"]
    assert "changed" not in texts["suptitle"][0] and "start" not in texts["suptitle"][1]


# ----- training curves that read at a glance, and runs compared ---------------------------------------------


@pytest.mark.parametrize("low, high", [(0.006, 0.1), (0.03, 40), (0.5, 0.6), (1e-5, 3), (2.2, 2.4)])
def test_log_ticks_are_few_round_and_inside_the_range(low, high):
    ticks = visualize.readable_log_ticks(low, high)
    assert 2 <= len(ticks) <= 7 and all(low <= tick <= high for tick in ticks), ticks
    assert max(ticks) * 10 > high and min(ticks) < 10 * low  # no decade at either end is left without a label


def history_of(epochs, steps=5, validated=True, loss_scale=1.0):
    return [{"epoch": epoch, "train_loss": loss_scale / epoch, "train_accuracy": 0.8 + 0.01 * epoch,
             "val_loss": 1.2 * loss_scale / epoch if validated else None,
             "val_accuracy": 0.85 + 0.01 * epoch if validated else None, "steps": steps, "clipped": 0,
             "step_losses": [loss_scale / (epoch - 1 + (step + 1) / steps) for step in range(steps)],
             "step_norms": [1.0] * steps, "learning_rate": 0.1, "seconds": 1.0}
            for epoch in range(1, epochs + 1)]  # fmt: skip


def test_training_curves_show_every_step_and_say_why_validation_can_be_higher(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(visualize, "save_figure", lambda figure, path: figures.append(figure))
    visualize.plot_training_curves(history_of(3, loss_scale=30), tmp_path / "curves.png", augmented=True)
    loss_axis = figures[0].axes[0]
    step_line = [line for line in loss_axis.get_lines() if line.get_label() == "each training step"][0]
    assert len(step_line.get_xdata()) == 15 and step_line.get_alpha() < 0.5  # lightly, under the epoch means
    labels = [tick for tick in loss_axis.get_yticks() if loss_axis.get_ylim()[0] <= tick <= loss_axis.get_ylim()[1]]
    assert 2 <= len(labels) <= 7 and max(labels) >= 10  # losses up to 30 are labelled up there
    note = " ".join(text.get_text() for text in figures[0].texts)
    assert "on distorted images" in note and "validation can sit above training" in note


def test_two_saved_runs_are_drawn_in_one_figure_with_their_settings(tmp_path):
    for name, rate in (("slow.npz", 0.01), ("fast.npz", 0.3)):
        save_model(Network([784, 8, 10], seed=0), tmp_path / name, history_of(4),
                   {"learning_rate": rate, "hidden_sizes": [8], "weights": name})  # fmt: skip
    result = run_script("visualize.py", "--compare", tmp_path / "slow.npz", tmp_path / "fast.npz", "--no-show",
                        "--results-dir", tmp_path / "figures", timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert is_png(tmp_path / "figures" / "comparison.png") and "Saved figure:" in result.stdout
    labels = visualize.run_labels(["slow.npz", "fast.npz"], [{"learning_rate": 0.01, "hidden_sizes": [8]},
                                                             {"learning_rate": 0.3, "hidden_sizes": [8]}])  # fmt: skip
    assert labels == ["slow.npz: learning_rate 0.01", "fast.npz: learning_rate 0.3"]


def test_a_run_without_a_history_cannot_be_compared_and_says_why(tmp_path):
    save_model(Network([784, 8, 10], seed=0), tmp_path / "old.npz")
    result = run_script("visualize.py", "--compare", tmp_path / "old.npz", "--no-show", "--results-dir", tmp_path,
                        timeout=60)  # fmt: skip
    assert result.returncode == 1 and "holds no training history" in result.stderr and "Traceback" not in result.stderr
