"""predict.py: real digits in several picture forms, the drawing window driven by synthetic mouse events,
and the error cases, through the command line; then photos' EXIF orientation, unusual picture modes, special
files, names that are not UTF-8, --raw, and the votes that --show draws."""

import errno
import os
import re
import struct
import zlib

import matplotlib.image
import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import PIL
import pytest
from matplotlib.backend_bases import MouseEvent
from PIL import Image

import predict
from conv_network import ConvNetwork
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
    if form == "upscaled_280":  # each of these pictures is 100 times larger: half as many keep the test quick
        images, labels = images[: COUNT // 2], labels[: COUNT // 2]
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
    direct = np.mean(network.predict(images.reshape(len(images), 784) / np.float32(255)) == labels)
    assert correct / len(images) >= direct - 0.01  # within a point of the model's accuracy on the raw digits


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


def test_drawing_window_needs_a_display_and_names_the_alternatives(trained_model_path):
    result = run_script("predict.py", "--weights", trained_model_path, timeout=60)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "needs a display" in result.stderr and "python predict.py IMAGE" in result.stderr
    assert "python web_demo.py writes a web page to draw in" in result.stderr


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


# ----- pictures as the camera meant them, in unusual modes, from special files, under names that are not UTF-8 -----

THREE = 18  # test digit 18 is a 3
ORIENTATION = 0x0112  # the EXIF tag


def stored_by_a_camera(upright, orientation):
    """The pixels a camera stores for the `upright` picture when it records the EXIF `orientation`: turning them
    as the tag says gives the upright picture back. Written with NumPy, independently of predict.UPRIGHT."""
    return {
        1: upright,
        2: upright[:, ::-1],  # mirrored left to right
        3: upright[::-1, ::-1],  # upside down
        4: upright[::-1, :],  # mirrored top to bottom
        5: upright.T,  # mirrored along the diagonal from the top left
        6: np.rot90(upright, 1),  # turned a quarter anticlockwise, to be turned a quarter clockwise
        7: upright[::-1, ::-1].T,  # mirrored along the other diagonal
        8: np.rot90(upright, -1),  # turned a quarter clockwise
    }[orientation]


def exif_orientation(orientation):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif


def dark_on_light(digit, scale, width=None):
    """A real digit as dark ink on white paper, `scale` times larger, on paper `width` pixels wide if given."""
    ink = np.kron(255 - digit, np.ones((scale, scale), np.uint8))
    paper = np.full((len(ink), width or len(ink)), 255, np.uint8)
    paper[:, : ink.shape[1]] = ink
    return paper


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_upright(tmp_path, orientation):
    upright = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5) * 17  # 3 rows, 5 columns, every pixel different
    stored = Image.fromarray(np.ascontiguousarray(stored_by_a_camera(upright, orientation)))
    stored.save(tmp_path / "picture.png", exif=exif_orientation(orientation))
    np.testing.assert_array_equal(predict.read_image(tmp_path / "picture.png"), upright)


def test_a_phone_photo_tagged_rotate_90_is_read_upright(network, digits, tmp_path):
    images, labels = digits
    upright = dark_on_light(images[THREE], 40, width=1400)  # 1120 x 1400: large enough to be decoded at 1/2
    Image.fromarray(upright).save(tmp_path / "upright.jpg", quality=90)
    Image.fromarray(np.rot90(upright, 1)).save(tmp_path / "tagged.jpg", quality=90, exif=exif_orientation(6))
    Image.fromarray(np.rot90(upright, 1)).save(tmp_path / "sideways.jpg", quality=90)  # the same pixels, no tag
    answers = {}
    for name in ("upright", "tagged", "sideways"):
        picture, _, probabilities = predict.classify_file(network, tmp_path / f"{name}.jpg")
        answers[name] = (picture.shape, int(np.argmax(probabilities)))
    assert answers["tagged"] == answers["upright"] == ((400, 500), labels[THREE])
    assert answers["sideways"][1] != labels[THREE]  # without its tag, the same photo is misread


def skip_unless_read_back_as(path, mode):
    """Skip the test when this Pillow reads the file it just wrote in another mode (Pillow 9 reads a 16-bit PNG
    as 32-bit 'I', and a YCbCr TIFF as RGB): the mode the test is about never reaches predict.py then."""
    found = Image.open(path).mode
    if found != mode:
        pytest.skip(f"Pillow {PIL.__version__} reads a {mode} {path.suffix} file back as {found}")


@pytest.mark.parametrize("mode, suffix", [("I;16", "png"), ("I;16B", "tif")])
def test_a_16_bit_grey_picture_larger_than_1000_pixels(network, digits, tmp_path, mode, suffix):
    images, labels = digits
    grey = dark_on_light(images[THREE], 40).astype(np.uint16) * 196  # 1120 x 1120, paper at 49980 of 65535
    Image.frombytes(mode, grey.shape[::-1], grey.astype(">u2" if mode == "I;16B" else "<u2").tobytes()).save(
        tmp_path / f"scan.{suffix}"
    )
    skip_unless_read_back_as(tmp_path / f"scan.{suffix}", mode)
    picture, _, probabilities = predict.classify_file(network, tmp_path / f"scan.{suffix}")
    assert picture.shape == (500, 500) and picture.dtype == np.float32
    assert picture.max() == pytest.approx(49980 / 65535)  # 16-bit grey has a fixed range: not stretched
    assert int(np.argmax(probabilities)) == labels[THREE]


@pytest.mark.parametrize("low, high", [(0, 1), (-300, 700)])
def test_a_float_tiff_is_scaled_by_its_own_range(network, digits, tmp_path, low, high):
    images, labels = digits
    digit = images[THREE].astype(np.float32) / 255 * (high - low) + low  # light ink on dark, from low to high
    Image.fromarray(digit).save(tmp_path / "digit.tif")
    assert Image.open(tmp_path / "digit.tif").mode == "F"
    picture, _, probabilities = predict.classify_file(network, tmp_path / "digit.tif")
    assert picture.dtype == np.float32 and picture.min() == 0 and picture.max() == 1
    assert int(np.argmax(probabilities)) == labels[THREE]


def test_a_float_tiff_of_one_grey_or_not_numbers_is_refused_in_words(tmp_path):
    Image.fromarray(np.full((8, 8), 7.5, np.float32)).save(tmp_path / "flat.tif")
    with pytest.raises(predict.BlankImageError, match="no digit found"):
        predict.classify_file(None, tmp_path / "flat.tif")
    Image.fromarray(np.full((8, 8), np.nan, np.float32)).save(tmp_path / "nan.tif")
    with pytest.raises(ValueError, match="not numbers"):
        predict.read_image(tmp_path / "nan.tif")


@pytest.mark.parametrize("mode", ["1", "P", "CMYK", "I", "PA", "YCbCr"])
def test_other_picture_modes(network, digits, tmp_path, mode):
    images, labels = digits
    Image.fromarray(dark_on_light(images[THREE], 4)).convert(mode).save(tmp_path / "digit.tif")
    skip_unless_read_back_as(tmp_path / "digit.tif", mode)
    _, _, probabilities = predict.classify_file(network, tmp_path / "digit.tif")
    assert int(np.argmax(probabilities)) == labels[THREE]


def test_grey_with_transparency_and_show(digits, tmp_path, trained_model_path, capsys):
    images, labels = digits
    black_ink = np.stack([np.zeros_like(images[THREE]), images[THREE]], axis=-1)  # grey 0, opaque where the ink is
    Image.fromarray(black_ink, "LA").save(tmp_path / "ink.png")
    assert Image.open(tmp_path / "ink.png").mode == "LA"
    predict.main([str(tmp_path / "ink.png"), "--show", "--weights", str(trained_model_path),
                  "--results-dir", str(tmp_path / "figures")])  # fmt: skip
    output = capsys.readouterr()
    assert LINE.match(output.out.splitlines()[0]).group(2) == str(labels[THREE]) and output.err == ""
    assert is_png(tmp_path / "figures" / "prediction_1_ink.png")


needs_named_pipes = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")


@needs_named_pipes
def test_special_files_among_the_pictures_are_refused_at_once(digits, tmp_path, trained_model_path):
    images, labels = digits
    plt.imsave(tmp_path / "first.png", images[0], cmap="gray", vmin=0, vmax=255)
    plt.imsave(tmp_path / "last.png", images[1], cmap="gray", vmin=0, vmax=255)
    os.mkfifo(tmp_path / "pipe.png")  # reading it would wait for a writer forever
    (tmp_path / "folder.png").mkdir()
    specials = ["pipe.png", "folder.png"] + (["/dev/zero"] if os.path.exists("/dev/zero") else [])
    files = ["first.png", *specials, "last.png"]
    result = run_script("predict.py", *files, "--weights", trained_model_path, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert [LINE.match(line).group(1, 2) for line in result.stdout.splitlines()] == [
        ("first.png", str(labels[0])),
        ("last.png", str(labels[1])),
    ]
    kinds = {"pipe.png": "a named pipe", "folder.png": "a folder", "/dev/zero": "a device"}
    assert result.stderr.splitlines() == [f"error: {name}: it is {kinds[name]}, not a picture" for name in specials]


@needs_named_pipes
@pytest.mark.parametrize("kind", ["named pipe", "device"])
def test_weights_that_are_a_pipe_or_a_device_are_one_line(tmp_path, kind):
    weights = tmp_path / "model.npz"
    if kind == "named pipe":
        os.mkfifo(weights)
    elif os.path.exists("/dev/zero"):
        weights = "/dev/zero"
    else:
        pytest.skip("no /dev/zero here")
    result = run_script("predict.py", "a.png", "--weights", weights, timeout=60)
    assert result.returncode == 1 and result.stderr == f"error: '{weights}' is a {kind}, not a weights file\n"


def test_a_name_that_is_not_utf8_is_printed_escaped(digits, tmp_path, trained_model_path):
    images, labels = digits
    plt.imsave(tmp_path / "good.png", images[0], cmap="gray", vmin=0, vmax=255)
    odd_name = os.fsencode(tmp_path) + b"/digit\xff.png"  # a byte that is not UTF-8, as from another system
    try:
        with open(odd_name, "wb") as file:
            file.write((tmp_path / "good.png").read_bytes())
    except (OSError, UnicodeError):
        pytest.skip("this system does not allow file names that are not UTF-8")
    odd, missing = os.fsdecode(odd_name), os.fsdecode(os.fsencode(tmp_path) + b"/missing\xfe.png")  # as Python has them
    arguments = [odd, missing, tmp_path / "good.png", "--show", "--results-dir", tmp_path / "figures"]
    result = run_script("predict.py", *arguments, "--weights", trained_model_path, timeout=60, encoding="utf-8")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    answers = [line for line in result.stdout.splitlines() if not line.startswith("Saved figure: ")]
    assert [line.split(": ")[0] for line in answers] == [f"{tmp_path}/digit\\xff.png", str(tmp_path / "good.png")]
    assert result.stderr == f"error: {tmp_path}/missing\\xfe.png: no such file\n"
    assert is_png(tmp_path / "figures" / "prediction_1_digit\ufffd.png")  # the figure's name is valid UTF-8


RAW = re.compile(r"^(\d)  \((\d \d+\.\d%), (\d \d+\.\d%), (\d \d+\.\d%)\)$")


def test_raw_answers_come_after_the_usual_line(network, digits, tmp_path, trained_model_path, capsys):
    images, labels = digits
    plt.imsave(tmp_path / "mnist.png", images[0], cmap="gray", vmin=0, vmax=255)  # already in MNIST's form
    Image.fromarray(photo_of_a_digit(images[1], 180, 240)).save(tmp_path / "photo.png")
    files = [str(tmp_path / "mnist.png"), str(tmp_path / "photo.png")]
    predict.main([*files, "--weights", str(trained_model_path)])
    usual_lines = capsys.readouterr().out.splitlines()
    predict.main([*files, "--raw", "--weights", str(trained_model_path)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    usual, raw = zip(*(line.split("  raw 28x28: ") for line in lines))
    assert list(usual) == usual_lines  # the usual line, exactly as without --raw, then the raw answer
    assert [LINE.match(line).group(1) for line in usual] == files and LINE.match(usual[0]).group(2) == str(labels[0])
    assert all(RAW.match(answer) for answer in raw)
    mnist_probabilities = network.predict_probabilities(images[0].reshape(1, 784) / np.float32(255))[0]
    assert raw[0] == f"{np.argmax(mnist_probabilities)}  ({predict.top_guesses(mnist_probabilities)})"


def saved_figures(monkeypatch):
    """The figures predict.py saves from now on, kept open instead of written out."""
    figures = []
    monkeypatch.setattr(predict.visualize, "save_figure", lambda figure, path: figures.append(figure))
    return figures


def texts_of(figure):
    return [text.get_text() for text in figure.findobj(matplotlib.text.Text) if text.get_text()]


def test_the_votes_shown_add_up_to_the_score(network, digits, monkeypatch):
    images, labels = digits
    x = images[THREE].reshape(784) / np.float32(255)
    W1, W2 = network.weights
    b1, b2 = network.biases
    H = np.maximum(x @ W1 + b1, 0)  # (128,): written out here, independently of Network.forward and votes
    scores = H @ W2 + b2  # (10,)
    digit = int(np.argmax(scores))
    votes = predict.votes_for(network, x.reshape(28, 28), digit)
    assert votes.score == pytest.approx(scores[digit], rel=1e-5)
    np.testing.assert_allclose(votes.votes, H * W2[:, digit], rtol=1e-5, atol=1e-6)
    shown = votes.strongest_for + votes.strongest_against
    assert votes.bias + votes.votes[shown].sum() + votes.others == pytest.approx(scores[digit], rel=1e-5)
    np.testing.assert_allclose(votes.votes[votes.strongest_for], sorted(H * W2[:, digit], reverse=True)[:6], 1e-5)
    np.testing.assert_allclose(votes.votes[votes.strongest_against], sorted(H * W2[:, digit])[:6], 1e-5)

    figures = saved_figures(monkeypatch)
    probabilities = network.predict_probabilities(x.reshape(1, 784))[0]
    predict.plot_prediction(network, images[THREE], x.reshape(28, 28), probabilities, "three", "three.png")
    texts = texts_of(figures[0])
    caption = next(text for text in texts if text.startswith("The score of"))
    n = r"([+-]?\d+\.\d\d)"  # a number of the caption
    sum_in_words = rf"of {digit}, {n}, is the bias b2\[{digit}\] \({n}\).* for it \({n}\), .* against it \({n}\)"
    sum_in_words += rf" and the other 116 \({n}\)"  # 128 units: 6 shown for, 6 against, 116 others
    numbers = re.search(sum_in_words, caption, re.DOTALL)
    score, *parts = map(float, numbers.groups())
    assert score == pytest.approx(scores[digit], abs=0.005) and sum(parts) == pytest.approx(score, abs=0.03)
    assert "the votes and the bias add up to the score" in caption.lower()
    pictures = {axis.get_title(): axis.images[0].get_array() for axis in figures[0].findobj(plt.Axes)
                if axis.get_title().startswith("unit ")}  # fmt: skip
    assert len(pictures) == 12
    for unit in shown:  # each picture is the unit's input weights, titled with its vote
        np.testing.assert_array_equal(pictures[f"unit {unit}: {votes.votes[unit]:+.2f}"], W1[:, unit].reshape(28, 28))
    plt.close("all")


@pytest.mark.parametrize("model", ["two hidden layers", "cnn"])
def test_deeper_networks_show_the_votes_of_their_last_hidden_layer_only(digits, monkeypatch, model):
    images, _ = digits
    if model == "cnn":
        network = ConvNetwork(conv_channels=(2, 3), hidden_sizes=(8,), seed=1)
    else:
        network = Network([784, 16, 12, 10], seed=1)
    x = images[THREE] / np.float32(255)
    probabilities = network.predict_probabilities(x.reshape(1, 784))[0]
    digit = int(np.argmax(probabilities))
    votes = predict.votes_for(network, x, digit)
    assert len(votes.votes) == network.layer_sizes[-2]  # one vote per unit of the last hidden layer
    shown = votes.strongest_for + votes.strongest_against
    score = network.forward(x.reshape(1, 784))[0][0, digit]
    assert votes.bias + votes.votes[shown].sum() + votes.others == pytest.approx(score, rel=1e-4, abs=1e-5)
    figures = saved_figures(monkeypatch)
    predict.plot_prediction(network, images[THREE], x, probabilities, "three", "three.png")
    texts = " ".join(texts_of(figures[0]))
    assert "last hidden layer" in texts and "Only the votes are shown" in texts
    assert len(figures[0].findobj(matplotlib.image.AxesImage)) == 2  # the picture and its 28x28 version: no weights
    plt.close("all")


def test_show_with_raw_draws_the_raw_picture_beside_the_preprocessed_one(network, digits, tmp_path, monkeypatch):
    images, _ = digits
    plt.imsave(tmp_path / "three.png", images[THREE], cmap="gray", vmin=0, vmax=255)
    figures = saved_figures(monkeypatch)
    predict.classify_files(network, [str(tmp_path / "three.png")], show=True, results_dir=tmp_path, raw=True)
    titles = [axis.get_title() for axis in figures[0].findobj(plt.Axes)][:3]
    assert titles[0] == "three.png" and titles[1].startswith("what the network sees")
    assert titles[2].startswith("raw, only resized to 28x28")
    plt.close("all")
