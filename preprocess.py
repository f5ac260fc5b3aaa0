"""Bring a picture of a handwritten digit into the form of the MNIST digits, step by step.

The network only ever saw MNIST digits, and they are all prepared the same way: white ink on a black
background, the digit scaled to fit a 20x20 box (keeping its proportions), placed in a 28x28 field so that
its centre of mass sits at the centre. A photo or a drawing is nothing like that: dark ink on light paper,
any size, anywhere in the frame. Fed to the network as it is, it is misread (a drawing that already fills its
frame, light on dark, can come through: python predict.py --raw PICTURE shows which). So:

    picture -> greyscale -> light ink on a dark background -> background 0, strongest ink 1
            -> cropped to the ink -> scaled into 20x20 -> centred by mass in 28x28

Each step is one small function below; `preprocess` runs them in order. `raw_28x28` skips the steps that
bring the digit into MNIST's form, to show what they are for.
"""

import numpy as np

BOX_SIZE = 20  # MNIST digits are scaled to fit a 20x20 box...
FIELD_SIZE = 28  # ...inside a 28x28 field...
FIELD_CENTRE = 14.0  # ...with their centre of mass at pixel (14, 14), as measured on the training images
NOISE_LEVEL = 0.1  # after stretching, values below this are paper texture or camera noise, not ink
MIN_CONTRAST = 0.1  # an image whose ink is less than this much brighter than its background is blank


class BlankImageError(ValueError):
    """The image holds no digit: nothing stands out from its background."""


def preprocess(image):
    """Any picture of one digit, as an array -> (28, 28) float32 in [0, 1], MNIST-style.

    Every step works in float32: as precise as the pictures are, and half the memory of float64.
    """
    grey = to_greyscale(image)
    ink = light_ink_on_dark(grey)
    ink = remove_background(ink)
    ink = crop_to_ink(ink)
    ink = fit_in_box(ink, BOX_SIZE)
    return centre_by_mass(ink, FIELD_SIZE, FIELD_CENTRE)


def raw_28x28(image, size=FIELD_SIZE):
    """A picture as a program without preprocessing would give it to the network: (28, 28) float32 in [0, 1].

    Its grey levels are turned the MNIST way (greyscale, light ink on a dark background, 0 to 1), and the whole
    picture is resized to 28x28 by area averaging, a non-square one losing its proportions. Nothing else: the
    background is not removed nor the ink stretched to 1, the digit is not cropped, scaled into 20x20 or centred.
    """
    ink = light_ink_on_dark(to_greyscale(image))
    height, width = ink.shape
    # (size, height) @ (height, width) @ (width, size) -> (size, size)
    return area_average_matrix(height, size) @ ink @ area_average_matrix(width, size).T


def to_greyscale(image):
    """(H, W), (H, W, 3) RGB or (H, W, 4) RGBA, integers or floats -> (H, W) floats in [0, 1], 1 is white.

    Colours are weighted by how bright they look to the eye (ITU-R 601 luma). Transparent pixels count as
    white paper, so a digit drawn on a transparent background works too.
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        image = np.divide(image, np.iinfo(image.dtype).max, dtype=np.float32)  # 0..255 (or 0..65535) -> 0..1
    image = image.astype(np.float32, copy=False)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected a greyscale, RGB or RGBA image, got an array of shape {image.shape}")
    if image.shape[2] in (1, 2):  # grey, or grey and alpha
        grey = image[..., 0]
    else:
        grey = 0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]
    if image.shape[2] in (2, 4):  # the last channel is alpha: 0 transparent, 1 opaque
        alpha = image[..., -1]
        grey = alpha * grey + (1 - alpha) * 1.0  # composite over white paper
    return grey


def light_ink_on_dark(grey):
    """Invert the image when its background is light, so that the ink is bright on dark, as in MNIST.

    Most of a picture of a digit is background, so the median pixel tells the background's brightness.
    """
    return 1 - grey if np.median(grey) > 0.5 else grey


def remove_background(ink):
    """Make the background exactly 0 and the strongest ink 1; faint specks below NOISE_LEVEL become 0.

    Paper in a photo is never perfectly black after inversion, nor evenly lit: one side is brighter, a
    corner darker. So the background's brightness is estimated at every pixel (`background_surface`) and
    subtracted, and what remains is stretched to fill [0, 1]: every picture gets MNIST's contrast.
    """
    above_background = ink - background_surface(ink)
    strongest = float(above_background.max())
    if strongest < MIN_CONTRAST:
        raise BlankImageError("no digit found: the image is blank or has almost no contrast")
    stretched = np.clip(above_background / strongest, 0, 1)
    stretched[stretched < NOISE_LEVEL] = 0
    return stretched


def background_surface(ink, rounds=3):
    """The background's brightness at every pixel, as a smooth surface fitted to the image.

    The surface is a quadratic in the row r and column c, a + b r + c c + d r^2 + e r c + f c^2, which can
    follow light that fades from one side to another or towards the corners. Its six coefficients are fitted
    by least squares to the pixels, then fitted again to those that do not stand out as ink, a few times:
    the ink must not count as background.
    """
    height, width = ink.shape
    rows, columns = np.indices(ink.shape, dtype=np.float32)
    rows, columns = rows.ravel() / height, columns.ravel() / width  # (H*W,) each, in [0, 1)
    terms = np.stack([np.ones_like(rows), rows, columns, rows**2, rows * columns, columns**2], axis=1)  # (H*W, 6)
    values = ink.ravel()  # (H*W,)
    paper = np.ones(values.shape, dtype=bool)  # the pixels taken to be background, at first all of them
    for _ in range(rounds):
        coefficients = np.linalg.lstsq(terms[paper], values[paper], rcond=None)[0]  # (6,)
        surface = terms @ coefficients  # (H*W, 6) @ (6,) -> (H*W,)
        residual = values - surface
        paper = residual <= 0.25 * residual.max()  # well above the surface is ink; <=: all of a flat image
    return surface.reshape(ink.shape)


def crop_to_ink(ink):
    """The smallest rectangle holding every non-zero pixel."""
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def fit_in_box(ink, size):
    """Scale the image so that its longer side is `size` pixels, keeping its proportions.

    Each new pixel is the average of the old pixels it covers, weighted by how much of each it covers
    ("area averaging"): a thin stroke shrinks into a fainter, thinner one instead of vanishing, as it
    could with nearest-neighbour sampling. Scaling along rows and columns is one matrix product each.
    """
    height, width = ink.shape
    scale = size / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    # (new_height, height) @ (height, width) @ (width, new_width) -> (new_height, new_width)
    return area_average_matrix(height, new_height) @ ink @ area_average_matrix(width, new_width).T


def area_average_matrix(old_size, new_size):
    """M with (M @ values) = `values` resampled from old_size to new_size cells by area averaging.

    New cell i covers the stretch [i, i + 1) * old_size / new_size of the old cells; M[i, j] is the share
    of that stretch which old cell j fills, so every row of M sums to 1.
    """
    edges = np.arange(new_size + 1, dtype=np.float32) * np.float32(old_size / new_size)  # where new cells start
    starts, ends = edges[:-1, None], edges[1:, None]  # (new_size, 1)
    old_cells = np.arange(old_size, dtype=np.float32)[None, :]  # (1, old_size): old cell j spans [j, j + 1)
    overlap = np.clip(np.minimum(ends, old_cells + 1) - np.maximum(starts, old_cells), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)  # (new_size, old_size)


def centre_by_mass(ink, field_size=FIELD_SIZE, centre=FIELD_CENTRE):
    """Place the image in a field_size x field_size black field with its centre of mass at (centre, centre).

    The centre of mass is the ink-weighted mean position. MNIST moves digits by whole pixels, so do we.
    """
    height, width = ink.shape
    rows, columns = np.arange(height), np.arange(width)
    mass = ink.sum()
    mass_row, mass_column = (ink.sum(axis=1) @ rows) / mass, (ink.sum(axis=0) @ columns) / mass
    top = int(np.clip(round(centre - mass_row), 0, field_size - height))  # stay inside the field
    left = int(np.clip(round(centre - mass_column), 0, field_size - width))
    field = np.zeros((field_size, field_size), dtype=np.float32)
    field[top : top + height, left : left + width] = ink
    return field
