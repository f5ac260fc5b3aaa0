"""Data augmentation keeps images valid and moves them exactly as promised."""

import numpy as np
import pytest

import augment
from augment import AUGMENTATIONS, augment_images, random_affine, random_elastic, random_shift

from conftest import read_real


def centre_of_mass(images):
    """(row, column) centre of mass of each 28x28 image, (N, 2)."""
    grids = images.reshape(-1, 28, 28)
    rows, columns = np.mgrid[0:28, 0:28]
    mass = grids.sum(axis=(1, 2))
    return np.stack([(grids * rows).sum(axis=(1, 2)) / mass, (grids * columns).sum(axis=(1, 2)) / mass], axis=1)


@pytest.fixture(scope="module")
def digits():
    """Real test digits with no ink within 3 pixels of the border, so that small moves lose none."""
    images = read_real("test_images")[:400]
    inside = np.zeros((28, 28), bool)
    inside[3:-3, 3:-3] = True
    keep = ~images[:, ~inside].any(axis=1)
    chosen = images[keep][:100]
    assert len(chosen) == 100
    return chosen.reshape(-1, 784).astype(np.float32) / 255


class FixedDraws:
    """Stands in for the random generator: every draw returns the same chosen values."""

    def __init__(self, integers=(), uniform=None):
        self.integer_values, self.uniform_value = list(integers), uniform

    def integers(self, low, high, size):
        return np.full(size, self.integer_values.pop(0))

    def uniform(self, low, high, size):
        return np.full(size, self.uniform_value if self.uniform_value is not None else high, dtype=float)


def test_shift_moves_the_centre_of_mass_by_the_drawn_offset(digits):
    shifted = random_shift(digits, 2, FixedDraws(integers=[2, -1]))  # 2 down, 1 left
    np.testing.assert_allclose(centre_of_mass(shifted) - centre_of_mass(digits), [[2, -1]] * len(digits), atol=1e-4)


def test_affine_pure_translation(digits):
    class TranslationOnly(FixedDraws):
        def uniform(self, low, high, size):  # angles, scale changes and shears (size N) 0; shifts (2, N, 1) 1.5
            return np.full(size, 1.5 if isinstance(size, tuple) else 0.0)

    moved = random_affine(digits, TranslationOnly(), max_shift=2)
    np.testing.assert_allclose(centre_of_mass(moved) - centre_of_mass(digits), [[1.5, 1.5]] * len(digits), atol=1e-3)


@pytest.mark.parametrize("degrees, quarter_turns", [(180, 2), (90, -1)])
def test_affine_rotation_matches_rot90(digits, degrees, quarter_turns):
    # FixedDraws draws the maximum: a rotation of exactly `degrees`, and no scaling, shear or shift
    turned = random_affine(digits, FixedDraws(), max_rotation=degrees, max_scale_change=0, max_shear=0, max_shift=0)
    expected = np.rot90(digits.reshape(-1, 28, 28), quarter_turns, axes=(1, 2)).reshape(-1, 784)
    np.testing.assert_allclose(turned, expected, atol=1e-5)


@pytest.mark.parametrize("method", AUGMENTATIONS)
def test_shape_dtype_range_and_ink(digits, method):
    distorted = augment_images(digits, method, np.random.default_rng(0), max_shift=2)
    assert distorted.shape == digits.shape and distorted.dtype == np.float32
    assert distorted.min() >= 0 and distorted.max() <= 1
    ink_ratio = distorted.sum(axis=1) / digits.sum(axis=1)  # stretching and squeezing change it a little
    assert np.all((ink_ratio > 0.5) & (ink_ratio < 1.6)) and 0.9 < ink_ratio.mean() < 1.1
    if method != "none":
        assert not np.array_equal(distorted, digits)


def test_zero_strength_transforms_are_the_identity(digits):
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(random_shift(digits, 0, rng), digits)
    still = random_affine(digits, rng, max_rotation=0, max_scale_change=0, max_shear=0, max_shift=0)
    np.testing.assert_array_equal(still, digits)
    np.testing.assert_array_equal(random_elastic(digits, rng, alpha=0), digits)
    assert augment_images(digits, "none", rng) is digits


@pytest.mark.parametrize("method", ["shift", "affine", "elastic"])
def test_same_seed_same_distortions(digits, method):
    first = augment_images(digits, method, np.random.default_rng(42))
    second = augment_images(digits, method, np.random.default_rng(42))
    third = augment_images(digits, method, np.random.default_rng(43))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_bilinear_sample_blends_the_four_neighbours():
    image = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32).reshape(1, 4)
    rows = np.array([[0.5, 0.0, 1.5, -5.0]], np.float32)
    columns = np.array([[0.5, 0.25, 1.0, -5.0]], np.float32)
    # centre of all four; a quarter of the way along the top row; half-way to the background below; outside
    np.testing.assert_allclose(augment.bilinear_sample(image, rows, columns, (2, 2)), [[1.5, 0.25, 1.5, 0.0]])


def test_gaussian_smooth_of_a_single_point_is_a_gaussian():
    field = np.zeros((1, 28, 28), np.float32)
    field[0, 14, 14] = 1
    smoothed = augment.gaussian_smooth(field, sigma=4.0)[0]
    for row, column in [(14, 14), (14, 18), (10, 17), (20, 14)]:
        distance_squared = (row - 14) ** 2 + (column - 14) ** 2
        expected = np.exp(-distance_squared / 32) / (2 * np.pi * 16)
        assert smoothed[row, column] == pytest.approx(expected, rel=1e-5)


def test_unknown_method(digits):
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_images(digits, "twist", np.random.default_rng(0))
