"""web_demo.py: the page in a real browser, and the command line that writes it.

The browser is headless Chromium (or Chrome), driven by Playwright with real mouse and touch events. The page must
compute the NumPy network's probabilities, scores and votes and preprocess.py's images, answer while a digit is
drawn, show the embedded test digits with their labels, and never ask anything of a server. The networks are ones
the tests train themselves, so that the learner's model_weights.npz plays no part.

The tests look for the learner's browser (`find_browser`): the environment variable CHROMIUM_PATH, then PATH, then
the usual install places of this system, then the Chromium that `python -m playwright install chromium` downloads.
Without one, or without the playwright module, the browser tests are skipped with a message that says how to get
one here; where the environment variable REQUIRE_BROWSER_TESTS is set, as .ci/run sets it after installing both,
they fail instead, so that they are never lost.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import train
from conv_network import ConvNetwork
from network import Network
from preprocess import preprocess
from support.model_files import save_model

from conftest import REPOSITORY, memory_cap_works, read_real, run_script, run_with_memory_cap, start_interruptible

CHROMIUM_OPTIONS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")  # on PATH
COUNT = 300  # real test digits whose probabilities the page must reproduce
VOTES_COUNT = 50  # real test digits whose votes the page must reproduce
ANSWER = re.compile(r"^(\d) \(\d+\.\d%\)$")  # "7 (98.3%)"
LABEL = re.compile(r"^MNIST test image (\d+), labelled (\d)$")
VOTES_SUM = re.compile(  # "For 7: the 32 votes add up to 7.41; with the bias b[7] = -0.12, to the score Z[7] = 7.29."
    r"^For (\d): the (\d+) votes add up to (-?\d+\.\d\d); "
    r"with the bias b\[\d\]\s=\s(-?\d+\.\d\d), to the score Z\[\d\]\s=\s(-?\d+\.\d\d)\.$"
)
READ_CANVAS = """selector => {
    const canvas = document.querySelector(selector);
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    return { height: canvas.height, width: canvas.width, data: Array.from(data) };
}"""


# ----- finding the learner's browser ---------------------------------------------------------------------------


def is_program(path):
    """True when `path` is a file that may be run."""
    return path is not None and Path(path).is_file() and os.access(path, os.X_OK)


def install_places(environ, platform):
    """Where Chromium and Chrome are installed on `platform` (a sys.platform), for when PATH does not lead to them."""
    if platform == "darwin":
        applications = [Path("/Applications"), Path(environ.get("HOME", "~")).expanduser() / "Applications"]
        programs = ["Google Chrome.app/Contents/MacOS/Google Chrome", "Chromium.app/Contents/MacOS/Chromium"]
        return [folder / program for folder in applications for program in programs]
    if platform == "win32":
        names = ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")  # C:\Program Files, ..., ...\AppData\Local
        vendors = [("Google", "Chrome"), ("Chromium",)]
        return [Path(environ[name], *vendor, "Application", "chrome.exe") for name in names if environ.get(name)
                for vendor in vendors]  # fmt: skip
    return [Path("/usr/bin/chromium"), Path("/snap/bin/chromium"), Path("/opt/google/chrome/chrome")]  # Linux


def playwright_browser():
    """The Chromium that `python -m playwright install chromium` downloaded, or None when there is none."""
    if importlib.util.find_spec("playwright") is None:
        return None
    from playwright.sync_api import sync_playwright  # only now: it may not be installed

    with sync_playwright() as playwright:
        path = Path(playwright.chromium.executable_path)  # where Playwright keeps it, downloaded or not
    return path if is_program(path) else None


def find_browser(environ, places, downloaded):
    """The Chromium or Chrome to test with, or None: the program CHROMIUM_PATH names, whatever it is, when it is set;
    else the first of BROWSER_NAMES on PATH, then the first of `places` that is a program, then downloaded()."""
    if environ.get("CHROMIUM_PATH"):
        found = shutil.which(environ["CHROMIUM_PATH"], path=environ.get("PATH", ""))  # a path, or a name on PATH
        return Path(found or environ["CHROMIUM_PATH"])  # the learner's choice: checked by browser_problem
    for name in BROWSER_NAMES:
        found = shutil.which(name, path=environ.get("PATH", ""))
        if found:
            return Path(found)
    return next((path for path in places if is_program(path)), None) or downloaded()


def learners_browser():
    """The browser of this machine, searched as find_browser says."""
    return find_browser(os.environ, install_places(os.environ, sys.platform), playwright_browser)


def os_release_fields(text):
    """The fields of /etc/os-release, which names the Linux distribution: {"ID": "ubuntu", "ID_LIKE": "debian", ...}."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip("\"'")
    return fields


def how_to_get_a_browser(platform, os_release=""):
    """What to run on this system to get a browser the tests can drive, and how to point them at one."""
    download = "python -m playwright install chromium"  # Playwright's own Chromium, where downloads are possible
    release = os_release_fields(os_release)
    family = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    if platform == "win32":
        install = "install Google Chrome from https://www.google.com/chrome/"
    elif platform == "darwin":
        install = "install Google Chrome from https://www.google.com/chrome/, or Chromium: brew install --cask chromium"
    elif release.get("ID") == "ubuntu":  # its chromium is a snap (the apt package only installs the snap)
        install, download = "sudo snap install chromium", "python -m playwright install --with-deps chromium"
    elif family & {"debian", "ubuntu"}:
        install, download = "sudo apt-get install chromium", "python -m playwright install --with-deps chromium"
    else:
        install = "install Chromium with your distribution's package manager"
    if platform == "win32":
        point = r"set CHROMIUM_PATH=C:\path\to\chrome.exe (in PowerShell: $env:CHROMIUM_PATH = 'C:\path\to\chrome.exe')"
    else:
        point = "CHROMIUM_PATH=/path/to/chrome python -m pytest tests/test_web_demo.py"
    return f"To get one: {install}; or download Playwright's own: {download}. To use a browser found elsewhere: {point}"


def os_release():
    """The text of /etc/os-release, which names the Linux distribution; empty elsewhere."""
    try:
        return Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def playwright_missing():
    """Why Playwright cannot drive a browser here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright module is not installed (pip install -r requirements-dev.txt)"
    return None


def browser_problem(browser, environ, platform):
    """Why there is no browser to test with, with what to do about it; None when there is one."""
    if environ.get("CHROMIUM_PATH") and not is_program(browser):
        return (f"CHROMIUM_PATH is '{environ['CHROMIUM_PATH']}', which is not a program; set it to the path of "
                "Chromium or Chrome, or unset it to let the tests look for one")  # fmt: skip
    if browser is None:
        names = ", ".join(BROWSER_NAMES)
        looked = f"CHROMIUM_PATH is not set; none on PATH as {names}; none in the usual places or from Playwright"
        return f"no Chromium or Chrome found ({looked}). {how_to_get_a_browser(platform, os_release())}"
    return None


def is_snap(browser):
    """True for a browser from Ubuntu's snap packages, or a script that starts one: it cannot read /tmp or hidden
    folders, only the visible folders of the home folder."""
    path = Path(browser)
    if str(path).startswith("/snap/") or path.resolve().name == "snap":  # /snap/bin/chromium -> /usr/bin/snap
        return True
    with open(path, "rb") as file:
        return b"/snap/bin/" in file.read(4096)  # Ubuntu's /usr/bin/chromium-browser: exec /snap/bin/chromium


# ----- the networks, their pages and the browser ------------------------------------------------------------------


def pixels(raw_images):
    """uint8 images -> (N, 784) float32 in [0, 1], as data_loader prepares them."""
    return np.divide(raw_images.reshape(len(raw_images), -1), 255, dtype=np.float32)


def trained_network(hidden_sizes, epochs, activation="relu"):
    """A 784-...-10 network trained for `epochs` on 5,000 real training images: a second or so."""
    args = train.default_settings(hidden_sizes=hidden_sizes, epochs=epochs, augment="none", activation=activation)
    images, labels = pixels(read_real("train_images")[:5000]), read_real("train_labels")[:5000]
    network, optimizer = train.build_model(args, (28, 28))
    train.train(network, optimizer, images, labels, images[:0], labels[:0], args, log=lambda line: None)
    return network


@pytest.fixture(scope="module")
def browser_path():
    """The learner's Chromium or Chrome, or None."""
    return learners_browser()


@pytest.fixture(scope="module")
def page_folder(browser_path, tmp_path_factory):
    """Where the tests write the pages the browser opens: a temporary folder; for a snap's browser, which cannot
    read /tmp, a temporary folder in the home folder, removed afterwards."""
    if browser_path is None or not is_program(browser_path) or not is_snap(browser_path):
        yield tmp_path_factory.mktemp("pages")
        return
    with tempfile.TemporaryDirectory(prefix="web-demo-test-pages-", dir=Path.home()) as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def network_file(tmp_path_factory):
    """A 784-32-10 network trained for two epochs, and the file it is saved in."""
    network = trained_network([32], epochs=2)
    path = tmp_path_factory.mktemp("web_demo") / "network.npz"
    save_model(network, path)
    return network, path


@pytest.fixture(scope="module")
def page_file(network_file, page_folder):
    """The page web_demo.py writes for that network (into a folder it must create), and what it printed."""
    output = page_folder / "new folder" / "demo.html"
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", output)
    return output, result


@pytest.fixture(scope="module")
def browser(browser_path):
    """One headless Chromium for all the tests of this file."""
    reason = playwright_missing() or browser_problem(browser_path, os.environ, sys.platform)
    if reason:
        no_browser(reason, os.environ)
    from playwright.sync_api import sync_playwright  # only now: it may not be installed

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_OPTIONS)
        yield browser
        browser.close()


def no_browser(reason, environ):
    """Skip the browser tests, saying why; or fail them where REQUIRE_BROWSER_TESTS is set (.ci/run sets it)."""
    if environ.get("REQUIRE_BROWSER_TESTS"):
        pytest.fail(f"the browser tests cannot run: {reason}. REQUIRE_BROWSER_TESTS is set: they must run")
    pytest.skip(f"no browser to test the web page in: {reason}")


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


def check_votes(page, network, X):
    """The page's chosen digit, votes and scores for the images X are NumPy's: Network.votes and forward."""
    shown = evaluate(page, "images => images.map((x) => [window.mnist.votes(x), window.mnist.scores(x)])", X.tolist())
    for x, (chosen, Z), Z_numpy in zip(X, shown, network.forward(X)[0]):
        digit, votes = chosen["digit"], np.array(chosen["votes"])  # (n_hidden,): one vote per last-hidden unit
        assert digit == Z_numpy.argmax() and len(votes) == network.layer_sizes[-2]
        np.testing.assert_allclose(votes, network.votes(x)[:, digit], rtol=0, atol=1e-5)
        assert votes.sum() + network.biases[-1][digit] == pytest.approx(Z[digit], abs=1e-5)  # votes + bias = score
        np.testing.assert_allclose(Z, Z_numpy, rtol=0, atol=1e-4)


def test_page_votes_equal_numpy_for_real_test_digits(demo, network_file):
    page, problems = demo
    check_votes(page, network_file[0], pixels(read_real("test_images")[:VOTES_COUNT]))
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


def vote_captions(votes):
    """The captions the votes section shows for these votes: the units most for the digit, most for first, then
    the units most against it, most against first, six of each at most."""
    ranked = np.argsort(-votes, kind="stable")  # the page sorts the same way
    most_for = [unit for unit in ranked[:6] if votes[unit] > 0]
    most_against = [unit for unit in ranked[::-1][:6] if votes[unit] < 0]
    caption = "unit {}\n{:+.2f}".format  # "unit 12\n+1.37", "unit 7\n-0.52"
    return [caption(unit, votes[unit]) for unit in most_for], [caption(unit, votes[unit]) for unit in most_against]


def shown_vote_captions(page):
    """The captions of the units the votes section shows: those voting for, and those voting against."""
    return tuple(page.locator(f"#votes-{side} figcaption").all_inner_texts() for side in ("for", "against"))


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
    shown_image = canvas_pixels(page, "#network-input")[..., 0]  # the 28x28 image the network reads
    np.testing.assert_allclose(shown_image, 255 * np.reshape(seen, (28, 28)), rtol=0, atol=0.51)
    assert page.locator("#units figure").count() > 0
    chosen = evaluate(page, "image => window.mnist.votes(image)", seen)  # the votes for that image
    assert page.inner_text("#answer").startswith(f"{chosen['digit']} (")
    assert shown_vote_captions(page) == vote_captions(np.array(chosen["votes"]))
    assert page.locator("#votes-for figure").count() > 0 and page.inner_text("#votes-sum") != ""
    page.click("#clear")
    assert page.inner_text("#answer") == "draw a digit" and shown_percentages(page) == [0.0] * 10
    assert not canvas_pixels(page, "#network-input")[..., 0].any()  # black
    assert page.locator("#units figure, #votes figure").count() == 0 and page.inner_text("#votes-sum") == ""
    assert problems == []  # no console error, and no request for anything


def test_test_digit_button_shows_a_digit_its_label_the_hidden_units_and_their_votes(demo, network_file):
    page, problems = demo
    network = network_file[0]
    images, labels = read_real("test_images"), read_real("test_labels")
    page.click("#test-digit")
    index, label = map(int, LABEL.match(page.inner_text("#digit-label")).groups())
    assert label == labels[index]
    X = pixels(images[index : index + 1])  # (1, 784)
    assert np.array_equal(canvas_pixels(page, "#network-input")[..., 0], images[index])  # the 28x28 shown
    digit = network.predict(X)[0]
    assert int(ANSWER.match(page.inner_text("#answer")).group(1)) == digit
    H = np.maximum(X @ network.weights[0] + network.biases[0], 0)[0]  # (32,)
    most_active = [unit for unit in np.argsort(-H, kind="stable")[:12] if H[unit] > 0]
    assert page.locator("#units figcaption").all_inner_texts() == [f"unit {u}\nH = {H[u]:.2f}" for u in most_active]
    # The votes: NumPy's, six for and six against, each unit with its picture, and the sum that makes the score
    votes, Z = network.votes(X[0])[:, digit], network.forward(X)[0][0]  # (32,), (10,)
    assert shown_vote_captions(page) == vote_captions(votes)
    for side in ("for", "against"):
        assert page.locator(f"#votes-{side} canvas").count() == page.locator(f"#votes-{side} figure").count() > 0
    assert "add up to the digit's score" in page.inner_text("#votes") and "input weights" in page.inner_text("#votes")
    shown_digit, count, total, bias, score = VOTES_SUM.match(page.inner_text("#votes-sum")).groups()
    assert (int(shown_digit), int(count)) == (digit, 32)
    assert float(total) == pytest.approx(votes.sum(), abs=0.006) and float(score) == pytest.approx(Z[digit], abs=0.006)
    assert float(bias) == pytest.approx(network.biases[-1][digit], abs=0.006)
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


@pytest.fixture(scope="module")
def deep_network_page(page_folder, tmp_path_factory):
    """A 784-24-16-10 network of tanh units trained for an epoch, and the page web_demo.py writes for it."""
    network = trained_network([24, 16], epochs=1, activation="tanh")
    weights, output = saved(tmp_path_factory.mktemp("deep") / "deep.npz", network), page_folder / "deep.html"
    assert run_script("web_demo.py", "--weights", weights, "--output", output).returncode == 0
    return network, output


def test_a_deeper_network_shows_the_votes_of_its_last_hidden_layer_without_pictures(browser, deep_network_page):
    network, output = deep_network_page
    page, problems = open_page(browser, output)
    X = pixels(read_real("test_images")[:VOTES_COUNT])
    check_votes(page, network, X)
    shown = np.array(evaluate(page, "images => images.map(window.mnist.classify)", X.tolist()))
    np.testing.assert_allclose(shown, network.predict_probabilities(X), rtol=0, atol=1e-5)  # tanh units, as NumPy
    page.click("#test-digit")
    note = page.inner_text("#votes-layer")
    assert "2 hidden layers" in note and "the last one, its 16 units" in note and "no pictures" in note
    assert page.locator("#votes-for figure").count() > 0 and page.locator("#votes canvas").count() == 0
    assert page.locator("#units canvas").count() > 0  # the first hidden layer's units still show their weights
    page.context.close()
    assert problems == []


def test_a_network_without_hidden_layers_works_too(browser, page_folder, tmp_path):
    network = Network([784, 10])
    weights, output = saved(tmp_path / "linear.npz", network), page_folder / "linear.html"
    assert run_script("web_demo.py", "--weights", weights, "--output", output).returncode == 0
    page, problems = open_page(browser, output)
    page.click("#test-digit")
    assert ANSWER.match(page.inner_text("#answer"))
    assert not page.locator("#hidden-units").is_visible() and not page.locator("#votes").is_visible()
    check_votes(page, network, pixels(read_real("test_images")[:10]))  # the pixels vote, as in Network.votes
    page.context.close()
    assert problems == []


# ----- finding the learner's browser, without one --------------------------------------------------------------

EXE = ".exe" if sys.platform == "win32" else ""  # how programs on PATH end


def fake_program(path, text="#!/bin/sh\n"):
    """An executable file at `path` (its folders made): a stand-in for a browser."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def never_called():
    raise AssertionError("Playwright's own browser is looked for only when there is no other")


def test_chromium_path_comes_first_and_may_be_a_name_on_path(tmp_path):
    mine, on_path = fake_program(tmp_path / "mine" / "my-chrome"), fake_program(tmp_path / "bin" / f"chromium{EXE}")
    environ = {"CHROMIUM_PATH": str(mine), "PATH": str(tmp_path / "bin")}
    assert find_browser(environ, [on_path], never_called) == mine
    assert browser_problem(mine, environ, sys.platform) is None
    environ = {"CHROMIUM_PATH": "chromium", "PATH": str(tmp_path / "bin")}
    assert find_browser(environ, [], never_called) == on_path


def test_a_chromium_path_that_is_no_program_is_said_so_and_not_replaced(tmp_path):
    fake_program(tmp_path / "bin" / f"chromium{EXE}")
    environ = {"CHROMIUM_PATH": str(tmp_path / "no-such-browser"), "PATH": str(tmp_path / "bin")}
    browser = find_browser(environ, [], never_called)
    assert browser == tmp_path / "no-such-browser"
    assert browser_problem(browser, environ, sys.platform).startswith(f"CHROMIUM_PATH is '{browser}', which is not")


def test_path_is_searched_for_each_name_in_turn(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    environ = {"PATH": os.pathsep.join([str(first), str(second)])}
    assert find_browser(environ, [], lambda: None) is None
    chrome = fake_program(first / f"chrome{EXE}")
    assert find_browser(environ, [], never_called) == chrome
    google_chrome = fake_program(second / f"google-chrome{EXE}")  # an earlier name wins, wherever it is on PATH
    assert find_browser(environ, [], never_called) == google_chrome
    assert find_browser(environ, [fake_program(tmp_path / "elsewhere" / "chromium")], never_called) == google_chrome


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no executable bit")
def test_a_file_that_may_not_be_run_is_not_a_browser(tmp_path):
    fake_program(tmp_path / "bin" / "chromium").chmod(0o644)
    assert find_browser({"PATH": str(tmp_path / "bin")}, [tmp_path / "bin" / "chromium"], lambda: None) is None


def test_the_usual_places_then_playwrights_own_browser(tmp_path):
    environ = {"HOME": str(tmp_path), "PATH": str(tmp_path / "empty")}
    places = install_places(environ, "darwin")
    assert Path("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome") in places
    downloaded = fake_program(tmp_path / "ms-playwright" / "chromium-1234" / "chrome")
    assert find_browser(environ, places, lambda: downloaded) == downloaded  # nothing else: Playwright's own
    chromium = fake_program(tmp_path / "Applications" / "Chromium.app" / "Contents" / "MacOS" / "Chromium")
    assert find_browser(environ, places, never_called) == chromium  # installed in ~/Applications
    windows = install_places({"PROGRAMFILES": r"C:\Program Files", "LOCALAPPDATA": str(tmp_path)}, "win32")
    assert Path(r"C:\Program Files", "Google", "Chrome", "Application", "chrome.exe") in windows
    assert tmp_path / "Chromium" / "Application" / "chrome.exe" in windows
    assert Path("/snap/bin/chromium") in install_places({}, "linux")  # Ubuntu's, where PATH lacks /snap/bin


def test_a_snap_browser_is_recognised_even_behind_a_script(tmp_path):
    assert is_snap(Path("/snap/bin/chromium"))
    assert is_snap(fake_program(tmp_path / "chromium-browser", '#!/bin/sh\nexec /snap/bin/chromium "$@"\n'))
    assert not is_snap(fake_program(tmp_path / "chromium", '#!/bin/sh\nexec /usr/lib/chromium/chromium "$@"\n'))


OS_RELEASES = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
    "ubuntu": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n',
    "mint": 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n',
    "fedora": 'NAME="Fedora Linux"\nID=fedora\n',
}


def test_without_a_browser_the_message_says_how_to_get_one_here():
    advice = {name: how_to_get_a_browser("linux", text) for name, text in OS_RELEASES.items()}
    advice.update(macos=how_to_get_a_browser("darwin"), windows=how_to_get_a_browser("win32"))
    assert "sudo apt-get install chromium" in advice["debian"] and "sudo apt-get install chromium" in advice["mint"]
    assert "sudo snap install chromium" in advice["ubuntu"] and "apt-get" not in advice["ubuntu"]
    assert "package manager" in advice["fedora"]
    assert "brew install --cask chromium" in advice["macos"] and "https://www.google.com/chrome/" in advice["windows"]
    assert r"set CHROMIUM_PATH=C:\path\to\chrome.exe" in advice["windows"]
    for system, text in advice.items():
        assert "python -m playwright install" in text and "CHROMIUM_PATH" in text, system
    problem = browser_problem(None, {}, "darwin")
    assert problem.startswith("no Chromium or Chrome found (CHROMIUM_PATH is not set") and "brew install" in problem


def test_without_a_browser_the_tests_are_skipped_unless_required(tmp_path):
    environ = {"CHROMIUM_PATH": str(tmp_path / "no-browser")}
    reason = browser_problem(find_browser(environ, [], never_called), environ, sys.platform)
    with pytest.raises(pytest.skip.Exception, match="^no browser to test the web page in: CHROMIUM_PATH is '"):
        no_browser(reason, environ)
    with pytest.raises(pytest.fail.Exception, match="^the browser tests cannot run: CHROMIUM_PATH .* they must run$"):
        no_browser(reason, {**environ, "REQUIRE_BROWSER_TESTS": "1"})


# ----- the command line ---------------------------------------------------------------------------------------


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


POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="named pipes and /dev are POSIX")


@POSIX_ONLY
@pytest.mark.parametrize("kind", ["a named pipe", "a device"])
def test_weights_that_are_a_named_pipe_or_a_device_are_refused_at_once(tmp_path, kind):
    """Reading either would never end: a pipe waits for a writer, /dev/zero has no end."""
    weights = tmp_path / "weights.npz" if kind == "a named pipe" else Path("/dev/zero")
    if kind == "a named pipe":
        os.mkfifo(weights)
    result = run_script("web_demo.py", "--weights", weights, "--output", tmp_path / "page.html", timeout=60)
    assert result.returncode == 1 and result.stderr == f"error: '{weights}' is {kind}, not a weights file\n"
    assert not (tmp_path / "page.html").exists()


def output_of_kind(kind, folder):
    """An --output that is not a regular file, of the kind named, in (or beside) `folder`."""
    if kind == "a folder":
        return folder
    if kind == "a named pipe":
        os.mkfifo(folder / "pipe.html")
        return folder / "pipe.html"
    if kind == "a link to a device":
        (folder / "link.html").symlink_to(os.devnull)
        return folder / "link.html"
    return Path(os.devnull)  # a device: as root, replacing it would break the system


@pytest.mark.parametrize("kind", ["a folder", *(pytest.param(kind, marks=POSIX_ONLY) for kind in (
    "a device", "a named pipe", "a link to a device"))])  # fmt: skip
def test_an_output_that_is_not_a_regular_file_is_refused_untouched(tmp_path, network_file, kind):
    output = output_of_kind(kind, tmp_path)
    before = [identity(path) for path in (output, os.devnull, *tmp_path.iterdir())]
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", output, timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    said = "a device" if kind == "a link to a device" else kind
    assert result.stderr.startswith(f"error: --output: '{output}' is {said}")
    assert [identity(path) for path in (output, os.devnull, *tmp_path.iterdir())] == before  # nothing replaced


def identity(path):
    """What `path` is (its kind, and which file or device), but not its times, which others may change."""
    status = os.lstat(path)
    return path, status.st_mode, status.st_dev, status.st_ino, status.st_rdev


def test_an_output_inside_a_file_is_a_clean_error(tmp_path, network_file):
    (tmp_path / "a file").write_text("not a folder")
    output = tmp_path / "a file" / "page.html"
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", output)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: --output: '{tmp_path / 'a file'}' is a file, not a folder")
    assert (tmp_path / "a file").read_text() == "not a folder" and sorted(tmp_path.iterdir()) == [tmp_path / "a file"]


def test_an_existing_file_that_is_not_a_page_is_not_replaced(tmp_path, network_file):
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my own page</html>")
    result = run_script("web_demo.py", "--weights", network_file[1], "--output", notes)
    assert result.returncode == 1 and "exists and is not a file this program wrote" in result.stderr
    assert notes.read_text() == "<html>my own page</html>"
    page = tmp_path / "page.html"
    for _ in range(2):  # a page it wrote itself is replaced
        assert run_script("web_demo.py", "--weights", network_file[1], "--output", page).returncode == 0


@memory_cap_works
def test_an_existing_output_is_recognised_by_its_first_bytes_alone(tmp_path):
    """A 4 GB file (sparse: it takes no disk space) with 300 MB of memory to spare: read whole, it would not fit."""
    huge = tmp_path / "huge.html"
    with open(huge, "wb") as file:
        file.truncate(4 * 2**30)
    result = run_with_memory_cap("import web_demo", f"web_demo.main(['--output', {str(huge)!r}])")
    assert result.returncode == 1 and "exists and is not a file this program wrote" in result.stderr, result.stderr


SLOW_STEP = """
import os, sys
sys.path.insert(0, {repository!r})
os.chdir({repository!r})
import runpy, time
import data_loader, support.startup

def slow_step(*arguments):
    print("started", flush=True)
    time.sleep(60)

{step} = slow_step
sys.argv = {argv!r}
runpy.run_path("web_demo.py", run_name="__main__")  # the script itself, as `python web_demo.py` runs it
"""


@pytest.mark.skipif(sys.platform == "win32", reason="sending Ctrl-C to a child process is POSIX-only here")
@pytest.mark.parametrize("step", ["data_loader.load_test_data", "os.fsync"])  # reading the digits, writing the page
def test_ctrl_c_is_one_line_and_status_130_and_leaves_no_file(tmp_path, network_file, step):
    """web_demo.py with one step made slow, so that Ctrl-C arrives in the middle of it."""
    argv = ["web_demo.py", "--weights", str(network_file[1]), "--output", str(tmp_path / "new" / "page.html")]
    code = SLOW_STEP.format(repository=str(REPOSITORY), step=step, argv=argv)
    process = start_interruptible([sys.executable, "-c", code])
    assert process.stdout.readline() == "started\n", process.stderr.read()
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 130 and errors.strip() == "Interrupted (Ctrl-C).", errors
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # no page, no temporary file
