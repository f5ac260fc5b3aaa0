"""Data augmentation: new variations of the training images, drawn afresh for every mini-batch.

A digit moved a pixel to the left, turned a little or written with a shakier hand is still the same digit.
Showing the network such variations teaches it that, and it then generalises better to the test images.
Only training images are augmented; validation and test images are used as they are.

    shift     move each image by whole pixels (cheap, exact)
    affine    rotate, scale, shear and move each image (Simard et al. 2003 call these affine distortions)
    elastic   bend each image along a smooth random displacement field (Simard et al.'s elastic distortions)

Affine and elastic distortions move pixels by fractions of a pixel, so the new image is read from the old one
by bilinear interpolation: a blend of the four nearest pixels, weighted by closeness (`bilinear_sample`).
"""

import math

import numpy as np

AUGMENTATIONS = ("none", "shift", "affine", "elastic")

# Strengths of the affine distortion: each image draws its own values uniformly within these ranges.
MAX_ROTATION_DEGREES = 12.0  # turn by up to this many degrees either way
MAX_SCALE_CHANGE = 0.1  # grow or shrink by up to 10%
MAX_SHEAR = 0.2  # slant: each row moves sideways by up to 0.2 pixels per row from the centre
# Strengths of the elastic distortion. Simard et al. smoothed a uniform random field in [-1, 1] with a
# Gaussian of standard deviation ELASTIC_SIGMA pixels and scaled it by ELASTIC_ALPHA; the results depend on
# how the field is normalised, so these were checked by eye (python visualize.py, augmented_samples.png).
ELASTIC_SIGMA = 4.0
ELASTIC_ALPHA = 34.0


def augment_images(images, method, rng, max_shift=1, image_shape=(28, 28)):
    """A fresh augmented copy of `images` (N, rows * columns) by `method`; 'none' returns them as they are.

    max_shift: the largest move in pixels, for 'shift' and for the translation part of 'affine'.
    """
    if method == "none":
        return images
    if method == "shift":
        return random_shift(images, max_shift, rng, image_shape)
    if method == "affine":
        return random_affine(images, rng, max_shift=max_shift, image_shape=image_shape)
    if method == "elastic":
        return random_elastic(images, rng, image_shape=image_shape)
    raise ValueError(f"unknown augmentation '{method}'; choose one of {', '.join(AUGMENTATIONS)}")


def random_shift(images, max_shift, rng, image_shape=(28, 28)):
    """Move every image by its own random whole-pixel offset of up to `max_shift` in each direction.

    images: (N, rows * columns). Pixels moved out of the frame are lost; those moved in are 0 (background).
    Rather than loop over images, we loop over the (2 * max_shift + 1) ** 2 possible offsets and move all
    images that drew the same offset in one slicing operation: a matter of speed, which a first reading can skip.
    """
    rows, columns = image_shape
    count = len(images)
    padded = np.zeros((count, rows + 2 * max_shift, columns + 2 * max_shift), dtype=images.dtype)
    padded[:, max_shift : max_shift + rows, max_shift : max_shift + columns] = images.reshape(count, rows, columns)
    offsets_down = rng.integers(-max_shift, max_shift + 1, size=count)  # (N,)
    offsets_right = rng.integers(-max_shift, max_shift + 1, size=count)  # (N,)
    shifted = np.empty((count, rows, columns), dtype=images.dtype)
    for down in range(-max_shift, max_shift + 1):
        for right in range(-max_shift, max_shift + 1):
            chosen = np.flatnonzero((offsets_down == down) & (offsets_right == right))
            # a window that starts `down` rows above the image shows the image `down` rows lower
            top, left = max_shift - down, max_shift - right
            shifted[chosen] = padded[chosen, top : top + rows, left : left + columns]
    return shifted.reshape(count, rows * columns)


def random_affine(
    images, rng, max_rotation=MAX_ROTATION_DEGREES, max_scale_change=MAX_SCALE_CHANGE, max_shear=MAX_SHEAR,
    max_shift=1.0, image_shape=(28, 28),
):  # fmt: skip
    """Rotate, scale, shear and shift every image by its own random amounts, up to the given maxima.

    Each output pixel at position p (measured from the image centre) reads the input at M p - t, where
    M = rotation(angle) @ shear / scale and t is the shift. All maxima 0 give back the images unchanged.
    """
    count = len(images)
    angles = np.radians(rng.uniform(-max_rotation, max_rotation, count))  # (N,)
    scales = 1 + rng.uniform(-max_scale_change, max_scale_change, count)  # (N,)
    shears = rng.uniform(-max_shear, max_shear, count)  # (N,)
    shifts = rng.uniform(-max_shift, max_shift, (2, count, 1)).astype(np.float32)  # rows and columns, (2, N, 1)
    rotations = np.zeros((count, 2, 2))
    rotations[:, 0, 0], rotations[:, 0, 1] = np.cos(angles), -np.sin(angles)
    rotations[:, 1, 0], rotations[:, 1, 1] = np.sin(angles), np.cos(angles)
    shear_matrices = np.zeros((count, 2, 2))
    shear_matrices[:, 0, 0] = shear_matrices[:, 1, 1] = 1
    shear_matrices[:, 1, 0] = shears  # the column read moves in proportion to the row
    transforms = (rotations @ shear_matrices / scales[:, None, None]).astype(np.float32)  # (N, 2, 2)
    middle_row, middle_column = centre(image_shape)
    rows, columns = pixel_positions(image_shape)  # (R*C,) each
    rows, columns = rows - middle_row, columns - middle_column  # measured from the centre
    m = transforms[:, :, :, None]  # (N, 2, 2, 1): entries broadcast over the R*C pixels
    source_rows = m[:, 0, 0] * rows + m[:, 0, 1] * columns + middle_row - shifts[0]  # (N, R*C)
    source_columns = m[:, 1, 0] * rows + m[:, 1, 1] * columns + middle_column - shifts[1]  # (N, R*C)
    return bilinear_sample(images, source_rows, source_columns, image_shape)


def random_elastic(images, rng, alpha=ELASTIC_ALPHA, sigma=ELASTIC_SIGMA, image_shape=(28, 28)):
    """Bend every image along its own smooth random displacement field (Simard, Steinkraus and Platt, 2003).

    For each image, draw a displacement in [-1, 1] for every pixel and both directions, smooth the two fields
    with a Gaussian of width `sigma` (so that neighbouring pixels move together) and scale them by `alpha`.
    Each output pixel then reads the input at its own position plus its displacement. alpha 0 is the identity.
    """
    count = len(images)
    fields = rng.random((2 * count, *image_shape), dtype=np.float32) * 2 - 1  # (2N, R, C) in [-1, 1]
    displacements = alpha * gaussian_smooth(fields, sigma).reshape(2, count, -1)  # (2, N, R*C)
    rows, columns = pixel_positions(image_shape)  # (R*C,) each
    return bilinear_sample(images, rows + displacements[0], columns + displacements[1], image_shape)


def gaussian_smooth(fields, sigma):
    """Blur each of the (M, R, C) fields with a Gaussian of standard deviation `sigma` pixels.

    A Gaussian blur can be done one direction at a time, and blurring along a line of n values is a
    multiplication by an (n, n) matrix G. So we blur every row (fields @ G) and then every column.
    """
    count, rows, columns = fields.shape
    along_rows = fields.reshape(-1, columns) @ gaussian_matrix(columns, sigma)  # (M*R, C) @ (C, C)
    columns_first = along_rows.reshape(count, rows, columns).transpose(0, 2, 1).reshape(-1, rows)  # (M*C, R)
    along_columns = columns_first @ gaussian_matrix(rows, sigma)  # (M*C, R) @ (R, R)
    return along_columns.reshape(count, columns, rows).transpose(0, 2, 1)  # (M, R, C)


def gaussian_matrix(size, sigma):
    """G[i, j] = the weight of value i in the blurred value j: a Gaussian of the distance |i - j|.

    G is symmetric. Its columns sum to 1 away from the border; near the border the missing weight stands
    for values outside the image, which count as 0.
    """
    distances = np.arange(size)[:, None] - np.arange(size)[None, :]  # (size, size)
    weights = np.exp(-(distances**2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    return weights.astype(np.float32)


def pixel_positions(image_shape):
    """The row and the column of every pixel, in reading order: two float32 arrays of rows * columns."""
    rows, columns = np.meshgrid(np.arange(image_shape[0]), np.arange(image_shape[1]), indexing="ij")
    return rows.ravel().astype(np.float32), columns.ravel().astype(np.float32)


def centre(image_shape):
    """The (row, column) at the middle of the image: (13.5, 13.5) for 28x28."""
    return (image_shape[0] - 1) / 2, (image_shape[1] - 1) / 2


def bilinear_sample(images, source_rows, source_columns, image_shape=(28, 28)):
    """Read every image at fractional positions, blending the four nearest pixels.

    images: (N, R*C). source_rows, source_columns: (N, R*C), where each output pixel reads from.
    A position between pixels gets a weighted mean of its four neighbours: the closer the neighbour,
    the larger its weight. Positions outside the image read background (0). The lesson is the last three
    lines; the index arithmetic before them only finds the four neighbours of every position in one flat array,
    for speed, and a first reading can skip it.
    """
    rows, columns = image_shape
    count = len(images)
    # A border of background pixels around every image: positions outside the image read 0 from it.
    padded = np.zeros((count, rows + 2, columns + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images.reshape(count, rows, columns)
    row = np.clip(source_rows + 1, 0, rows + 1)  # (N, R*C), in padded coordinates
    column = np.clip(source_columns + 1, 0, columns + 1)
    top = np.minimum(np.floor(row), rows)  # the neighbour above; top + 1 is still inside the padding
    left = np.minimum(np.floor(column), columns)
    down, right = row - top, column - left  # (N, R*C) in [0, 1]: how close the position is to the next pixel
    width = columns + 2
    image_starts = np.arange(count)[:, None] * padded[0].size  # (N, 1): where each image begins in `pixels`
    top_left = image_starts + top.astype(np.intp) * width + left.astype(np.intp)  # (N, R*C) index of neighbour
    pixels = padded.ravel()
    upper = (1 - right) * pixels[top_left] + right * pixels[top_left + 1]  # blend along the row above
    lower = (1 - right) * pixels[top_left + width] + right * pixels[top_left + width + 1]  # and the row below
    return (1 - down) * upper + down * lower  # then between the two rows
