"""Figures: what the network predicts, where it fails, what it learned, and how its training went.

Every figure is saved as a PNG file and its path printed. A window opens only when matplotlib has a
display to draw on and the caller asks for it; on a machine without one (a server, CI) nothing blocks.

Run on its own to draw the figures of a saved model without training again:

    python visualize.py                        # model_weights.npz on the test images of data/, and a
                                               # comparison of the three kinds of augmentation
    python visualize.py --mistakes-only --no-show
"""

import argparse
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator, NullFormatter

import data_loader
from augment import augment_images
from conv_network import ConvNetwork
from model_files import ModelFileError, load_model, write_atomically

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

    With mistakes_only, the grid shows only images the network got wrong.
    """
    shown = np.flatnonzero(true_labels != predicted_labels) if mistakes_only else np.arange(len(images))
    shown = shown[:count]
    columns = int(np.ceil(np.sqrt(count)))
    rows = max(1, int(np.ceil(len(shown) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.7 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, shown):
        correct = true_labels[index] == predicted_labels[index]
        axis.imshow(images[index].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(
            f"true {true_labels[index]}, pred {predicted_labels[index]}",
            color="black" if correct else MISTAKE_COLOR,
            fontsize=9,
        )
    what = "misclassified test images" if mistakes_only else "test images"
    if len(shown) == 0:
        what = "no misclassified test images"
    figure.suptitle(f"Predictions on {what} (mistakes in red)")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_training_curves(history, path):
    """Loss and accuracy per epoch, on the training batches and on the validation set.

    The training figures are averages over the epoch's mini-batches, measured as the network learned
    (on distorted images when augmenting); the validation figures are measured after the epoch.
    """
    epochs = [record["epoch"] for record in history]
    validated = history[0]["val_accuracy"] is not None  # False when training on every image
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [record["train_loss"] for record in history], "o-", label="training batches")
    accuracy_axis.plot(epochs, [100 * record["train_accuracy"] for record in history], "o-", label="training batches")
    if validated:
        loss_axis.plot(epochs, [record["val_loss"] for record in history], "o-", label="validation")
        accuracy_axis.plot(epochs, [100 * record["val_accuracy"] for record in history], "o-", label="validation")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss", yscale="log")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return save_figure(figure, path)


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
    """
    num_classes = len(counts)
    on_diagonal = np.eye(num_classes, dtype=bool)
    mistakes = np.ma.masked_where(on_diagonal, counts)
    figure, (matrix_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1.4, 1]})
    most_mistakes = max(int(mistakes.max()), 1)  # at least 1, so that a perfect score still draws
    matrix_axis.imshow(mistakes, cmap="Reds", vmin=0, vmax=most_mistakes)
    matrix_axis.imshow(np.ma.masked_where(~on_diagonal, counts), cmap="Greens", vmin=0, vmax=2 * counts.max())
    for (i, j), count in np.ndenumerate(counts):
        dark = not on_diagonal[i, j] and count > 0.6 * mistakes.max()
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


def plot_hidden_units(first_layer_weights, path, count=36, image_shape=(28, 28), seed=0):
    """The input weights of a random sample of hidden units, each drawn as an image.

    first_layer_weights: (784, H). Column k holds the weight unit k gives to every pixel: red pixels push
    the unit towards firing, blue ones hold it back, white ones do not matter.
    """
    hidden_size = first_layer_weights.shape[1]
    units = np.sort(np.random.default_rng(seed).choice(hidden_size, size=min(count, hidden_size), replace=False))
    return plot_weight_images(
        [first_layer_weights[:, unit].reshape(image_shape) for unit in units], [f"unit {unit}" for unit in units],
        f"What {len(units)} of the {hidden_size} hidden units look for (red +, blue -)", path,
    )  # fmt: skip


def plot_filters(filters, kernel_size, path):
    """The first convolution layer's filters, each a kernel_size x kernel_size image (red +, blue -).

    filters: (K * K * 1, C). A filter responds most to a patch that looks like it: many turn out to be
    detectors of strokes and edges in one direction.
    """
    count = filters.shape[1]
    return plot_weight_images(
        [filters[:, index].reshape(kernel_size, kernel_size) for index in range(count)],
        [f"filter {index}" for index in range(count)],
        f"The {count} learned {kernel_size}x{kernel_size} filters of the first convolution layer", path, columns=8,
    )  # fmt: skip


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
    Diverged trials are marked with an x at the bottom of their panel.
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
    axes[0, 0].legend(title="x: diverged", fontsize=8)
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
        plot_filters(network.conv_weights[0], network.kernel_size, results_dir / "filters.png")
        plot_feature_maps(network, test_images[0], results_dir / "feature_maps.png")
    else:
        plot_hidden_units(network.weights[0], results_dir / "hidden_units.png", image_shape=shape)


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
    parser = argparse.ArgumentParser(description="Draw the evaluation figures of a saved model on the test images.")
    parser.add_argument("--weights", default="model_weights.npz", help="model file to load (default: %(default)s)")
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="where to save the figures (default: %(default)s)")
    parser.add_argument("--mistakes-only", action="store_true", help="prediction grid of misclassified images only")
    parser.add_argument("--no-show", action="store_true", help="save the figures without opening a window")
    args = parser.parse_args(argv)
    try:
        network = load_model(args.weights)
        test_images, test_labels = data_loader.load_test_data(args.data_dir)
    except (ModelFileError, data_loader.DataError) as error:
        sys.exit(f"error: {error}")
    if np.prod(network.image_shape) != test_images.shape[1]:
        sys.exit(f"error: '{args.weights}' expects {network.image_shape} images, "
                 f"but the images in '{args.data_dir}' have {test_images.shape[1]} pixels")  # fmt: skip
    probabilities = network.predict_probabilities(test_images)  # (N, 10)
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    evaluation_figures(network, test_images, test_labels, probabilities, args.results_dir, args.mistakes_only)
    methods, path = ["shift", "affine", "elastic"], Path(args.results_dir) / "augmented_samples.png"
    plot_augmented_samples(test_images[:4], methods, path, image_shape=network.image_shape)
    show_or_close(not args.no_show)


if __name__ == "__main__":
    main()
