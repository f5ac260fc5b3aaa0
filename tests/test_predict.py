"""predict.py: real digits in several picture forms, the drawing window driven by synthetic mouse events,
and the error cases, through the command line."""

import errno
import re
import struct
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from PIL import Image

import predict
from network import Network
from support.model_files import ModelFileError, save_model

from conftest import is_png, memory_cap_works, photo_of_a_digit, read_real, run_script, run_with_memory_cap

COUNT = 200  # real test digits per form
LINE = re.compile(r"^(.+): (\d)  \((\d \d+\.\d%), (\d \d+\.\d%), (\d \d+\.\d%)\)$")


def offset_on_a_large_canvas(digit, rng):
    canvas = np.zeros((90, 120), np.uint8)
    top, left = rng.integers(0, 90 - 28), rng.integers(0, 120 - 28)
    canvas[top : top + 28, left : left + 28] = digit
    return canvas


FORMS = {
    "as_is": lambda digit, rng: digit,
    "upscaled_280": lambda digit, rng: np.kron(digit, np.ones((10, 10), np.uint8)),
    "black_on_white": lambda digit, rng: 255 - digit,
    "off_centre": offset_on_a_large_canvas,
    "rgb_blue_ink": lambda digit, rng: np.stack([255 - digit, 255 - digit, np.full_like(digit, 255)], axis=-1),
}


@pytest.fixture(scope="module")
def network(trained_model_path):
    return predict.load_digit_model(trained_model_path)


@pytest.fixture(scope="module")
def digits():
    return read_real("test_images")[:COUNT], read_real("test_labels")[:COUNT]


@pytest.mark.parametrize("form", FORMS)
def test_real_digits_as_png_files(network, digits, tmp_path, form):
    images, labels = digits
    rng = np.random.default_rng(0)
    correct = 0
    for index, (digit, label) in enumerate(zip(images, labels)):
        path = tmp_path / f"{index}.png"
        picture = FORMS[form](digit, rng)
        if picture.ndim == 2:
            plt.imsave(path, picture, cmap="gray", vmin=0, vmax=255)
        else:
            plt.imsave(path, picture)
        _, _, probabilities = predict.classify_file(network, path)
        correct += int(np.argmax(probabilities)) == label
    direct = np.mean(network.predict(images.reshape(COUNT, 784) / np.float32(255)) == labels)
    assert correct / COUNT >= direct - 0.01  # within a point of the model's accuracy on the raw digits


def test_command_line_lines_and_errors(tmp_path, digits, trained_model_path):
    images, labels = digits
    plt.imsave(tmp_path / "seven.png", 255 - images[0], cmap="gray", vmin=0, vmax=255)  # labels[0] is a 7
    plt.imsave(tmp_path / "photo.jpg", np.stack([255 - np.kron(images[1], np.ones((5, 5), np.uint8))] * 3, -1))
    plt.imsave(tmp_path / "blank.png", np.full((40, 40), 200, np.uint8), cmap="gray", vmin=0, vmax=255)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    files = ["seven.png", "missing.png", "blank.png", "photo.jpg", "broken.png"]
    result = run_script("predict.py", *files, "--weights", trained_model_path, cwd=tmp_path)
    assert result.returncode == 1  # some files failed...
    lines = result.stdout.splitlines()
    assert [LINE.match(line).group(1) for line in lines] == ["seven.png", "photo.jpg"]  # ...the others did not
    assert LINE.match(lines[0]).group(2) == str(labels[0]) and LINE.match(lines[1]).group(2) == str(labels[1])
    errors = result.stderr
    assert "error: missing.png: no such file" in errors
    assert "error: blank.png: no digit found" in errors
    assert "error: broken.png: cannot read it as an image" in errors
    assert "Traceback" not in errors


def test_show_saves_a_figure(tmp_path, digits, trained_model_path):
    plt.imsave(tmp_path / "three.png", digits[0][18], cmap="gray", vmin=0, vmax=255)
    result = run_script("predict.py", tmp_path / "three.png", "--show", "--weights", trained_model_path,
                        "--results-dir", tmp_path / "figures")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert is_png(tmp_path / "figures" / "prediction_1_three.png")


@pytest.mark.parametrize("weights_problem", ["missing", "incompatible"])
def test_bad_weights(tmp_path, weights_problem):
    weights = tmp_path / "model.npz"
    if weights_problem == "incompatible":
        save_model(Network([100, 8, 10]), weights)
    (tmp_path / "a.png").write_bytes(b"")
    result = run_script("predict.py", tmp_path / "a.png", "--weights", weights)
    assert result.returncode == 1 and result.stderr.startswith("error:") and str(weights) in result.stderr
    assert "Traceback" not in result.stderr


def test_drawing_window_needs_a_display(trained_model_path):
    result = run_script("predict.py", "--weights", trained_model_path)
    assert result.returncode == 1
    assert "needs a display" in result.stderr and "python predict.py IMAGE" in result.stderr


@pytest.mark.parametrize(
    "problem, expected",
    [("five_outputs", "has 5 outputs, not one for each of the 10 digits"), ("nan", "holds NaN or inf weights")],
)
def test_models_that_cannot_classify_digits_are_refused(tmp_path, problem, expected):
    network = Network([784, 8, 5 if problem == "five_outputs" else 10])
    save_model(network, tmp_path / "model.npz")
    if problem == "nan":  # written by hand: save_model itself refuses to write NaN
        with np.load(tmp_path / "model.npz") as saved:
            np.savez(tmp_path / "model.npz", **{**saved, "W2": np.full((8, 10), np.nan, np.float32)})
    with pytest.raises(ModelFileError, match=re.escape(expected)) as error:
        predict.load_digit_model(tmp_path / "model.npz")
    assert "model.npz" in str(error.value)


def test_wildcards_are_expanded_when_the_shell_did_not(trained_model_path):
    result = run_script("predict.py", "docs/examples/*", "docs/examples/*.gif", "--weights", trained_model_path)
    assert [LINE.match(line).group(1) for line in result.stdout.splitlines()] == [
        "docs/examples/drawn_4.png",
        "docs/examples/photo_3.jpg",
    ]
    assert result.stderr == "error: docs/examples/*.gif: no file matches\n" and result.returncode == 1


def test_a_file_named_like_a_pattern_is_taken_as_it_is(tmp_path, digits):
    plt.imsave(tmp_path / "[7].png", digits[0][0], cmap="gray", vmin=0, vmax=255)
    assert predict.expand_wildcards([str(tmp_path / "[7].png")]) == ([str(tmp_path / "[7].png")], [])


def test_every_kind_of_failure_stays_with_its_file(network, tmp_path, digits, monkeypatch, capsys):
    plt.imsave(tmp_path / "good.png", digits[0][0], cmap="gray", vmin=0, vmax=255)
    failures = {"huge.png": MemoryError(), "odd.png": RuntimeError("something unforeseen")}
    real_read_image = predict.read_image

    def read_image(path):
        if path in failures:
            raise failures[path]
        return real_read_image(path)

    monkeypatch.setattr(predict, "read_image", read_image)
    paths = ["huge.png", str(tmp_path / "good.png"), "odd.png"]
    assert predict.classify_files(network, paths, show=False, results_dir=None) == 2
    output = capsys.readouterr()
    assert LINE.match(output.out.strip()).group(1) == str(tmp_path / "good.png")
    assert output.err.splitlines() == [
        "error: huge.png: not enough memory to classify it",
        "error: odd.png: RuntimeError: something unforeseen",
    ]


@pytest.mark.parametrize(
    "layout, expected",
    [("file", "'{}' is a file, not a folder"), ("file/sub", "cannot create the folder '{}': Not a directory")],
)
def test_unusable_results_dir_is_reported_before_any_work(tmp_path, layout, expected, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(predict, "load_digit_model", lambda path: pytest.fail("the model was loaded"))
    with pytest.raises(SystemExit) as exit:
        predict.main(["a.png", "--show", "--results-dir", str(tmp_path / layout)])
    assert exit.value.code == "error: --results-dir: " + expected.format(tmp_path / layout)


def test_a_figure_that_cannot_be_saved(tmp_path, digits, trained_model_path, monkeypatch, capsys):
    plt.imsave(tmp_path / "seven.png", digits[0][0], cmap="gray", vmin=0, vmax=255)

    def full_disk(figure, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(predict.visualize, "save_figure", full_disk)
    arguments = [str(tmp_path / "seven.png"), "--show", "--weights", str(trained_model_path)]
    with pytest.raises(SystemExit) as exit:
        predict.main([*arguments, "--results-dir", str(tmp_path / "figures")])
    assert exit.value.code == 1
    output = capsys.readouterr()
    assert LINE.match(output.out.strip())  # the file was classified...
    assert output.err.strip() == (  # ...and its figure's failure reported in one line
        f"error: {tmp_path / 'seven.png'}: cannot save its figure in '{tmp_path / 'figures'}': No space left on device"
    )


def test_ctrl_c_ends_with_one_line_and_code_130(tmp_path, trained_model_path, monkeypatch, capsys):
    def interrupted(network, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict, "classify_file", interrupted)
    with pytest.raises(SystemExit) as exit:
        predict.main([str(tmp_path / "a.png"), "--weights", str(trained_model_path)])
    assert exit.value.code == 130 and capsys.readouterr().err == "interrupted\n"


def png_declaring(width, height):
    """A valid greyscale PNG of width x height black pixels: 10000 x 10000 (100 MB of pixels) is 100 KB.

    A PNG is a signature and chunks, each its length, type, data and CRC checksum: IHDR gives the size,
    IDAT holds the rows compressed with zlib, each row a filter byte (0, none) and then its pixels.
    """

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), bytes(1 + width)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    size = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8 bits per pixel, greyscale, no interlacing
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", size) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@memory_cap_works
def test_phone_photos_and_a_png_bomb_within_300_mb(tmp_path, digits, trained_model_path):
    images, labels = digits
    photo = Image.fromarray(photo_of_a_digit(images[1], 3000, 4000))
    photo.save(tmp_path / "photo.jpg", quality=90)
    photo.save(tmp_path / "photo.png", compress_level=1)
    (tmp_path / "bomb.png").write_bytes(png_declaring(10000, 10000))
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    files = [str(tmp_path / name) for name in ("photo.jpg", "bomb.png", "photo.png")]
    result = run_with_memory_cap("import predict", f"predict.main({[*files, '--weights', str(trained_model_path)]})")
    assert result.returncode == 1, result.stderr  # the bomb failed...
    lines = result.stdout.splitlines()
    assert [LINE.match(line).group(1) for line in lines] == [files[0], files[2]]  # ...the photos did not
    assert [LINE.match(line).group(2) for line in lines] == [str(labels[1])] * 2
    assert result.stderr == (
        f"error: {files[1]}: the picture is 10000x10000 pixels (100 megapixels); "
        "pictures of more than 50 megapixels are refused\n"
    )


def mouse(pad, name, row, column, button=1):
    """Send a real matplotlib mouse event at canvas position (row, column) through the figure's callbacks."""
    x, y = pad.canvas_axis.transData.transform((column, row))
    pad.figure.canvas.callbacks.process(name, MouseEvent(name, pad.figure.canvas, x, y, button=button))


def test_drawing_pad_strokes_clear_and_live_probabilities(network):
    pad = predict.DrawingPad(network)
    assert not pad.canvas.any() and not pad.probabilities.any()
    mouse(pad, "button_press_event", 15, 56)
    for row in range(20, 100, 10):  # a vertical stroke down the middle: a "1"
        mouse(pad, "motion_notify_event", row, 56)
    mouse(pad, "button_release_event", 95, 56)
    assert pad.canvas[15:91, 56].min() == 1  # the whole stroke is inked, not only the points sent
    assert not pad.canvas[:, :40].any()  # and nothing far from it
    assert pad.probabilities.sum() == pytest.approx(1, rel=1e-5)
    assert int(np.argmax(pad.probabilities)) == 1
    assert pad.bars_axis.get_title().startswith("the network's answer: 1 (")
    assert pad.bars[1].get_height() == pytest.approx(pad.probabilities[1])
    mouse(pad, "motion_notify_event", 50, 10)  # moving without the button held draws nothing
    assert not pad.canvas[:, :40].any()
    x, y = pad.button_axis.transAxes.transform((0.5, 0.5))  # a click in the middle of the "clear" button
    for name in ("button_press_event", "button_release_event"):
        pad.figure.canvas.callbacks.process(name, MouseEvent(name, pad.figure.canvas, x, y, button=1))
    assert not pad.canvas.any() and not pad.probabilities.any()
    assert pad.bars_axis.get_title() == "the network's answer"
    plt.close(pad.figure)
