"""Classify your own handwriting: image files, or a digit drawn with the mouse.

    python predict.py my7.png photo_of_a_3.jpg      # one line per file: the digit and the top 3 guesses
    python predict.py "photos/*.jpg"                # wildcards work in every shell, Windows' too
    python predict.py my7.png --show                # also draw each picture, its 28x28 version, the ten odds
    python predict.py                               # a window to draw in (needs a display)

Every picture goes through preprocess.py first, which turns it into an MNIST-style 28x28 image: the network
has never seen anything else.
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import argparse
import glob
import os
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.widgets import Button
from PIL import Image

import visualize
from preprocess import BlankImageError, preprocess
from support.model_files import ModelFileError, load_digit_model

CANVAS_SIZE = 112  # the drawing canvas, in pixels: 4 times MNIST's 28
BRUSH_RADIUS = 4.5  # pixels of the canvas
MAX_PIXELS = 50_000_000  # larger pictures are refused: a 50-megapixel RGBA picture alone takes 200 MB
WORKING_SIZE = 500  # pictures are shrunk to at most this many pixels on their longer side as they are read
WILDCARD_CHARACTERS = "*?["


def read_image(path):
    """The picture in `path` as an array (PNG, JPEG and the other formats Pillow reads), at most WORKING_SIZE
    pixels on its longer side.

    Opening a picture reads only its header. Its size is checked before any pixel is decoded: a small file
    can declare a huge picture (a "decompression bomb"). A large picture is shrunk as it is decoded (see
    `decode_shrunk`): a 12-megapixel phone photo would take over 100 MB as floats, and a digit needs far fewer
    pixels than that. Pictures of WORKING_SIZE pixels or less come back exactly as they are in the file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS, lower, is checked next
            picture = Image.open(path)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except Exception as error:  # Pillow raises many kinds of errors for broken files
        raise ValueError(f"cannot read it as an image ({type(error).__name__}: {error})") from None
    with picture:
        width, height = picture.size
        if width * height > MAX_PIXELS:
            raise ValueError(
                f"the picture is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
                f"pictures of more than {MAX_PIXELS // 1_000_000} megapixels are refused"
            )
        try:
            return decode_shrunk(picture)
        except MemoryError:
            raise  # not the file's fault: classify_files reports it as it is
        except Exception as error:
            raise ValueError(f"cannot read it as an image ({type(error).__name__}: {error})") from None


def decode_shrunk(picture):
    """The pixels of an opened Pillow picture as a uint8 (or uint16) array, shrunk to at most WORKING_SIZE
    pixels on the longer side, keeping its proportions.

    `thumbnail` shrinks with a box filter, each new pixel the average of the old ones it covers, which also
    averages away a camera's noise. A JPEG is even decoded at 1/2, 1/4 or 1/8 of its size directly, which
    JPEG allows, when that is still at least twice the size wanted.
    """
    if picture.mode in ("1", "P"):  # black-and-white or palette pixels cannot be averaged: make them grey levels
        picture = picture.convert("L" if picture.mode == "1" else "RGBA")
    picture.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
    if picture.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):  # CMYK, for example; I;16 is 16-bit grey
        picture = picture.convert("RGBA")
    return np.asarray(picture)  # (H, W) grey, (H, W, 2) grey and alpha, (H, W, 3) RGB or (H, W, 4) RGBA


def top_guesses(probabilities, count=3):
    """'7 97.9%, 1 1.1%, 2 0.4%': the `count` most probable digits with their probabilities."""
    best = np.argsort(-probabilities, kind="stable")[:count]
    return ", ".join(f"{digit} {100 * probabilities[digit]:.1f}%" for digit in best)


def classify_file(network, path):
    """(picture, its 28x28 version, the ten probabilities) for one image file."""
    picture = read_image(path)
    digit_image = preprocess(picture)  # (28, 28)
    probabilities = network.predict_probabilities(digit_image.reshape(1, -1))[0]  # (10,)
    return picture, digit_image, probabilities


def plot_prediction(picture, digit_image, probabilities, title, path):
    """The picture as given, what the network sees, and its ten probabilities."""
    figure, (original_axis, digit_axis, bars_axis) = plt.subplots(1, 3, figsize=(11, 3.4))
    original_axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    original_axis.set_title(title)
    digit_axis.imshow(digit_image, cmap="gray", vmin=0, vmax=1)
    digit_axis.set_title("what the network sees (28x28)")
    for axis in (original_axis, digit_axis):
        axis.axis("off")
    draw_probability_bars(bars_axis, probabilities)
    figure.tight_layout()
    return visualize.save_figure(figure, path)


def draw_probability_bars(axis, probabilities):
    """A bar per digit; the most probable in a strong colour. Returns the bars, to update them later."""
    bars = axis.bar(range(10), probabilities, color="tab:blue")
    bars[int(np.argmax(probabilities))].set_color("tab:orange")
    axis.set(xticks=range(10), ylim=(0, 1), xlabel="digit", ylabel="probability", title="the network's answer")
    return bars


class DrawingPad:
    """A canvas to draw a digit on with the mouse, beside the network's ten probabilities, live.

    Hold the left button and move to draw; press 'clear' (or the c key) to start again. Everything is
    matplotlib events: a press starts a stroke, motion extends it, a release ends it.
    """

    def __init__(self, network):
        self.network = network
        self.canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)  # 0 background, 1 ink
        self.last_point = None  # where the current stroke is, or None between strokes
        self.figure = plt.figure(figsize=(9, 4.5))
        self.canvas_axis = self.figure.add_axes([0.03, 0.12, 0.44, 0.8])
        self.bars_axis = self.figure.add_axes([0.57, 0.15, 0.4, 0.72])
        self.button_axis = self.figure.add_axes([0.18, 0.02, 0.14, 0.07])
        self.image = self.canvas_axis.imshow(self.canvas, cmap="gray", vmin=0, vmax=1)
        self.canvas_axis.set(xticks=[], yticks=[], title="draw a digit (hold the left button)")
        self.bars = draw_probability_bars(self.bars_axis, np.zeros(10))
        self.clear_button = Button(self.button_axis, "clear")
        self.clear_button.on_clicked(lambda event: self.clear())
        self.probabilities = np.zeros(10)
        connect = self.figure.canvas.mpl_connect
        connect("button_press_event", self.on_press)
        connect("motion_notify_event", self.on_move)
        connect("button_release_event", self.on_release)
        connect("key_press_event", lambda event: self.clear() if event.key == "c" else None)

    def on_press(self, event):
        if event.inaxes is self.canvas_axis and event.button == 1:
            self.last_point = (event.ydata, event.xdata)
            self.paint_stroke(self.last_point, self.last_point)

    def on_move(self, event):
        if self.last_point is not None and event.inaxes is self.canvas_axis:
            point = (event.ydata, event.xdata)
            self.paint_stroke(self.last_point, point)
            self.last_point = point

    def on_release(self, event):
        self.last_point = None

    def paint_stroke(self, start, end):
        """Ink every canvas pixel within BRUSH_RADIUS of the segment start-end, then ask the network."""
        rows, columns = np.mgrid[0:CANVAS_SIZE, 0:CANVAS_SIZE]
        distance = distance_to_segment(rows, columns, np.array(start), np.array(end))
        stroke = np.clip(BRUSH_RADIUS + 0.5 - distance, 0, 1)  # 1 inside the brush, soft at its edge
        np.maximum(self.canvas, stroke, out=self.canvas)
        self.update()

    def clear(self):
        self.canvas[:] = 0
        self.update()

    def update(self):
        """Redraw the canvas, and the probabilities of what is on it now."""
        self.image.set_data(self.canvas)
        try:
            digit_image = preprocess(self.canvas)
            self.probabilities = self.network.predict_probabilities(digit_image.reshape(1, -1))[0]
        except BlankImageError:
            self.probabilities = np.zeros(10)
        best = int(np.argmax(self.probabilities))
        for digit, (bar, probability) in enumerate(zip(self.bars, self.probabilities)):
            bar.set_height(probability)
            bar.set_color("tab:orange" if digit == best and probability > 0 else "tab:blue")
        answer = f": {best} ({100 * self.probabilities[best]:.1f}%)" if self.probabilities.any() else ""
        self.bars_axis.set_title(f"the network's answer{answer}")
        self.figure.canvas.draw_idle()


def distance_to_segment(rows, columns, start, end):
    """Distance from every pixel (rows, columns) to the line segment from `start` to `end`, both (row, col).

    The closest point of the segment is start + t * (end - start), with t the projection of the pixel onto
    the segment's direction, clipped to [0, 1] so as not to run past either end.
    """
    direction = end - start
    length_squared = float(direction @ direction)
    if length_squared == 0:  # a single point, as when a stroke starts
        return np.hypot(rows - start[0], columns - start[1])
    t = ((rows - start[0]) * direction[0] + (columns - start[1]) * direction[1]) / length_squared
    t = np.clip(t, 0, 1)  # (rows, columns): where along the segment each pixel's closest point lies
    return np.hypot(rows - (start[0] + t * direction[0]), columns - (start[1] + t * direction[1]))


def expand_wildcards(arguments):
    """(the files named, the patterns that match no file) for the image arguments, in order.

    Shells on Linux and macOS expand `photos/*.jpg` into the files it matches before Python starts; Windows'
    shells pass it on as it is. So an argument with a wildcard character that is not itself a file is
    expanded here, into the files it matches, sorted.
    """
    paths, unmatched = [], []
    for argument in arguments:  # os.path.isfile, unlike Path.is_file, is False for names it cannot even check
        if os.path.isfile(argument) or not any(character in argument for character in WILDCARD_CHARACTERS):
            paths.append(argument)
            continue
        matches = sorted(match for match in glob.glob(argument) if os.path.isfile(match))
        paths.extend(matches)
        if not matches:
            unmatched.append(argument)
    return paths, unmatched


def classify_files(network, paths, show, results_dir):
    """Print one line per file; report each file that fails on stderr, and go on. Returns how many failed."""
    failures = 0
    for number, path in enumerate(paths, start=1):
        try:
            picture, digit_image, probabilities = classify_file(network, path)
        except Exception as error:  # whatever it is, one bad file must not stop the others
            print(f"error: {path}: {failure_message(error)}", file=sys.stderr)
            failures += 1
            continue
        print(f"{path}: {int(np.argmax(probabilities))}  ({top_guesses(probabilities)})")
        if show:
            name = f"prediction_{number}_{Path(path).stem}.png"  # numbered: a.png and a.jpg differ
            try:
                plot_prediction(picture, digit_image, probabilities, Path(path).name, Path(results_dir) / name)
            except OSError as error:  # a full disk, no permission to write
                print(f"error: {path}: cannot save its figure in '{results_dir}': {error.strerror}", file=sys.stderr)
                failures += 1
    return failures


def failure_message(error):
    """Why a file could not be classified, in words."""
    if isinstance(error, ValueError):  # unreadable, too large, or blank (BlankImageError): the message says which
        return str(error)
    if isinstance(error, MemoryError):
        return "not enough memory to classify it"
    return f"{type(error).__name__}: {error}"  # something unforeseen: its kind and its message


def make_results_dir(results_dir):
    """Create the folder for --show's figures before any work, or exit with a clear error if it cannot be."""
    results_dir = Path(results_dir)
    if os.path.isfile(results_dir):
        sys.exit(f"error: --results-dir: '{results_dir}' is a file, not a folder")
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file where a parent folder should be, no permission, ...
        sys.exit(f"error: --results-dir: cannot create the folder '{results_dir}': {error.strerror}")


def main(argv=None):
    """Run predict.py; Ctrl-C stops it with one line and exit code 130 (128 + 2, the number of SIGINT)."""
    try:
        run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def run(argv):
    parser = argparse.ArgumentParser(description="Classify pictures of handwritten digits, or draw one.")
    parser.add_argument("images", nargs="*", help="image files (PNG, JPEG) or patterns (*.png); none: draw one")
    parser.add_argument("--weights", default="model_weights.npz", help="model file (default: %(default)s)")
    parser.add_argument("--show", action="store_true", help="draw each image, its 28x28 version and the odds")
    parser.add_argument("--results-dir", default="results", help="where --show saves its figures")
    args = parser.parse_args(argv)
    if args.show:
        make_results_dir(args.results_dir)
    try:
        network = load_digit_model(args.weights)
    except ModelFileError as error:
        sys.exit(f"error: {error}")
    if not args.images:
        if not visualize.display_available():
            sys.exit("error: the drawing window needs a display, and there is none here. "
                     "To classify image files instead: python predict.py IMAGE [IMAGE ...]")  # fmt: skip
        pad = DrawingPad(network)  # keep a reference: matplotlib holds event callbacks only weakly
        plt.show()
        plt.close(pad.figure)
        return
    paths, unmatched = expand_wildcards(args.images)
    for pattern in unmatched:
        print(f"error: {pattern}: no file matches", file=sys.stderr)
    failures = len(unmatched) + classify_files(network, paths, args.show, args.results_dir)
    if args.show:
        visualize.show_or_close(True)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    support.startup.run(main)
