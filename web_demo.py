"""The trained network as one web page: draw a digit and watch the network read it, offline, in any browser.

    python web_demo.py                                       # results/web_demo.html, from model_weights.npz
    python web_demo.py --weights other.npz --output page.html

The page is a single HTML file with everything inside: the layout, the JavaScript, the network's weights
and a few dozen MNIST test digits. It asks no server for anything, so it opens with a double-click and
works without a network connection; it can be mailed to someone or put on a phone.

The weights travel as text: the bytes of each float32 array (little-endian, row by row) in base64. The
page turns that text back into the very same float32 numbers, so it computes with exactly what the file
holds. Its JavaScript forward pass repeats network.py's equations, Z = H @ W + b and H = relu(Z), with the
same names; its preprocessing repeats preprocess.py's steps for a drawing. The page itself is
web_demo_template.html: this script only fills in the numbers.
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import argparse
import base64
import json
import sys
from pathlib import Path

import numpy as np

import data_loader
from conv_network import ConvNetwork
from support.files import output_problem, read_start, write_atomically
from support.model_files import ModelFileError, load_digit_model

TEMPLATE = Path(__file__).with_name("web_demo_template.html")
PLACEHOLDER = "{{MODEL_AND_DIGITS}}"  # where the template receives the weights and the test digits
PAGE_MARK = b"<!-- The template of the web demo"  # how the pages this script writes begin, after their doctype
PAGE_START = 200  # bytes read from an existing --output to recognise a page this script wrote; never the whole file
DATA_DIR = "data"  # the MNIST files, as for train.py
DIGITS_PER_CLASS = 4  # test digits embedded in the page: the first four of each digit, 40 in all


class PageError(Exception):
    """The page cannot be made: the message says which file is the trouble and what to do."""


def load_fully_connected_network(path):
    """The network saved in `path`, checked to be one the page can run: fully connected, 28x28 -> 10 digits."""
    network = load_digit_model(path)  # ten outputs, 28x28 images, finite weights
    if isinstance(network, ConvNetwork):
        raise PageError(f"'{path}' holds a convolutional network, which the page cannot run; train a fully "
                        "connected one for it: python train.py --model mlp --weights mlp.npz")  # fmt: skip
    return network


def float32_base64(array):
    """The array's values as float32, little-endian, row by row, in base64 text: how the page receives them."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def embedded_test_digits(data_dir, per_class=DIGITS_PER_CLASS):
    """The first `per_class` test images of every digit, in test-set order, with their labels and indices."""
    images, labels = data_loader.load_test_data(data_dir)  # (10000, 784) in [0, 1], (10000,)
    indices = np.sort(np.concatenate([np.flatnonzero(labels == digit)[:per_class] for digit in range(10)]))
    return {
        "images": float32_base64(images[indices]),  # (40, 784)
        "labels": labels[indices].tolist(),
        "indices": indices.tolist(),
    }


def page_html(network, digits):
    """The template with the network's layer sizes, weights and biases and the test digits filled in."""
    model_and_digits = {
        "layerSizes": network.layer_sizes,
        "activation": network.activation,  # relu, tanh or sigmoid
        "weights": [float32_base64(W) for W in network.weights],  # each (n_in, n_out)
        "biases": [float32_base64(b) for b in network.biases],  # each (n_out,)
        "digits": digits,
    }
    return TEMPLATE.read_text(encoding="utf-8").replace(PLACEHOLDER, json.dumps(model_and_digits))


def is_a_page_it_wrote(path):
    """True when the regular file `path` begins as the pages of this script do; only its first bytes are read."""
    return PAGE_MARK in read_start(path, PAGE_START)


def write_page(path, html):
    """Write the page to `path` atomically, creating its folder if need be (main has checked `path` before)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda file: file.write(html.encode("utf-8")))  # refuses anything but a regular file
    except OSError as error:
        raise PageError(f"--output: '{path}' cannot be written ({error.strerror or error})") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the trained network as one web page that runs offline.")
    parser.add_argument("--weights", default="model_weights.npz", help="model file (default: %(default)s)")
    parser.add_argument("--output", default="results/web_demo.html", help="the page to write (default: %(default)s)")
    args = parser.parse_args(argv)
    output = Path(args.output)
    # Before any work: --output must be a regular file this script wrote, or not exist yet. A folder, a named pipe
    # or a device such as /dev/null is refused, and so is a file of someone else's.
    problem = output_problem(output, "--output", is_ours=is_a_page_it_wrote, create_folders=True)
    if problem:
        sys.exit(f"error: {problem}")
    try:
        network = load_fully_connected_network(args.weights)  # a named pipe or a device is refused unread
        write_page(output, page_html(network, embedded_test_digits(DATA_DIR)))
    except (ModelFileError, PageError, data_loader.DataError) as error:
        sys.exit(f"error: {error}")
    print(f"Wrote {output}")
    print(f"Open it in a web browser: double-click the file, or go to {output.resolve().as_uri()}")


if __name__ == "__main__":
    support.startup.run(main)  # Ctrl-C at any moment: one line, exit status 130
