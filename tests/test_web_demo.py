"""web_demo.py: the page in a real browser, and the command line that writes it.

The browser is headless Chromium, driven by Playwright with real mouse and touch events. The page must
compute the NumPy network's probabilities and preprocess.py's images, answer while a digit is drawn, show
the embedded test digits with their labels, and never ask anything of a server. The network is one the
tests train themselves, so that the learner's model_weights.npz plays no part.

Without /usr/bin/chromium or the playwright module the browser tests are skipped, saying why; where the
environment variable REQUIRE_BROWSER_TESTS is set, as .ci/run sets it after installing both, they fail
instead, so that they are never lost.
"""

import importlib.util
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import train
from conv_network import ConvNetwork
from network import Network
from preprocess import preprocess
from support.model_files import save_model

from conftest import read_real, run_script

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_OPTIONS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
COUNT = 300  # real test digits whose probabilities the page must reproduce
ANSWER = re.compile(r"^(\d) \(\d+\.\d%\)$")  # "7 (98.3%)"
LABEL = re.compile(r"^MNIST test image (\d+), labelled (\d)$")
READ_CANVAS = """selector => {
    const canvas = document.querySelector(selector);
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    return { height: canvas.height, width: canvas.width, data: Array.from(data) };
}"""


def pixels(raw_images):
    """uint8 images -> (N, 784) float32 in [0, 1], as data_loader prepares them."""
    return np.divide(raw_images.reshape(len(raw_images), -1), 255, dtype=np.float32)


@pytest.fixture(scope="module")
def network_file(tmp_path_factory):
    """A 784-32-10 network trained for two epochs on 5,000 real training images, and the file it is saved in."""
    args = train.default_settings(hidden_sizes=[32], epochs=2, augment="none")
    images, labels = pixels(read_real("train_images")[:5000]), read_real("train_labels")[:5000]
    network, optimizer = train.build_model(args, (28, 28))
    train.train(network, optimizer, images, labels, images[:0], labels[:0], args, log=lambda line: None)
    path = tmp_path_factory.mktemp("web_demo") / "network.npz"
    save_model(network, path)
    return network, path


@pytest.fixture(scope="module")
def page_file(network_file, tmp_path_factory):
    """The page web_demo.py writes for that network (into a folder it must create), and what it printed."""
    output = tmp_path_factory.mktemp("web_demo") / "new folder" / "demo.html"
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", output)
    return output, result


def browser_missing():
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright module is not installed (pip install -r requirements-dev.txt)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} does not exist (on Debian or Ubuntu: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for all the tests of this file."""
    reason = browser_missing()
    if reason and os.environ.get("REQUIRE_BROWSER_TESTS"):
        pytest.fail(f"the browser tests cannot run: {reason}. REQUIRE_BROWSER_TESTS is set: they must run")
    if reason:
        pytest.skip(f"no browser to test the web page in: {reason}")
    from playwright.sync_api import sync_playwright  # only now: it may not be installed

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_OPTIONS)
        yield browser
        browser.close()


def open_page(browser, path, **context_options):
    """The page, opened from the file system, and a list that collects whatever goes wrong on it.

    A console error, an uncaught exception or a request for anything but the page itself or a data: URL
    each add a line to the list: the page must stay silent and ask no server for anything.
    """
    page = browser.new_context(viewport={"width": 1000, "height": 900}, **context_options).new_page()
    url, problems = path.resolve().as_uri(), []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))

    def check_request(request):
        if request.url != url and not request.url.startswith("data:"):
            problems.append(f"request: {request.url}")

    page.on("request", check_request)
    page.goto(url)
    return page, problems


@pytest.fixture
def demo(browser, page_file):
    page, problems = open_page(browser, page_file[0])
    yield page, problems
    page.context.close()


def evaluate(page, function, argument=None):
    """function(argument) run in the page, the argument and the result passed as JSON text.

    Playwright can pass Python values itself, but wraps every number separately: a JSON string is many
    times faster for the hundreds of thousands of pixels these tests send.
    """
    return json.loads(page.evaluate(f"text => JSON.stringify(({function})(JSON.parse(text)))", json.dumps(argument)))


def canvas_pixels(page, selector):
    """The pixels of one of the page's canvases, (height, width, 4) uint8: red, green, blue, opacity."""
    canvas = evaluate(page, READ_CANVAS, selector)
    return np.array(canvas["data"], np.uint8).reshape(canvas["height"], canvas["width"], 4)


def shown_percentages(page):
    return [float(text.rstrip("%")) for text in page.locator(".bar-row span").all_inner_texts()]


def test_command_line_writes_a_self_contained_page(page_file):
    output, result = page_file
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Wrote {output}",
        f"Open it in a web browser: double-click the file, or go to {output.resolve().as_uri()}",
    ]
    html = output.read_text(encoding="utf-8")
    assert "{{MODEL_AND_DIGITS}}" not in html
    assert not re.search(r"\b(src|href)\s*=", html)  # no script, style sheet, font or image from elsewhere


def test_page_probabilities_equal_numpy_for_real_test_digits(demo, network_file):
    page, problems = demo
    network = network_file[0]
    X = pixels(read_real("test_images")[:COUNT])
    shown = np.array(evaluate(page, "images => images.map(window.mnist.classify)", X.tolist()))
    expected = network.predict_probabilities(X)
    np.testing.assert_allclose(shown, expected, rtol=0, atol=1e-5)
    assert np.mean(shown.argmax(axis=1) == read_real("test_labels")[:COUNT]) > 0.8  # a network that learned
    assert problems == []


def test_page_preprocessing_equals_preprocess_py(demo):
    """Digits drawn in pure black and white, of several sizes and anywhere on a larger canvas.

    On such drawings preprocess.py's background surface is exactly 0, the one step the page leaves out.
    """
    page, problems = demo
    rng = np.random.default_rng(0)
    for digit in read_real("test_images")[:30]:
        drawing = np.zeros((150, 130), np.uint8)
        ink = np.kron(digit >= 128, np.ones((2, 3), np.uint8)) * np.uint8(255)  # (56, 84), white on black
        top, left = rng.integers(0, 150 - 56), rng.integers(0, 130 - 84)
        drawing[top : top + 56, left : left + 84] = ink
        shown = evaluate(page, "values => window.mnist.preprocess(values, 150, 130)", (drawing.ravel() / 255).tolist())
        np.testing.assert_allclose(np.reshape(shown, (28, 28)), preprocess(drawing), rtol=0, atol=1e-5)
    assert page.evaluate("window.mnist.preprocess(new Array(100).fill(0), 10, 10)") is None  # blank
    assert problems == []


def draw_stroke(page, points):
    """Press the mouse button, move through `points` (fractions of the canvas), release."""
    box = page.locator("#drawing").bounding_box()
    positions = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*positions[0])
    page.mouse.down()
    for position in positions[1:]:
        page.mouse.move(*position, steps=8)
    page.mouse.up()


def test_drawing_with_the_mouse_changes_the_answer_and_clear_resets_it(demo, network_file):
    page, problems = demo
    assert page.inner_text("#answer") == "draw a digit" and shown_percentages(page) == [0.0] * 10
    draw_stroke(page, [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)])  # a 7
    assert ANSWER.match(page.inner_text("#answer"))
    # The bars show NumPy's probabilities for preprocess.py's image of what is on the canvas
    canvas = canvas_pixels(page, "#drawing")[..., :3]  # (280, 280, 3): white on black
    expected = network_file[0].predict_probabilities(preprocess(canvas).reshape(1, -1))[0]
    np.testing.assert_allclose(shown_percentages(page), 100 * expected, rtol=0, atol=0.06)
    # preprocess.py fits a background surface to the soft edges of the strokes, which the page leaves out:
    # it moves pixels by about 2e-4 here. Keeping faint edges (ink below NOISE_LEVEL) would move them by 2e-3.
    seen = evaluate(
        page, "values => window.mnist.preprocess(values, 280, 280)", (canvas[..., 0].ravel() / 255).tolist()
    )
    np.testing.assert_allclose(np.reshape(seen, (28, 28)), preprocess(canvas), rtol=0, atol=1e-3)
    assert page.locator("#units figure").count() > 0
    page.click("#clear")
    assert page.inner_text("#answer") == "draw a digit" and shown_percentages(page) == [0.0] * 10
    assert page.locator("#units figure").count() == 0
    assert problems == []


def test_test_digit_button_shows_a_digit_its_label_and_the_hidden_units(demo, network_file):
    page, problems = demo
    network = network_file[0]
    images, labels = read_real("test_images"), read_real("test_labels")
    page.click("#test-digit")
    index, label = map(int, LABEL.match(page.inner_text("#digit-label")).groups())
    assert label == labels[index]
    X = pixels(images[index : index + 1])  # (1, 784)
    assert np.array_equal(canvas_pixels(page, "#network-input")[..., 0], images[index])  # the 28x28 shown
    assert int(ANSWER.match(page.inner_text("#answer")).group(1)) == network.predict(X)[0]
    H = np.maximum(X @ network.weights[0] + network.biases[0], 0)[0]  # (32,)
    most_active = [unit for unit in np.argsort(-H, kind="stable")[:12] if H[unit] > 0]
    assert page.locator("#units figcaption").all_inner_texts() == [f"unit {u}\nH = {H[u]:.2f}" for u in most_active]
    more = page.evaluate("""() => Array.from({ length: 40 }, () => {
        document.getElementById("test-digit").click();
        return document.getElementById("digit-label").textContent; })""")
    shown = [tuple(map(int, LABEL.match(text).groups())) for text in more]
    assert all(labels[index] == label for index, label in shown)
    assert Counter(label for _, label in shown) == {digit: 4 for digit in range(10)}  # 40 digits, then again
    assert problems == []


def test_phone_screen_and_finger(browser, page_file):
    page, problems = open_page(browser, page_file[0], has_touch=True, is_mobile=True)
    page.set_viewport_size({"width": 360, "height": 740})
    box = page.locator("#drawing").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a dot
    assert ANSWER.match(page.inner_text("#answer")) and page.locator("#units figure").count() > 0
    rightmost = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('body *'), e => e.getBoundingClientRect().right))"
    )
    assert rightmost <= 360  # nothing sticks out sideways
    page.context.close()
    assert problems == []


def test_a_network_without_hidden_layers_works_too(browser, tmp_path):
    weights, output = saved(tmp_path / "linear.npz", Network([784, 10])), tmp_path / "page.html"
    assert run_script("web_demo.py", "--weights", weights, "--output", output).returncode == 0
    page, problems = open_page(browser, output)
    page.click("#test-digit")
    assert ANSWER.match(page.inner_text("#answer")) and not page.locator("#hidden-units").is_visible()
    page.context.close()
    assert problems == []


def saved(path, model):
    save_model(model, path)
    return path


def saved_with_nan(path):
    """A weights file holding NaN, written by hand: save_model itself refuses to write one."""
    save_model(Network([784, 8, 10]), path)
    with np.load(path) as arrays:
        np.savez(path, **{**arrays, "W2": np.full((8, 10), np.nan, np.float32)})
    return path


WEIGHTS_PROBLEMS = {
    "missing": (lambda folder: folder / "missing.npz", "does not exist"),
    "not a weights file": (lambda folder: folder / "broken.npz", "not a weights file of this project"),
    "convolutional": (lambda folder: saved(folder / "cnn.npz", ConvNetwork([2], [4])), "convolutional"),
    "five classes": (lambda folder: saved(folder / "five.npz", Network([784, 8, 5])), "5 outputs"),
    "10x10 images": (lambda folder: saved(folder / "small.npz", Network([100, 8, 10])), "10x10 images"),
    "nan weights": (lambda folder: saved_with_nan(folder / "nan.npz"), "NaN or inf"),
}


@pytest.mark.parametrize("problem", WEIGHTS_PROBLEMS)
def test_weights_the_page_cannot_show_are_clean_errors(tmp_path, problem):
    (tmp_path / "broken.npz").write_bytes(b"PK not really a zip file")
    make_weights, message = WEIGHTS_PROBLEMS[problem]
    weights = make_weights(tmp_path)
    result = run_script("web_demo.py", "--weights", weights, "--output", tmp_path / "page.html")
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1  # one line, no traceback
    assert f"'{weights}'" in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "page.html").exists()


@pytest.mark.parametrize("problem", ["a folder", "inside a file"])
def test_output_paths_that_cannot_be_written_are_clean_errors(tmp_path, network_file, problem):
    (tmp_path / "a file").write_text("not a folder")
    output = {"a folder": tmp_path, "inside a file": tmp_path / "a file" / "page.html"}[problem]
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", output)
    assert result.returncode != 0
    assert result.stderr.startswith(f"error: --output '{output}'") and result.stderr.count("\n") == 1
    assert (tmp_path / "a file").read_text() == "not a folder" and sorted(tmp_path.iterdir()) == [tmp_path / "a file"]


def test_an_existing_file_that_is_not_a_page_is_not_replaced(tmp_path, network_file):
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my own page</html>")
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", notes)
    assert result.returncode != 0 and "is not a page this script wrote" in result.stderr
    assert notes.read_text() == "<html>my own page</html>"
    page = tmp_path / "page.html"
    for _ in range(2):  # a page it wrote itself is replaced
        assert run_script("web_demo.py", "--weights", network_file[1], "--output", page).returncode == 0
