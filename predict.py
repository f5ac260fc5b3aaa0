"""Classify your own handwriting: image files, or a digit drawn with the mouse.

    python predict.py my7.png photo_of_a_3.jpg      # one line per file: the digit and the top 3 guesses
    python predict.py "photos/*.jpg"                # wildcards work in every shell, Windows' too
    python predict.py my7.png --show                # also draw each picture, its 28x28 version, the ten odds,
                                                    # and the hidden units that voted for and against the answer
    python predict.py my7.png --raw                 # also the answer on the picture only resized to 28x28
    python predict.py                               # a window to draw in (needs a display)

Every picture goes through preprocess.py first, which turns it into an MNIST-style 28x28 image: the network
has never seen anything else. --raw shows what happens without it.
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import argparse
import glob
import os
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.widgets import Button
from PIL import Image, UnidentifiedImageError

import visualize
from conv_network import ConvNetwork
from preprocess import BlankImageError, preprocess, raw_28x28, to_greyscale
from support.files import NotAFileError, open_regular
from support.model_files import ModelFileError, load_digit_model

CANVAS_SIZE = 112  # the drawing canvas, in pixels: 4 times MNIST's 28
BRUSH_RADIUS = 4.5  # pixels of the canvas
MAX_PIXELS = 50_000_000  # larger pictures are refused: a 50-megapixel RGBA picture alone takes 200 MB
WORKING_SIZE = 500  # pictures are shrunk to at most this many pixels on their longer side as they are read
WILDCARD_CHARACTERS = "*?["
VOTERS_SHOWN = 6  # --show draws this many units voting for the answer, and as many voting against it
SIXTEEN_BIT_MAX = 65535  # the brightest grey of a 16-bit picture

# A phone stores a photo's pixels as its sensor read them and records in the EXIF tag Orientation (number 0x0112)
# how the phone was held. For each of the tag's values, what turns the pixels upright (1, or no tag: they are).
ORIENTATION_TAG = 0x0112
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # mirrored
    3: Image.Transpose.ROTATE_180,  # upside down
    4: Image.Transpose.FLIP_TOP_BOTTOM,  # mirrored upside down
    5: Image.Transpose.TRANSPOSE,  # mirrored along the diagonal from the top left
    6: Image.Transpose.ROTATE_270,  # to be turned a quarter clockwise
    7: Image.Transpose.TRANSVERSE,  # mirrored along the other diagonal
    8: Image.Transpose.ROTATE_90,  # to be turned a quarter anticlockwise
}


def read_image(path):
    """The picture in `path` as an array (PNG, JPEG and the other formats Pillow reads), upright, at most
    WORKING_SIZE pixels on its longer side.

    The file is opened only if it is a regular file: a named pipe would wait forever for someone to write
    into it, and a device such as /dev/zero never ends. Opening a picture reads only its header. Its size is
    checked before any pixel is decoded: a small file can declare a huge picture (a "decompression bomb"). A
    large picture is shrunk as it is decoded (see `decode_shrunk`): a 12-megapixel phone photo would take over
    100 MB as floats, and a digit needs far fewer pixels than that.
    """
    file = open_picture_file(path)
    with file, open_picture(file) as picture:
        refuse_huge(picture)
        try:
            return decode_shrunk(picture)
        except MemoryError:
            raise  # not the file's fault: classify_files reports it as it is
        except Exception as error:
            raise ValueError(f"cannot read it as an image ({type(error).__name__}: {error})") from None


def open_picture_file(path):
    """`path` opened for reading if it is a regular file; else a ValueError that says what it is."""
    try:
        return open_regular(path)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except NotAFileError as error:
        raise ValueError(f"it is {error.kind}, not a picture") from None
    except IsADirectoryError:  # Windows says so on opening
        raise ValueError("it is a folder, not a picture") from None
    except OSError as error:  # no permission, ...
        raise ValueError(f"cannot open it ({error.strerror or error})") from None


def open_picture(file):
    """The picture in an open file, as a Pillow image of which only the header has been read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS, lower, is checked next
            return Image.open(file)
    except UnidentifiedImageError:
        raise ValueError("cannot read it as an image (not a picture in a format Pillow knows)") from None
    except Exception as error:  # Pillow raises many kinds of errors for broken files
        raise ValueError(f"cannot read it as an image ({type(error).__name__}: {error})") from None


def refuse_huge(picture):
    """A ValueError if the picture has more than MAX_PIXELS pixels, from its header alone."""
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"the picture is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"pictures of more than {MAX_PIXELS // 1_000_000} megapixels are refused"
        )


def decode_shrunk(picture):
    """The pixels of an opened Pillow picture, upright and shrunk to at most WORKING_SIZE pixels on the longer
    side, keeping its proportions: uint8, or float32 in [0, 1] for 16-bit and floating-point pictures.

    `thumbnail` shrinks with a box filter, each new pixel the average of the old ones it covers, which also
    averages away a camera's noise. A JPEG is even decoded at 1/2, 1/4 or 1/8 of its size directly, which
    JPEG allows (`decode_at_reduced_size`). The EXIF orientation is read from the header and applied to the
    shrunk picture: the same result as turning the large one, for a fraction of the memory. 8-bit pictures of
    WORKING_SIZE pixels or less come back exactly as they are in the file.
    """
    orientation = picture.getexif().get(ORIENTATION_TAG, 1)
    decode_at_reduced_size(picture)
    sixteen_bits = picture.mode.startswith("I;16")  # I;16, I;16B, I;16L: grey from 0 to 65535
    picture = in_a_mode_to_average(picture)
    picture.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
    if orientation in UPRIGHT:
        picture = picture.transpose(UPRIGHT[orientation])
    pixels = np.asarray(picture)  # (H, W) grey, (H, W, 2) grey and alpha, (H, W, 3) RGB or (H, W, 4) RGBA
    if picture.mode not in ("I", "F"):
        return pixels  # uint8
    if sixteen_bits:
        return np.divide(pixels, SIXTEEN_BIT_MAX, dtype=np.float32)
    return scaled_by_own_range(pixels)  # 32-bit integers or floats: any range


def decode_at_reduced_size(picture):
    """Ask a JPEG to be decoded at 1/2, 1/4 or 1/8 of its size when that still leaves twice the pixels that
    `thumbnail` will keep (2 * WORKING_SIZE on the longer side). Other formats ignore the request."""
    width, height = picture.size
    scale = 2 * WORKING_SIZE / max(width, height)
    if scale < 1:
        picture.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))


def in_a_mode_to_average(picture):
    """The picture in a mode whose pixels `thumbnail` can average and preprocess.py can read: L (grey), LA (grey
    and alpha), RGB, RGBA (8 bits a channel), I (integers, for 16-bit grey) or F (floating point)."""
    if picture.mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return picture
    if picture.mode == "1":  # black and white
        return picture.convert("L")
    if picture.mode.startswith("I;16"):  # 16-bit grey, which thumbnail cannot shrink
        return picture.convert("I")
    if picture.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):  # colours without transparency
        return picture.convert("RGB")
    return picture.convert("RGBA")  # palettes (P, PA) and the rest: their colours and any transparency


def scaled_by_own_range(pixels):
    """Grey levels without a fixed range (a scientific picture of floats, say) -> float32 in [0, 1]: the darkest
    pixel becomes 0 and the brightest 1. All zeros for a picture of a single grey."""
    if not np.isfinite(pixels).all():
        raise ValueError("some of its pixels are not numbers (NaN or infinity)")
    pixels = pixels.astype(np.float32)
    darkest, brightest = float(pixels.min()), float(pixels.max())
    if brightest == darkest:
        return np.zeros_like(pixels)
    return (pixels - darkest) / np.float32(brightest - darkest)


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


def classify_raw(network, picture):
    """(the picture only resized to 28x28, the ten probabilities the network gives it): what --raw shows."""
    raw_image = raw_28x28(picture)  # (28, 28)
    return raw_image, network.predict_probabilities(raw_image.reshape(1, -1))[0]


def answer_line(name, probabilities, raw=None):
    """'my7.png: 7  (7 97.9%, 1 1.1%, 2 0.4%)', followed, with raw = (raw image, its probabilities), by
    '  raw 28x28: 2  (2 61.3%, 3 20.1%, 7 9.0%)'."""
    line = f"{name}: {int(np.argmax(probabilities))}  ({top_guesses(probabilities)})"
    if raw is not None:
        raw_probabilities = raw[1]
        line += f"  raw 28x28: {int(np.argmax(raw_probabilities))}  ({top_guesses(raw_probabilities)})"
    return line


class Votes(NamedTuple):
    """Why the network gave `digit` its score: the score is the bias plus the sum of every voter's vote."""

    digit: int
    votes: np.ndarray  # (n_voters,): what each unit of the last hidden layer adds to the digit's score
    bias: float  # the last layer's bias for the digit
    score: float  # the digit's score, Z[digit], from the network's own forward pass
    strongest_for: list  # the units with the largest positive votes, strongest first
    strongest_against: list  # the units with the most negative votes, strongest first
    others: float  # the sum of the votes of all the other units


def votes_for(network, digit_image, digit, count=VOTERS_SHOWN):
    """The Votes for `digit` of the network reading `digit_image`: see Network.votes."""
    votes = network.votes(digit_image)[:, digit].astype(np.float64)  # (n_voters,)
    strongest_for = [int(unit) for unit in np.argsort(-votes, kind="stable")[:count] if votes[unit] > 0]
    strongest_against = [int(unit) for unit in np.argsort(votes, kind="stable")[:count] if votes[unit] < 0]
    others = float(np.delete(votes, strongest_for + strongest_against).sum())
    score = float(network.forward(digit_image.reshape(1, -1))[0][0, digit])
    bias = float(network.biases[-1][digit])
    return Votes(digit, votes, bias, score, strongest_for, strongest_against, others)


def who_votes(network):
    """(what one voter is called, who the voters are) in words, for the figure of votes (see Network.votes)."""
    count = network.layer_sizes[-2]  # the inputs of the last layer
    if isinstance(network, ConvNetwork):
        return "unit", f"the {count} units of its last hidden layer, which read the filters' responses"
    hidden_layers = len(network.layer_sizes) - 2
    if hidden_layers == 0:
        return "pixel", f"its {count} pixels (it has no hidden layer)"
    if hidden_layers == 1:
        return "unit", f"the {count} hidden units"
    return "unit", f"the {count} units of its last hidden layer (of {hidden_layers}), which read the layer below"


def weights_are_pictures(network):
    """True when every voter's input weights are one weight per pixel, a picture: one hidden layer, no filters."""
    return not isinstance(network, ConvNetwork) and len(network.layer_sizes) == 3


def plot_prediction(network, picture, digit_image, probabilities, title, path, raw=None):
    """The picture as given, what the network sees (with raw, also the picture only resized), the ten
    probabilities; below them, the units that voted most for the answer and most against it."""
    figure = plt.figure(figsize=(13, 9), layout="constrained")
    answer_figure, votes_figure = figure.subfigures(2, 1, height_ratios=[1, 1.4])
    draw_answer(answer_figure, picture, digit_image, probabilities, title, raw)
    votes = votes_for(network, digit_image, int(np.argmax(probabilities)))
    if weights_are_pictures(network):
        draw_votes_with_weights(votes_figure, network, votes)
    else:
        draw_votes_as_bars(votes_figure, network, votes)
    return visualize.save_figure(figure, path)


def draw_answer(figure, picture, digit_image, probabilities, title, raw):
    """A row: the picture, what the network sees, the picture only resized (with raw), the ten probabilities."""
    images = 2 if raw is None else 3
    axes = figure.subplots(1, images + 1, gridspec_kw={"width_ratios": [1] * images + [1.6]})
    if picture.ndim == 3 and picture.shape[2] == 2:  # grey and transparency: drawn over white paper
        picture = to_greyscale(picture)
    axes[0].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    axes[0].set_title(title)
    axes[1].imshow(digit_image, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("what the network sees\n(preprocessed, 28x28)")
    for axis in axes[:images]:
        axis.axis("off")
    bars = draw_probability_bars(axes[-1], probabilities)
    best = int(np.argmax(probabilities))
    axes[-1].set_title(f"the network's answer: {best} ({100 * probabilities[best]:.1f}%)")
    if raw is not None:
        raw_image, raw_probabilities = raw
        raw_best = int(np.argmax(raw_probabilities))
        axes[2].imshow(raw_image, cmap="gray", vmin=0, vmax=1)
        axes[2].set_title(f"raw, only resized to 28x28:\nanswer {raw_best} ({100 * raw_probabilities[raw_best]:.1f}%)")
        raw_bars = axes[-1].bar(range(10), raw_probabilities, fill=False, edgecolor="black", linestyle="--")
        axes[-1].legend([bars[best], raw_bars], ["preprocessed", "raw, only resized"], fontsize=8, loc="upper left")


def draw_votes_with_weights(figure, network, votes):
    """Two rows of pictures: the input weights of the hidden units that voted most for the answer, then of those
    that voted most against it, each titled with its vote.

    Column j of W1 holds the weight unit j gives to every pixel: red pixels make it fire, blue ones hold it back.
    """
    W1 = network.weights[0]  # (784, n_hidden)
    axes = figure.subplots(2, VOTERS_SHOWN)
    for row, (side, units) in enumerate([("for", votes.strongest_for), ("against", votes.strongest_against)]):
        for column, axis in enumerate(axes[row]):
            if column >= len(units):
                axis.axis("off")
                continue
            weights = W1[:, units[column]].reshape(network.image_shape)
            limit = max(float(np.abs(weights).max()), 1e-12)
            axis.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set(xticks=[], yticks=[], title=f"unit {units[column]}: {votes.votes[units[column]]:+.2f}")
        label = f"{side} {votes.digit}" if units else f"no unit voted {side} {votes.digit}"
        axes[row, 0].set_ylabel(label, fontsize=12)
    figure.suptitle(f"Why {votes.digit}? The hidden units that voted most for it and most against it: their votes, "
                    "and their input weights (red +, blue -)")  # fmt: skip
    figure.supxlabel(vote_sum_text(network, votes), fontsize=9)


def draw_votes_as_bars(figure, network, votes):
    """A bar for each of the strongest votes for the answer and against it: for a network whose last hidden layer
    does not read pixels, its weights are no pictures."""
    noun, voters = who_votes(network)
    units = votes.strongest_for + votes.strongest_against
    values = votes.votes[units]
    axis = figure.subplots()
    axis.barh(range(len(units)), values, color=["tab:red" if value > 0 else "tab:blue" for value in values])
    for row, value in enumerate(values):
        axis.text(value, row, f" {value:+.2f} ", va="center", ha="left" if value > 0 else "right", fontsize=8)
    axis.set_yticks(range(len(units)), [f"{noun} {unit}" for unit in units])
    axis.invert_yaxis()  # the strongest vote for the answer at the top
    axis.axvline(0, color="black", linewidth=0.8)
    axis.margins(x=0.15)  # room for the numbers at the ends of the bars
    axis.set_xlabel(f"vote for {votes.digit} (added to its score)")
    figure.suptitle(f"Why {votes.digit}? The strongest votes for it and against it, from {voters}")
    not_pictures = f"\nOnly the votes are shown: the weights of these {noun}s are not pictures of pixels."
    figure.supxlabel(vote_sum_text(network, votes) + (not_pictures if noun != "pixel" else ""), fontsize=9)


def vote_sum_text(network, votes):
    """The sum the votes make, in words and numbers: the numbers of the figure add up to the score."""
    noun, voters = who_votes(network)
    digit = votes.digit
    last = "" if isinstance(network, ConvNetwork) else len(network.weights)  # network.py names them W2, b2, ...
    voter_value = "grey level x[j]" if noun == "pixel" else "activation H[j]"
    shown_for, shown_against = votes.votes[votes.strongest_for].sum(), votes.votes[votes.strongest_against].sum()
    other_count = len(votes.votes) - len(votes.strongest_for) - len(votes.strongest_against)
    lines = [
        f"The score of {digit}, {votes.score:.2f}, is the bias b{last}[{digit}] ({votes.bias:+.2f}) plus one vote "
        f"from each of {voters}:",
        f"the {len(votes.strongest_for)} shown for it ({shown_for:+.2f}), the {len(votes.strongest_against)} shown "
        f"against it ({shown_against:+.2f}) and the other {other_count} ({votes.others:+.2f}). "
        f"A {noun}'s vote is its {voter_value} times its weight W{last}[j, {digit}].",
        "The votes and the bias add up to the score; the softmax of the ten scores gives the probabilities.",
    ]
    return "\n".join(lines)


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


def classify_files(network, paths, show, results_dir, raw=False):
    """Print one line per file; report each file that fails on stderr, and go on. Returns how many failed.

    With show, save a figure for each file; with raw, give the answer on the picture only resized as well."""
    failures = 0
    for number, path in enumerate(paths, start=1):
        try:
            picture, digit_image, probabilities = classify_file(network, path)
            raw_answer = classify_raw(network, picture) if raw else None
        except Exception as error:  # whatever it is, one bad file must not stop the others
            print(f"error: {printable(path)}: {failure_message(error)}", file=sys.stderr)
            failures += 1
            continue
        print(answer_line(printable(path), probabilities, raw_answer))
        if show:
            figure_path = Path(results_dir) / figure_name(number, path)
            title = printable(Path(path).name)
            try:
                plot_prediction(network, picture, digit_image, probabilities, title, figure_path, raw_answer)
            except OSError as error:  # a full disk, no permission to write
                print(f"error: {printable(path)}: cannot save its figure in '{printable(results_dir)}': "
                      f"{error.strerror or error}", file=sys.stderr)  # fmt: skip
                failures += 1
    return failures


def printable(path):
    r"""`path` as text that can be printed and drawn: the bytes of its name that are not UTF-8 are escaped, the
    byte 0xff as \xff. A name made on another system can hold such bytes: Python hands them to the program as
    stand-ins ("surrogates") that open the file but cannot be printed.
    """
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def figure_name(number, path):
    """'prediction_3_my7.png' for the third file, my7.png: numbered, since a.png and a.jpg differ. Bytes of the
    name that are not UTF-8 become the replacement character, so that the figure's own name is valid text."""
    stem = os.fsencode(Path(path).stem).decode("utf-8", errors="replace")
    return f"prediction_{number}_{stem}.png"


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
    parser.add_argument("--show", action="store_true", help="draw each image, what the network sees, and why")
    parser.add_argument("--raw", action="store_true", help="also the answer on each picture only resized to 28x28")
    parser.add_argument("--results-dir", default="results", help="where --show saves its figures")
    parser.add_argument("--no-show", action="store_true", help="save the figures of --show without opening a window")
    args = parser.parse_args(argv)
    if args.show:
        make_results_dir(args.results_dir)
    try:
        network = load_digit_model(args.weights)
    except ModelFileError as error:
        sys.exit(f"error: {error}")
    if not args.images:
        if not visualize.display_available():
            sys.exit("error: the drawing window needs a display, and there is none here. To classify image files "
                     "instead: python predict.py IMAGE [IMAGE ...]; or, to draw in a browser, python web_demo.py "
                     "writes a web page to draw in (results/web_demo.html)")  # fmt: skip
        pad = DrawingPad(network)  # keep a reference: matplotlib holds event callbacks only weakly
        plt.show()
        plt.close(pad.figure)
        return
    paths, unmatched = expand_wildcards(args.images)
    for pattern in unmatched:
        print(f"error: {printable(pattern)}: no file matches", file=sys.stderr)
    failures = len(unmatched) + classify_files(network, paths, args.show, args.results_dir, args.raw)
    if args.show:
        visualize.show_or_close(not args.no_show)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    support.startup.run(main)
