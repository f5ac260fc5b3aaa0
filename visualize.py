"""Figures: what the network predicts, where it fails, what it learned, and how its training went.

Every figure is saved as a PNG file and its path printed. A window opens only when matplotlib has a
display to draw on and the caller asks for it; on a machine without one (a server, CI) nothing blocks.

Run on its own to draw the figures of a saved model without training again:

    python visualize.py                        # model_weights.npz on the test images of data/, and a
                                               # comparison of the three kinds of augmentation
    python visualize.py --mistakes-only --no-show
    python visualize.py --compare small.npz model_weights.npz   # the curves of two saved runs in one figure
"""

import support.startup  # first: a clear message if a package is missing, and a clean Ctrl-C

import argparse
import math
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

import data_loader
from augment import augment_images
from conv_network import ConvNetwork
from network import Network
from support.files import folder_problem, write_atomically
from support.model_files import ModelFileError, load_digit_model, load_history

# A title sits just above its drawing. Fixing its height spares matplotlib a slow search, for every one of the
# dozens of small drawings in a grid, for a spot clear of tick labels these drawings do not have.
matplotlib.rcParams["axes.titley"] = 1.0
# Backends that draw into files only. With any other, plt.show() opens a window.
FILE_ONLY_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
MISTAKE_COLOR = "red"


def display_available():
    """True when matplotlib chose a backend that can open windows.

    On a machine without a screen, matplotlib falls back to the file-only 'Agg' backend by itself,
    and the tests select it explicitly with MPLBACKEND=Agg.
    """
    return matplotlib.get_backend().lower() not in FILE_ONLY_BACKENDS


def save_figure(figure, path):
    """Save `figure` as a PNG at `path` (atomically: see model_files.py), print the path and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=100))
    figure.set_label(str(path))  # so that show_or_close can find it by its file
    print(f"Saved figure: {path}")
    return path


def plot_prediction_grid(
    images, true_labels, predicted_labels, path, mistakes_only=False, count=36, image_shape=(28, 28)
):
    """A grid of images, each titled with its true and predicted label; wrong predictions in red.

    It shows the first `count` images, with the first few mistakes put in when the first images hold
    fewer (a good network makes none among the first 36): what a mistake looks like is the lesson.
    With mistakes_only, the grid shows only images the network got wrong.
    """
    shown = chosen_for_the_grid(true_labels, predicted_labels, mistakes_only, count)
    columns = int(np.ceil(np.sqrt(count)))
    rows = max(1, int(np.ceil(len(shown) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.7 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, shown):
        correct = true_labels[index] == predicted_labels[index]
        axis.imshow(images[index].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(f"#{index}: true {true_labels[index]}, pred {predicted_labels[index]}",
                       color="black" if correct else MISTAKE_COLOR, fontsize=8)  # fmt: skip
    if mistakes_only:
        what = f"the first {len(shown)} misclassified test images" if len(shown) else "no misclassified test images"
    else:
        what = "test images, with the first mistakes among them"
    figure.suptitle(f"Predictions on {what} (mistakes in red)")
    figure.tight_layout()
    return save_figure(figure, path)


def chosen_for_the_grid(true_labels, predicted_labels, mistakes_only, count, least_mistakes=4):
    """Indices of the images the prediction grid shows, in test-set order."""
    wrong = np.flatnonzero(true_labels != predicted_labels)
    if mistakes_only:
        return wrong[:count]
    first = np.arange(min(count, len(true_labels)))
    missing = max(0, least_mistakes - np.count_nonzero(wrong < len(first)))
    extra = wrong[wrong >= len(first)][: min(missing, len(first))]  # the next mistakes, in place of the last images
    return np.concatenate([first[: len(first) - len(extra)], extra])


def plot_training_curves(history, path, augmented=False):
    """Loss and accuracy per epoch, on the training batches and on the validation set; under the loss, lightly,
    the loss of every single step, so that the noise of the mini-batches shows.

    The training figures are means over the epoch's mini-batches, measured while the network learned (on
    distorted images when `augmented`); the validation figures are measured after the epoch, on the images
    as they are. So validation can sit above training, and the figure says why.
    """
    epochs = [record["epoch"] for record in history]
    validated = history[0]["val_accuracy"] is not None  # False when training on every image
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4.4))
    losses = [record["train_loss"] for record in history]
    steps = [(record["epoch"] - 1 + (index + 1) / len(record.get("step_losses") or [0]), loss)
             for record in history for index, loss in enumerate(record.get("step_losses") or [])]  # fmt: skip
    if steps:
        loss_axis.plot(*zip(*steps), color="tab:blue", alpha=0.25, linewidth=0.6, label="each training step")
    loss_axis.plot(epochs, losses, "o-", color="tab:blue", label="training batches, epoch mean")
    accuracy_axis.plot(epochs, [100 * record["train_accuracy"] for record in history], "o-", label="training batches")
    if validated:
        loss_axis.plot(epochs, [record["val_loss"] for record in history], "o-", color="tab:orange", label="validation")
        accuracy_axis.plot(epochs, [100 * record["val_accuracy"] for record in history], "o-", label="validation")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss", yscale="log")
    shown = [loss for _, loss in steps] + losses + [record["val_loss"] for record in history if validated]
    set_readable_log_ticks(loss_axis, min(shown), max(shown))
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axis in (loss_axis, accuracy_axis):
        if len(epochs) <= 12:
            axis.set_xticks(epochs)  # every epoch, and only whole ones
        else:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    distorted = ", on distorted images" if augmented else ""
    figure.text(0.5, 0.01, f"Training: measured on the mini-batches{distorted}, while the network still learns. "
                "Validation: after each epoch, on images as they are.\nSo validation can sit above training.",
                ha="center", fontsize=8)  # fmt: skip
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(figure, path)


def readable_log_ticks(low, high, most=7):
    """Values to label on a log axis from `low` to `high`: 1, 2 and 5 times powers of ten, fewer if they would
    crowd (1 and 3, then 1 alone), and at least the two ends when no round value lies between them."""
    powers = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for multiples in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**power for power in powers for m in multiples if low <= m * 10.0**power <= high]
        if len(ticks) <= most:
            break
    return ticks if len(ticks) >= 2 else [float(f"{low:.2g}"), float(f"{high:.2g}")]


def set_readable_log_ticks(axis, low, high):
    """Label a log axis that shows the values `low` to `high` with readable_log_ticks, as plain numbers."""
    low, high = low / 1.2, high * 1.2  # a little room above and below
    axis.set_ylim(low, high)
    axis.yaxis.set_major_locator(FixedLocator(readable_log_ticks(low, high)))
    axis.yaxis.set_minor_locator(NullLocator())
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:g}"))  # 0.4, not 4x10^-1


def plot_run_comparison(runs, path):
    """The curves of several saved runs in one figure: runs is a list of (label, history).

    Left, the training loss (epoch means, solid) and the validation loss (dashed); right, the validation
    accuracy (solid) and the training accuracy (dashed). One colour per run; its label says how it differs.
    """
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.6))
    shown = []
    for (label, history), color in zip(runs, plt.cm.tab10.colors):
        epochs = [record["epoch"] for record in history]
        losses = [record["train_loss"] for record in history]
        loss_axis.plot(epochs, losses, "-", color=color, label=label)
        accuracy_axis.plot(epochs, [100 * record["train_accuracy"] for record in history], "--", color=color)
        shown += losses
        if history[0]["val_loss"] is not None:
            loss_axis.plot(epochs, [record["val_loss"] for record in history], "--", color=color)
            accuracy_axis.plot(epochs, [100 * record["val_accuracy"] for record in history], "-", color=color,
                               label=label)  # fmt: skip
            shown += [record["val_loss"] for record in history]
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss: training (solid), validation (dashed)",
                  yscale="log")  # fmt: skip
    set_readable_log_ticks(loss_axis, min(shown), max(shown))
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy: validation (solid), training (dashed)")
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
    loss_axis.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


def run_labels(paths, settings):
    """A legend label per run: its file name, and the settings in which the runs differ."""
    names = sorted({name for run in settings for name in run} - {"weights", "results_dir", "no_show", "preset"})
    differing = [name for name in names if len({repr(run.get(name)) for run in settings}) > 1]
    return [f"{Path(path).name}: " + (", ".join(f"{name} {format_setting(run.get(name))}" for name in differing)
                                      or "the same settings") for path, run in zip(paths, settings)]  # fmt: skip


def format_setting(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def confusion_matrix(true_labels, predicted_labels, num_classes=10):
    """counts[i, j] = how many images of digit i the network called j. The diagonal holds the correct ones."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (true_labels, predicted_labels), 1)  # one count for every (true, predicted) pair
    return counts


def per_class_accuracy(counts):
    """Fraction of each digit's images classified correctly: the diagonal over the row sums."""
    return np.diag(counts) / np.maximum(counts.sum(axis=1), 1)


def format_confusion_table(counts):
    """The confusion matrix and per-class accuracy as text: one row per true digit."""
    classes = range(len(counts))
    lines = ["true \\ predicted " + "".join(f"{j:>6}" for j in classes) + "  accuracy"]
    for i, accuracy in zip(classes, per_class_accuracy(counts)):
        lines.append(f"{i:>17} " + "".join(f"{counts[i, j]:>6}" for j in classes) + f"  {100 * accuracy:7.2f}%")
    return "\n".join(lines)


def plot_confusion_matrix(counts, path):
    """The confusion matrix as a grid of counts, beside the accuracy of every digit.

    Correct predictions (the diagonal) are drawn in green; mistakes in shades of red, darker for more,
    on their own scale, so that a handful of confusions stands out next to a thousand correct answers.
    Cells with no mistake stay white.
    """
    num_classes = len(counts)
    on_diagonal = np.eye(num_classes, dtype=bool)
    mistakes = np.ma.masked_where(on_diagonal | (counts == 0), counts)
    figure, (matrix_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1.4, 1]})
    most_mistakes = max(int(mistakes.max() or 0), 1)  # at least 1, so that a perfect score still draws
    matrix_axis.imshow(mistakes, cmap="Reds", vmin=0, vmax=most_mistakes)
    matrix_axis.imshow(np.ma.masked_where(~on_diagonal, counts), cmap="Greens", vmin=0, vmax=2 * counts.max())
    for (i, j), count in np.ndenumerate(counts):
        dark = not on_diagonal[i, j] and count > 0.6 * most_mistakes
        matrix_axis.text(j, i, str(count), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    matrix_axis.set(
        xticks=range(num_classes), yticks=range(num_classes), xlabel="predicted digit", ylabel="true digit",
        title="Confusion matrix (green: correct, red: mistakes)",
    )  # fmt: skip
    accuracy = 100 * per_class_accuracy(counts)
    accuracy_axis.barh(range(num_classes), accuracy, color="tab:green")
    for i, value in enumerate(accuracy):
        accuracy_axis.text(value, i, f" {value:.1f}%", va="center", fontsize=8)
    accuracy_axis.set(
        yticks=range(num_classes), xlim=(min(90, accuracy.min() - 1), 100.5), xlabel="accuracy (%)",
        title="Accuracy per digit",
    )  # fmt: skip
    accuracy_axis.invert_yaxis()
    figure.tight_layout()
    return save_figure(figure, path)


def plot_confident_mistakes(images, true_labels, probabilities, path, count=24, image_shape=(28, 28)):
    """The misclassified images the network was surest about, with its confidence in the wrong answer.

    probabilities: (N, 10) softmax outputs. Some of these digits are badly written or even mislabelled;
    others show what the network has not understood.
    """
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)  # the probability given to the predicted digit
    wrong = np.flatnonzero(predicted != true_labels)
    shown = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    columns = 8
    rows = max(1, int(np.ceil(len(shown) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, shown):
        axis.imshow(images[index].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(
            f"true {true_labels[index]}, pred {predicted[index]}\n{100 * confidence[index]:.1f}% sure",
            color=MISTAKE_COLOR, fontsize=8,
        )  # fmt: skip
    figure.suptitle(f"The {len(shown)} most confident mistakes (of {len(wrong)})")
    figure.tight_layout()
    return save_figure(figure, path)


def firing_shares(network, images, chunk_size=None):
    """For every hidden layer, the share of `images` on which each of its units fires (H > 0): a list of (n,) arrays."""
    counts, chunk_size = None, chunk_size or network.evaluation_chunk
    for start in range(0, len(images), chunk_size):
        fired = [
            np.count_nonzero(H > 0, axis=0) for H in network.hidden_activations(images[start : start + chunk_size])
        ]
        counts = fired if counts is None else [total + more for total, more in zip(counts, fired)]
    return [count / len(images) for count in counts or []]


def report_dead_units(network, images, set_name):
    """Print how many ReLU units of each hidden layer fire on fewer than 1% of `images` (the `set_name` digits).

    A ReLU unit that does not fire passes no gradient back to its weights, so it has stopped learning; a run
    that starts with steps too large switches many of them off for good. (A tanh or sigmoid unit never does.)
    """
    if network.activation != "relu" or len(network.layer_sizes) < 3:
        return
    shares = firing_shares(network, images)
    counts = [f"{np.count_nonzero(share < 0.01)} of {len(share)}" for share in shares]
    where = [f" in layer {layer}" for layer in range(1, len(shares) + 1)] if len(shares) > 1 else [""]
    never = sum(np.count_nonzero(share == 0) for share in shares)
    print(f"Hidden units firing on fewer than 1% of the {set_name} digits: "
          + ", ".join(count + layer for count, layer in zip(counts, where))
          + (f" ({never} of them never fire)" if never else ""))  # fmt: skip
    print("  A unit that does not fire gets no gradient and learns nothing more; a warm-up (--warmup-epochs 1) or a "
          "smaller --learning-rate keeps more of them alive (README: What to try next)")  # fmt: skip


def units_to_show(shares, count):
    """Which units the hidden-units figure shows, in that order, and its rule in words: the most active third, a
    few typical ones (nearest the median share), then every silent one (firing on fewer than 1% of the images) as
    far as the grid goes, and more typical ones in the places left."""
    order = list(np.argsort(-shares, kind="stable"))  # the most active first
    if count >= len(shares):
        return order, f"all {len(shares)}"
    active = order[: count // 3]
    by_typicality = [unit for unit in np.argsort(np.abs(shares - np.median(shares)), kind="stable")]
    silent = [unit for unit in reversed(order) if shares[unit] < 0.01 and unit not in active]
    silent = silent[: count - len(active) - max(1, count // 6)]
    typical = [unit for unit in by_typicality if unit not in active + silent][: count - len(active) - len(silent)]
    all_silent = np.count_nonzero(shares < 0.01)
    if all_silent == 0:
        return active + typical, f"the {len(active)} most active and {len(typical)} typical (none is silent)"
    which_silent = f"{'all ' if len(silent) == all_silent else ''}{len(silent)} silent (firing on fewer than 1%)"
    return active + typical + silent, f"the {len(active)} most active, {len(typical)} typical and {which_silent}"


def plot_hidden_units(network, images, path, count=24, set_name="test"):
    """First-layer hidden units, chosen by how often they fire: each unit's input weights, and what training changed.

    Column k of W1 holds the weight unit k gives to every pixel: red pixels push the unit towards firing, blue
    ones hold it back. The weights are the random start plus what training added; the change (end - start) shows
    the learned part alone. Each unit is titled with the share of all `images` (the `set_name` digits) it fires
    on, and how far its weights moved from their start (|change| / |start|): a unit that fires on almost no image
    gets almost no gradient. A model whose file does not record its seed is drawn without the change.
    """
    W1 = network.weights[0]  # (784, H)
    start = None
    if network.seed is not None:
        start = Network(network.layer_sizes, seed=network.seed, init=network.init).weights[0]
    shares = firing_shares(network, images)[0]  # (H,): the share of the images each unit fires on
    hidden_size = W1.shape[1]
    units, rule = units_to_show(shares, min(count, hidden_size))
    pictures, titles = [], []
    for unit in units:
        pictures.append(W1[:, unit].reshape(network.image_shape))
        titles.append(f"unit {unit}: {100 * shares[unit]:.1f}%")
        if start is not None:
            change = W1[:, unit] - start[:, unit]
            pictures.append(change.reshape(network.image_shape))
            titles.append(f"moved {100 * np.linalg.norm(change) / np.linalg.norm(start[:, unit]):.0f}%")
    which = f"{rule} of the {hidden_size}" if len(units) < hidden_size else f"the {hidden_size}"  # all: by activity
    what = "each unit's weights" if start is None else "each unit's weights, then what training changed"
    moved = "" if start is None else "; moved = |change| / |start|"
    title = (f"What {which} hidden units look for: {what}\n(red +, blue -; % = share of the {len(images):,} "
             f"{set_name} digits the unit fires on{moved})")  # fmt: skip
    return plot_weight_images(pictures, titles, title, path, columns=min(12, len(pictures)))


def plot_filters(network, path):
    """The first convolution layer's filters at their random start, after training, and the change between.

    Each filter is a K x K image (red +, blue -). A filter responds most to a patch that looks like it: the
    change shows what training taught it, often a stroke or an edge in one direction. A model whose file does
    not record its seed (an older file) is drawn without its start and change.
    """
    end, size = network.conv_weights[0], network.kernel_size  # (K * K, C)
    count = min(end.shape[1], 8)
    if network.seed is None:
        rows, title = {"trained": end}, f"The first layer's {size}x{size} filters"
    else:
        start = ConvNetwork(network.conv_channels, network.hidden_sizes, network.kernel_size, seed=network.seed,
                            image_shape=network.image_shape, init=network.init).conv_weights[0]  # fmt: skip
        moved = np.linalg.norm(end - start, axis=0) / np.linalg.norm(start, axis=0)
        rows = {"start": start, "trained": end, "change": end - start}
        title = (f"First-layer {size}x{size} filters: start, trained, and the change (they moved by a median "
                 f"{100 * np.median(moved):.0f}% of their start, {end.shape[1]} filters)")  # fmt: skip
    pictures = [array[:, index].reshape(size, size) for array in rows.values() for index in range(count)]
    titles = [f"{row} {index}" for row in rows for index in range(count)]
    return plot_weight_images(pictures, titles, title, path, columns=count)


def plot_weight_images(weight_images, titles, suptitle, path, columns=None):
    """Draw each 2-D array of weights in a cell of a grid: red positive, blue negative, white 0.

    Each image has its own colour scale, centred on zero, so that weak and strong units are both visible.
    """
    columns = columns or int(np.ceil(np.sqrt(len(weight_images))))
    columns = min(columns, len(weight_images))
    rows = int(np.ceil(len(weight_images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.5 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, weights, title in zip(axes.flat, weight_images, titles):
        limit = max(float(np.abs(weights).max()), 1e-12)
        axis.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(title, fontsize=8)
    figure.suptitle(suptitle)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_feature_maps(network, image, path, per_layer=12):
    """One digit, and what the first filters of each convolution layer see in it (their rectified responses)."""
    maps = network.feature_maps(image)  # a list of (OH, OW, C) arrays
    columns = per_layer
    figure, axes = plt.subplots(len(maps), columns + 1, figsize=(1.2 * (columns + 1), 1.7 * len(maps)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    axes[0, 0].imshow(image.reshape(network.image_shape), cmap="gray_r", vmin=0, vmax=1)
    axes[0, 0].set_title("input", fontsize=8)
    for layer, layer_maps in enumerate(maps):
        for channel in range(min(columns, layer_maps.shape[2])):
            axis = axes[layer, channel + 1]
            axis.imshow(layer_maps[:, :, channel], cmap="magma")
            axis.set_title(f"conv{layer + 1} #{channel}", fontsize=7)
    figure.suptitle("Feature maps: where each filter responds in this digit (bright = strong)")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_augmented_samples(images, methods, path, samples=4, max_shift=1, image_shape=(28, 28), seed=0):
    """Each row: an original image, then `samples` random distortions of it by each augmentation method.

    images: (N, 784), a few originals. Drawing the distortions is the way to check their strength by eye:
    each should still be, unmistakably, the same digit.
    """
    rng = np.random.default_rng(seed)
    columns = 1 + samples * len(methods)
    figure, axes = plt.subplots(len(images), columns, figsize=(1.1 * columns, 1.2 * len(images)), squeeze=False)
    for row, image in enumerate(images):
        copies = np.repeat(image[None, :], samples, axis=0)  # (samples, 784)
        distorted = [augment_images(copies, method, rng, max_shift, image_shape) for method in methods]
        for column, picture in enumerate([image, *np.concatenate(distorted)]):
            axis = axes[row, column]
            axis.imshow(picture.reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title("original" if column == 0 else methods[(column - 1) // samples], fontsize=9)
    figure.suptitle("Augmentation: each digit and random distortions of it", y=1.0)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_tuning_results(results, path):
    """Validation accuracy against learning rate: one panel per batch size, one line per hidden size.

    results: the trials of tune.py, dicts with learning_rate, hidden_size, batch_size, val_accuracy, status.
    Failed trials (diverged or not learning) are marked with an x at the bottom of their panel.
    """
    batch_sizes = sorted({result["batch_size"] for result in results})
    hidden_sizes = sorted({result["hidden_size"] for result in results})
    colors = dict(zip(hidden_sizes, plt.cm.viridis(np.linspace(0, 0.85, len(hidden_sizes)))))
    figure, axes = plt.subplots(1, len(batch_sizes), figsize=(4.5 * len(batch_sizes), 4), sharey=True, squeeze=False)
    finished = [result for result in results if result["status"] == "ok"]
    floor = min((100 * result["val_accuracy"] for result in finished), default=0) - 0.5
    for axis, batch_size in zip(axes[0], batch_sizes):
        for hidden_size in hidden_sizes:
            trials = sorted((r for r in results if r["batch_size"] == batch_size and r["hidden_size"] == hidden_size),
                            key=lambda r: r["learning_rate"])  # fmt: skip
            done = [r for r in trials if r["status"] == "ok"]
            axis.plot([r["learning_rate"] for r in done], [100 * r["val_accuracy"] for r in done], "o-",
                      color=colors[hidden_size], label=f"{hidden_size} hidden units")  # fmt: skip
            failed = [r["learning_rate"] for r in trials if r["status"] != "ok"]
            axis.plot(failed, [floor] * len(failed), "x", color=colors[hidden_size], markersize=10)
        axis.set(xscale="log", xlabel="learning rate", title=f"batch size {batch_size}")
        rates = sorted({result["learning_rate"] for result in results})
        if len(rates) <= 6:  # a grid: label exactly the learning rates tried, as plain numbers
            axis.set_xticks(rates, [f"{rate:g}" for rate in rates])
            axis.xaxis.set_minor_formatter(NullFormatter())
        axis.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("validation accuracy (%)")
    any_failed = any(result["status"] != "ok" for result in results)
    axes[0, 0].legend(title="x: diverged or not learning" if any_failed else None, fontsize=8)
    figure.suptitle("Hyperparameter search, scored on the validation set")
    figure.tight_layout()
    return save_figure(figure, path)


def evaluation_figures(network, test_images, test_labels, probabilities, results_dir, mistakes_only=False):
    """Print the confusion table and save every figure about a network's test predictions.

    probabilities: the network's (N, 10) softmax outputs for test_images.
    """
    results_dir = Path(results_dir)
    predictions = probabilities.argmax(axis=1)
    counts = confusion_matrix(test_labels, predictions, network.num_classes)
    print(format_confusion_table(counts))
    shape = network.image_shape
    plot_prediction_grid(
        test_images, test_labels, predictions, results_dir / "predictions.png", mistakes_only, image_shape=shape
    )
    plot_confusion_matrix(counts, results_dir / "confusion_matrix.png")
    plot_confident_mistakes(test_images, test_labels, probabilities, results_dir / "confident_mistakes.png",
                            image_shape=shape)  # fmt: skip
    if isinstance(network, ConvNetwork):
        plot_filters(network, results_dir / "filters.png")
        plot_feature_maps(network, test_images[0], results_dir / "feature_maps.png")
    else:
        plot_hidden_units(network, test_images, results_dir / "hidden_units.png")


def show_or_close(show, path=None):
    """Open one figure, the one saved at `path` (or every figure, without a path), in a window if asked and
    possible; this waits until the window is closed. Then free them all: every figure is in its PNG file."""
    if show and display_available():
        if path is not None:
            for number in plt.get_fignums():
                if plt.figure(number).get_label() != str(path):
                    plt.close(number)
            print(f"Showing {path} in a window; close it to finish (--no-show saves the figures without a window)")
        plt.show()
    plt.close("all")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw the figures of a saved model, or compare saved runs.")
    parser.add_argument("--weights", default="model_weights.npz", help="model file to load (default: %(default)s)")
    parser.add_argument("--compare", nargs="+", metavar="WEIGHTS", help="weights files of runs to draw in one figure")
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="where to save the figures (default: %(default)s)")
    parser.add_argument("--mistakes-only", action="store_true", help="prediction grid of misclassified images only")
    parser.add_argument("--no-show", action="store_true", help="save the figures without opening a window")
    args = parser.parse_args(argv)
    problem = folder_problem(args.results_dir, "--results-dir")
    if problem:
        parser.error(problem)
    if args.compare:
        compare_saved_runs(args)
    else:
        draw_saved_model(args)


def compare_saved_runs(args):
    """Draw the curves of the runs saved in args.compare in one figure, comparison.png."""
    runs, settings = [], []
    try:
        for path in args.compare:
            history, run_settings = load_history(path)
            if not history:
                sys.exit(f"error: '{path}' holds no training history (it was saved by an older version, or not by "
                         "train.py); train it again to compare it")  # fmt: skip
            runs.append(history)
            settings.append(run_settings)
    except ModelFileError as error:
        sys.exit(f"error: {error}")
    path = Path(args.results_dir) / "comparison.png"
    try:
        plot_run_comparison(list(zip(run_labels(args.compare, settings), runs)), path)
    except OSError as error:
        sys.exit(f"error: could not save the figure in '{args.results_dir}' ({error.strerror or error})")
    show_or_close(not args.no_show, path)


def draw_saved_model(args):
    """Load the model and the test images, print the test accuracy, and draw every figure."""
    try:
        test_images, test_labels = data_loader.load_test_data(args.data_dir)
        network = load_digit_model(args.weights, image_shape=data_loader.read_image_shape(args.data_dir, "test"))
        history, settings = load_history(args.weights)
    except (ModelFileError, data_loader.DataError) as error:
        sys.exit(f"error: {error}")
    probabilities = network.predict_probabilities(test_images)  # (N, 10)
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    results = Path(args.results_dir)
    try:
        evaluation_figures(network, test_images, test_labels, probabilities, results, args.mistakes_only)
        if history:
            plot_training_curves(history, results / "training_curves.png", settings.get("augment", "none") != "none")
        methods = ["shift", "affine", "elastic"]
        plot_augmented_samples(
            test_images[:4], methods, results / "augmented_samples.png", image_shape=network.image_shape
        )
    except OSError as error:
        sys.exit(f"error: could not save the figures in '{results}' ({error.strerror or error})")
    show_or_close(not args.no_show, results / "predictions.png")


if __name__ == "__main__":
    support.startup.run(main)
