"""Figures: what the network predicts and how its training went.

Every figure is saved as a PNG file and its path printed. A window opens only when matplotlib has a
display to draw on and the caller asks for it; on a machine without one (a server, CI) nothing blocks.

Run on its own to draw the figures of a saved model without training again:

    python visualize.py                        # model_weights.npz on the test images of data/
    python visualize.py --mistakes-only --no-show
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

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
    """Save `figure` as a PNG at `path` (written to a temporary file, then renamed) and print the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temporary_file:
            figure.savefig(temporary_file, format="png", dpi=100)
        os.replace(temporary_name, path)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
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
    (and on shifted images when augmenting); the validation figures are measured after the epoch.
    """
    epochs = [record["epoch"] for record in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [record["train_loss"] for record in history], "o-", label="training batches")
    loss_axis.plot(epochs, [record["val_loss"] for record in history], "o-", label="validation")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss", yscale="log")
    accuracy_axis.plot(epochs, [100 * record["train_accuracy"] for record in history], "o-", label="training batches")
    accuracy_axis.plot(epochs, [100 * record["val_accuracy"] for record in history], "o-", label="validation")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return save_figure(figure, path)


def show_or_close(show):
    """Open the figures in windows if asked and possible (this blocks until they are closed); else free them."""
    if show and display_available():
        plt.show()
    plt.close("all")


def main(argv=None):
    import data_loader
    from network import ModelFileError, Network

    parser = argparse.ArgumentParser(description="Draw the prediction grid of a saved model on the test images.")
    parser.add_argument("--weights", default="model_weights.npz", help="model file to load (default: %(default)s)")
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="where to save the figures (default: %(default)s)")
    parser.add_argument("--mistakes-only", action="store_true", help="show only misclassified test images")
    parser.add_argument("--no-show", action="store_true", help="save the figures without opening a window")
    args = parser.parse_args(argv)
    try:
        network = Network.load(args.weights)
        test_images, test_labels = data_loader.load_test_data(args.data_dir)
    except (ModelFileError, data_loader.DataError) as error:
        sys.exit(f"error: {error}")
    predictions = network.predict(test_images)
    print(f"Test accuracy: {100 * np.mean(predictions == test_labels):.2f}%")
    plot_prediction_grid(
        test_images,
        test_labels,
        predictions,
        Path(args.results_dir) / "predictions.png",
        mistakes_only=args.mistakes_only,
        image_shape=network.image_shape,
    )
    show_or_close(not args.no_show)


if __name__ == "__main__":
    main()
