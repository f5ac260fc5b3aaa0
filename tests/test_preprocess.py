"""Each preprocessing step on small synthetic images with a known answer."""

import numpy as np
import pytest

import preprocess
from preprocess import BlankImageError


def test_to_greyscale_weights_colours_like_the_eye():
    rgb = np.zeros((1, 3, 3), np.float32)
    rgb[0, 0], rgb[0, 1], rgb[0, 2] = [1, 0, 0], [0, 1, 0], [0, 0, 1]
    np.testing.assert_allclose(preprocess.to_greyscale(rgb), [[0.299, 0.587, 0.114]], rtol=1e-6)


def test_to_greyscale_integers_and_transparency():
    np.testing.assert_allclose(preprocess.to_greyscale(np.array([[0, 255]], np.uint8)), [[0, 1]])
    rgba = np.array([[[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0.5]]], np.float32)  # transparent, black, half
    np.testing.assert_allclose(preprocess.to_greyscale(rgba), [[1, 0, 0.5]])  # over white paper
    with pytest.raises(ValueError, match="shape"):
        preprocess.to_greyscale(np.zeros((2, 2, 5)))


def test_inversion_is_decided_by_the_background():
    dark_on_light = np.ones((5, 5), np.float32)
    dark_on_light[2, 1:4] = 0  # a dark stroke on white paper
    np.testing.assert_array_equal(preprocess.light_ink_on_dark(dark_on_light), 1 - dark_on_light)
    light_on_dark = 1 - dark_on_light
    np.testing.assert_array_equal(preprocess.light_ink_on_dark(light_on_dark), light_on_dark)


def test_remove_background_stretches_and_drops_noise():
    image = np.full((6, 6), 0.2, np.float32)  # grey paper
    image[1, 1], image[2, 2], image[3, 3] = 0.8, 0.5, 0.22  # strong ink, half ink, a speck of noise
    cleaned = preprocess.remove_background(image)
    assert cleaned[1, 1] == pytest.approx(1) and cleaned[2, 2] == pytest.approx(0.5, abs=0.01)
    assert cleaned[3, 3] == 0 and cleaned[0, 0] == 0


def test_blank_image_is_refused():
    with pytest.raises(BlankImageError, match="blank"):
        preprocess.remove_background(np.full((8, 8), 0.3, np.float32) + np.float32(0.01) * np.eye(8))


def test_crop_to_ink_finds_the_bounding_box():
    image = np.zeros((10, 12), np.float32)
    image[2, 5] = image[6, 3] = image[4, 9] = 1
    assert preprocess.crop_to_ink(image).shape == (5, 7)  # rows 2-6, columns 3-9


def test_fit_in_box_keeps_the_aspect_ratio():
    tall = np.ones((40, 10), np.float32)
    assert preprocess.fit_in_box(tall, 20).shape == (20, 5)
    wide = np.ones((7, 70), np.float32)
    assert preprocess.fit_in_box(wide, 20).shape == (2, 20)


def test_fit_in_box_averages_areas():
    checkerboard = np.indices((4, 4)).sum(axis=0) % 2  # 0 1 0 1 / 1 0 1 0 ...
    np.testing.assert_allclose(preprocess.fit_in_box(checkerboard.astype(np.float32), 2), 0.5)
    blocks = np.kron(np.array([[1, 2], [3, 4]], np.float32), np.ones((3, 3)))  # 6x6 of 3x3 blocks
    np.testing.assert_allclose(preprocess.fit_in_box(blocks, 2), [[1, 2], [3, 4]], rtol=1e-6)
    line = np.zeros((3, 3), np.float32)
    line[:, 1] = 1  # a one-pixel line, shrunk by 3/2: fainter, not gone
    assert 0 < preprocess.fit_in_box(line, 2).max() < 1


def test_area_average_rows_sum_to_one():
    for old, new in [(7, 3), (3, 7), (20, 20), (1, 5)]:
        matrix = preprocess.area_average_matrix(old, new)
        assert matrix.shape == (new, old)
        np.testing.assert_allclose(matrix.sum(axis=1), 1, rtol=1e-6)


def test_centre_by_mass_puts_the_mass_at_14_14():
    blob = np.zeros((12, 12), np.float32)
    blob[2:6, 1:4] = 1  # most of the ink in the top left corner
    blob[11, 10] = 1
    field = preprocess.centre_by_mass(blob)
    assert field.shape == (28, 28) and field.sum() == pytest.approx(blob.sum())
    rows, columns = np.indices(field.shape)
    centre = ((field * rows).sum() / field.sum(), (field * columns).sum() / field.sum())
    assert abs(centre[0] - 14) <= 0.5 and abs(centre[1] - 14) <= 0.5


def test_preprocess_a_dark_digit_on_a_large_light_photo():
    photo = np.full((300, 200, 3), 230, np.uint8)  # light grey paper
    photo[100:220, 60:90] = 20  # a thick dark bar, 120 x 30: a "1"
    digit = preprocess.preprocess(photo)
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    rows, columns = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert rows[-1] - rows[0] + 1 == 20 and columns[-1] - columns[0] + 1 == 5  # fitted into 20x20
    assert digit.max() == pytest.approx(1) and digit[0, 0] == 0


def test_centre_by_mass_never_pushes_ink_out_of_the_field():
    lopsided = np.zeros((20, 20), np.float32)
    lopsided[0, 0] = 1  # the centre of mass is at the very corner
    lopsided[19, 19] = 0.01
    field = preprocess.centre_by_mass(lopsided)
    assert field.sum() == pytest.approx(lopsided.sum())


def test_background_surface_follows_uneven_light_but_not_the_ink():
    rows, columns = np.indices((40, 30))
    light = 0.1 + 0.3 * rows / 40 + 0.2 * (columns / 30) ** 2  # brighter towards the bottom and the right
    ink = light.copy()
    ink[10:30, 12:16] += 0.6  # a stroke on top of it
    np.testing.assert_allclose(preprocess.background_surface(ink.astype(np.float32)), light, atol=0.01)


def test_background_surface_of_a_flat_image_is_the_image():
    flat = np.full((40, 40), 0.2156862, np.float32)  # fitted exactly: every residual is 0
    np.testing.assert_allclose(preprocess.background_surface(flat), flat, rtol=1e-5)


def test_every_step_works_in_float32():
    photo = np.full((60, 50, 3), 230, np.uint8)
    photo[10:50, 20:30] = 20
    grey = preprocess.to_greyscale(photo)
    ink = preprocess.light_ink_on_dark(grey)
    surface = preprocess.background_surface(ink)
    cleaned = preprocess.remove_background(ink)
    cropped = preprocess.crop_to_ink(cleaned)
    fitted = preprocess.fit_in_box(cropped, 20)
    steps = [grey, ink, surface, cleaned, cropped, fitted, preprocess.centre_by_mass(fitted)]
    assert [step.dtype for step in steps] == [np.float32] * len(steps)
    assert preprocess.area_average_matrix(50, 20).dtype == np.float32
    assert preprocess.to_greyscale(np.zeros((4, 4), np.float64)).dtype == np.float32


def test_a_digit_photographed_in_uneven_light():
    rows, columns = np.indices((300, 200))
    photo = 0.95 - 0.3 * rows / 300 - 0.2 * columns / 200  # paper: bright top left, much darker bottom right
    photo[100:220, 60:90] = 0.1  # a thick dark bar: a "1"
    digit = preprocess.preprocess(photo.astype(np.float32))
    rows_with_ink, columns_with_ink = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert rows_with_ink[-1] - rows_with_ink[0] + 1 == 20  # the bar alone was cropped and fitted to 20x20,
    assert columns_with_ink[-1] - columns_with_ink[0] + 1 == 5  # not the darker corner of the paper


def test_raw_28x28_turns_the_grey_levels_the_mnist_way_and_nothing_else():
    paper = np.full((280, 280), 0.8, np.float32)  # light grey paper...
    paper[10:50, 20:30] = 0.3  # ...with a dark bar in its top left corner
    raw = preprocess.raw_28x28(paper)
    assert raw.shape == (28, 28) and raw.dtype == np.float32
    np.testing.assert_allclose(raw[1:5, 2], 0.7, rtol=1e-5)  # the ink inverted, but not stretched to 1
    np.testing.assert_allclose(raw[20:, 20:], 0.2, rtol=1e-5)  # the paper: dark, but not removed to 0
    assert raw[14, 14] == pytest.approx(0.2)  # the centre is still paper: the bar was neither cropped nor centred


def test_raw_28x28_squeezes_the_whole_picture_and_keeps_light_ink_as_it_is():
    wide = np.zeros((56, 112), np.float32)  # light ink on black already, twice as wide as high
    wide[:, :56] = 1  # its left half inked
    raw = preprocess.raw_28x28(wide)
    assert raw.shape == (28, 28)  # the proportions are not kept...
    np.testing.assert_allclose(raw[:, :14], 1, rtol=1e-6)  # ...and nothing is inverted or cropped
    np.testing.assert_allclose(raw[:, 14:], 0, atol=1e-6)


def test_raw_28x28_of_a_blank_picture_is_not_refused():
    np.testing.assert_allclose(preprocess.raw_28x28(np.full((40, 30, 3), 200, np.uint8)), 55 / 255, rtol=1e-5)
