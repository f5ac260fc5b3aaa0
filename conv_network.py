"""A small convolutional network written out with NumPy: convolution by im2col, max-pooling, and both backward.

The architecture is LeNet-like. Shapes for a mini-batch of B images (C1, C2 filters, H units); the convolution
layers keep their arrays as (channels, height, width, batch), for the reason given under "Memory layout":

    input                          (1, 28, 28, B)
    convolution 5x5                (C1, 24, 24, B)   each output pixel weighs a 5x5 patch of the input
    max-pool 2x2, bias, ReLU       (C1, 12, 12, B)   keep the strongest response in every 2x2 block
    convolution 5x5                (C2, 8, 8, B)     now each patch is 5x5 pixels x C1 channels
    max-pool 2x2, bias, ReLU       (C2, 4, 4, B)
    flatten                        (B, 16 * C2)      one row per image, (row, column, channel) in order
    fully connected, ReLU          (B, H)            these last layers are those of network.Network,
    fully connected, softmax       (B, 10)           which ConvNetwork builds on

A filter is a small weight pattern slid over the image: at every position, the output is the dot product of
the filter with the patch under it, plus a bias. A fully connected layer would learn separate weights for
every position; a filter shares one set of weights across all of them, so a stroke is recognised wherever
it appears, with 25 * C1 weights instead of 784 * hidden.

Convolution by im2col ("image to columns"): copy every 5x5 patch of every image into one column of a matrix,
then all filters at all positions are one matrix product, the fastest thing NumPy does:

    filters.T (C1, 5 * 5 * 1) @ columns (5 * 5 * 1, 24 * 24 * B) -> (C1, 24 * 24 * B) -> reshape (C1, 24, 24, B)

(With one patch per row instead, patches = columns.T, the same product reads patches @ filters.)

Pooling comes before the bias and the activation f, which then touch a quarter of the values. The result is
the same as pooling f(Z + b): every activation of network.py (relu, tanh, sigmoid) is non-decreasing, so the
largest of f(z1 + b), ..., f(z4 + b) is f(the largest z + b), and the bias, the same for the whole block, does not
change which value wins.

The backward pass is the same product read backwards, with the names of network.py: the filters' gradient is
dW = columns @ dZ.T, and the columns' gradient W @ dZ, whose entries are added back onto the pixels they were
copied from (col2im). On the way there, the gradient passes back through the activation (times f') and the
pooling (each block's gradient goes to the one value that won it).

Memory layout: NumPy is fastest on long runs of neighbouring numbers, and with the batch last and the channels
first, every step of the convolution layers works on such runs. im2col fills its matrix one kernel offset at a
time: entry (row, column) of every patch is the whole batch shifted by (row, column), a copy of runs of OW * B
numbers; col2im adds them back the same way; and the four values of a pooling block are four runs of B numbers.
With channels last, (B, H, W, C), the runs would be C numbers long, and C is 1 in the first layer.

The first layer's filters start at a quarter of He's scale (FIRST_FILTERS_SCALE). He's rule keeps the signal's size
through many ReLU layers; for the first layer, whose inputs are pixels in [0, 1], the scale only sets the size of
everything after it. And the gradient a filter receives does not depend on the filter's own size: from He's
start, training changed the first filters by a fraction of their random values, which then hid what they had
learned. Started four times smaller, they move by more than their starting size, into visible edge detectors.
"""

import numpy as np

from network import ACTIVATIONS, Network, initial_weights

FIRST_FILTERS_SCALE = 0.25  # the first layer's filters start at this share of He's scale: see above


def im2col(images, kernel_size):
    """Every kernel_size x kernel_size patch of every image, one patch per column.

    images: (C, H, W, B). Returns (K * K * C, OH * OW * B), with OH = H - K + 1 and OW = W - K + 1: the column
    for (i, j, b) holds the patch of image b whose top-left corner is pixel (i, j), in (row, column, channel)
    order, the order of a filter's weights.
    """
    channels, height, width, batch = images.shape
    out_height, out_width = height - kernel_size + 1, width - kernel_size + 1
    columns = np.empty((kernel_size, kernel_size, channels, out_height, out_width, batch), dtype=images.dtype)
    for row in range(kernel_size):  # one copy per kernel offset (25 for 5x5): entry (row, column) of every patch
        for column in range(kernel_size):  # is the batch of images shifted by (row, column), (C, OH, OW, B)
            columns[row, column] = images[:, row : row + out_height, column : column + out_width, :]
    return columns.reshape(kernel_size * kernel_size * channels, out_height * out_width * batch)


def col2im(column_gradients, image_shape, kernel_size):
    """The way back of im2col: add every patch's gradient onto the pixels the patch was copied from.

    A pixel that sat in several overlapping patches collects the sum of their gradients.
    column_gradients: (K * K * C, OH * OW * B). Returns image_shape, (C, H, W, B).
    """
    channels, height, width, batch = image_shape
    out_height, out_width = height - kernel_size + 1, width - kernel_size + 1
    columns = column_gradients.reshape(kernel_size, kernel_size, channels, out_height, out_width, batch)
    images = np.zeros(image_shape, dtype=column_gradients.dtype)
    for row in range(kernel_size):  # im2col's copies undone, one kernel offset at a time: (C, OH, OW, B) each
        for column in range(kernel_size):
            images[:, row : row + out_height, column : column + out_width, :] += columns[row, column]
    return images


def max_pool(images):
    """2x2 max-pooling: (C, H, W, B) -> (C, H/2, W/2, B), and `winners`, (C, H, W, B), True at the one value that
    won each block.

    A small tournament finds the largest value of every block: the better of each row of the block, then the
    better of the two rows. Every duel is a strict '>': the right value beats the left only when it is larger, the
    bottom row beats the top row only when its best is larger. So when values tie (a blank background gives four
    equal ones), the first in reading order wins: top-left, top-right, bottom-left, bottom-right. Only one value
    of every block wins, so that max_pool_backward gives the block's gradient to exactly one.
    """
    channels, height, width, batch = images.shape
    blocks = images.reshape(channels, height // 2, 2, width // 2, 2, batch)  # a view: block (i, j) is [:, i, :, j]
    top_left, top_right = blocks[:, :, 0, :, 0], blocks[:, :, 0, :, 1]  # views, (C, H/2, W/2, B) each
    bottom_left, bottom_right = blocks[:, :, 1, :, 0], blocks[:, :, 1, :, 1]
    top_right_wins = top_right > top_left  # (C, H/2, W/2, B) of True and False
    bottom_right_wins = bottom_right > bottom_left
    top, bottom = np.maximum(top_left, top_right), np.maximum(bottom_left, bottom_right)  # the best of each row
    bottom_wins = bottom > top
    winners = np.empty(blocks.shape, dtype=bool)  # (C, H/2, 2, W/2, 2, B), the shape of the blocks
    winners[:, :, 0, :, 0] = ~(bottom_wins | top_right_wins)
    winners[:, :, 0, :, 1] = top_right_wins & ~bottom_wins
    winners[:, :, 1, :, 0] = bottom_wins & ~bottom_right_wins
    winners[:, :, 1, :, 1] = bottom_wins & bottom_right_wins
    return np.maximum(top, bottom), winners.reshape(images.shape)


def max_pool_backward(pooled_gradient, winners):
    """The gradient of each block goes to the value that won it; the three others get 0.

    pooled_gradient: (C, H/2, W/2, B), winners: (C, H, W, B) from max_pool. Returns (C, H, W, B).
    """
    channels, height, width, batch = winners.shape
    blocks = winners.reshape(channels, height // 2, 2, width // 2, 2, batch)  # (C, H/2, 2, W/2, 2, B)
    spread = pooled_gradient[:, :, None, :, None, :]  # (C, H/2, 1, W/2, 1, B): a block's gradient, for its 4 values
    return (blocks * spread).reshape(winners.shape)  # True * gradient = gradient, False * gradient = 0


def feature_map_size(image_shape, conv_channels, kernel_size):
    """(height, width) of the maps the last pooling gives; a ValueError when the layers do not fit the image."""
    height, width = image_shape
    for _ in conv_channels:  # each stage: a convolution without padding, then halving by the pooling
        height, width = height - kernel_size + 1, width - kernel_size + 1
        if height < 2 or width < 2 or height % 2 or width % 2:
            raise ValueError(
                f"{kernel_size}x{kernel_size} convolutions of a {tuple(image_shape)} image give "
                f"{height}x{width} maps, which 2x2 pooling cannot halve"
            )
        height, width = height // 2, width // 2
    return height, width


class ConvNetwork(Network):
    """Convolution, max-pooling and ReLU layers in front of the fully connected layers of a network.Network.

    The fully connected layers are this object's own `weights` and `biases`, as in a Network; the filters
    are `conv_weights` and `conv_biases`. parameters() lists the filters first, then the fully connected layers.
    """

    evaluation_chunk = 256  # a convolution's columns are 25 times its images: smaller chunks evaluate faster

    def __init__(self, conv_channels=(32, 64), hidden_sizes=(256,), kernel_size=5, seed=0, image_shape=(28, 28),
                 activation="relu", init="he"):  # fmt: skip
        self.conv_channels = [int(channels) for channels in conv_channels]
        self.hidden_sizes = [int(size) for size in hidden_sizes]
        self.kernel_size, image_shape = int(kernel_size), tuple(int(side) for side in image_shape)
        if not self.conv_channels:
            raise ValueError("a convolutional network needs at least one layer of filters")
        if min(self.conv_channels + self.hidden_sizes) < 1 or self.kernel_size < 1:
            raise ValueError("every layer needs at least one filter or unit, and filters at least one pixel")
        height, width = feature_map_size(image_shape, self.conv_channels, self.kernel_size)
        conv_seed, dense_seed = np.random.SeedSequence(seed).spawn(2)  # independent random streams
        features = height * width * self.conv_channels[-1]
        super().__init__([features, *self.hidden_sizes, 10], seed=dense_seed, activation=activation, init=init)
        self.image_shape, self.seed = image_shape, seed
        rng = np.random.default_rng(conv_seed)
        inputs = [1, *self.conv_channels[:-1]]  # channels entering each convolution
        patch_size = self.kernel_size * self.kernel_size
        self.conv_weights = [initial_weights(patch_size * channels_in, channels_out, init, rng)
                             for channels_in, channels_out in zip(inputs, self.conv_channels)]  # fmt: skip
        self.conv_weights[0] *= np.float32(FIRST_FILTERS_SCALE)
        self.conv_biases = [np.zeros(channels, dtype=np.float32) for channels in self.conv_channels]

    def parameters(self):
        """[filters 1, their biases, filters 2, ..., then W1, b1, W2, b2, ... of the fully connected layers]."""
        filters = [array for W, b in zip(self.conv_weights, self.conv_biases) for array in (W, b)]
        return filters + super().parameters()

    def convolve(self, H, layer):
        """Convolution layer `layer` applied to its input H, (C_in, height, width, B). Returns the columns, the
        filters' responses Z (C_out, OH, OW, B) before the bias, the pooling's winners (C_out, OH, OW, B), and the
        layer's output f(pooled Z + b), (C_out, OH / 2, OW / 2, B)."""
        W, b = self.conv_weights[layer], self.conv_biases[layer]
        _, height, width, batch = H.shape
        columns = im2col(H, self.kernel_size)  # (K * K * C_in, OH * OW * B)
        Z = W.T @ columns  # (C_out, K * K * C_in) @ (K * K * C_in, OH * OW * B) -> (C_out, OH * OW * B)
        Z = Z.reshape(len(Z), height - self.kernel_size + 1, width - self.kernel_size + 1, batch)
        pooled, winners = max_pool(Z)  # (C_out, OH / 2, OW / 2, B), and (C_out, OH, OW, B) of True and False
        pooled += b[:, None, None, None]  # (C_out, OH / 2, OW / 2, B) + (C_out, 1, 1, 1), in place
        output = ACTIVATIONS[self.activation][0](pooled)  # the bias and f touch a quarter of Z's values only
        return columns, Z, winners, output

    def forward(self, X, dropout=0.0, rng=None):
        """Scores Z (B, 10) and a cache for the backward pass. X: (B, 784). Dropout acts on the dense layers.

        For every convolution layer, the cache keeps what the backward pass needs: the shape of its input, its
        columns, which value won each pooling block, and its output H. One backward pass uses it up.
        """
        H = X.T.copy().reshape(1, *self.image_shape, len(X))  # (B, 784) -> (784, B), copied -> (1, 28, 28, B)
        stages = []
        for layer in range(len(self.conv_weights)):
            input_shape = H.shape  # (C_in, H, W, B)
            columns, _, winners, H = self.convolve(H, layer)  # H: (C_out, OH / 2, OW / 2, B)
            stages.append({"input_shape": input_shape, "columns": columns, "winners": winners, "H": H})
        features = H.transpose(3, 1, 2, 0).reshape(len(X), -1)  # (C2, 4, 4, B) -> (B, 4, 4, C2) -> (B, 16 * C2)
        Z, dense_cache = super().forward(features, dropout, rng)  # (B, 10)
        return Z, {"stages": stages, "dense": dense_cache}

    def backward(self, cache, dZ, input_gradient=False):
        """The gradients in the order of parameters(), and None (the images need no gradient).

        The fully connected layers come first (Network.backward), then the gradient is carried on into the
        features, and back through each activation, pooling and convolution:
            dPooled = dH * f'(H)            the gradient of the pooled Z + b: (C_out, OH / 2, OW / 2, B)
            dZ = dPooled sent to the winners of the pooling, 0 elsewhere:     (C_out, OH, OW, B)
            dW = columns @ dZ.T,  db = the sum of dPooled,  dColumns = W @ dZ, and col2im gives the input's dH

        It uses up the cache: each layer's columns are taken off it once dW is computed. They are the largest
        arrays of a step (26 MB in the second layer of the 'cnn' preset), and dColumns is as large. Letting go of
        one before making the other lowers the memory a step needs by as much, and spares the time the system
        takes to hand a process fresh memory: measured on Linux, a training step ran about a tenth faster.
        """
        f_derivative = ACTIVATIONS[self.activation][1]
        stages = cache["stages"]
        dense_gradients, dFeatures = super().backward(cache["dense"], dZ, input_gradient=True)  # (B, 16 * C2)
        channels, height, width, batch = stages[-1]["H"].shape
        # (B, 16 * C2) -> (B, 4, 4, C2) -> (C2, 4, 4, B), copied in that order, which the steps below read fastest
        dH = np.ascontiguousarray(dFeatures.reshape(batch, height, width, channels).transpose(3, 1, 2, 0))
        gradients = []
        for layer in reversed(range(len(self.conv_weights))):
            stage, W = stages[layer], self.conv_weights[layer]
            dPooled = dH * f_derivative(stage["H"])  # (C_out, OH / 2, OW / 2, B): the gradient of the pooled Z + b
            dZ = max_pool_backward(dPooled, stage["winners"])  # (C_out, OH, OW, B)
            dZ = dZ.reshape(len(dZ), -1)  # (C_out, OH * OW * B)
            dW = stage.pop("columns") @ dZ.T  # (K*K*C_in, OH*OW*B) @ (OH*OW*B, C_out) -> (K*K*C_in, C_out)
            db = dPooled.reshape(len(dPooled), -1).sum(axis=1)  # (C_out,): each block's gradient went to one value
            gradients = [dW, db, *gradients]
            if layer > 0:  # the input pixels need no gradient
                # dColumns = W @ dZ: (K*K*C_in, C_out) @ (C_out, OH*OW*B) -> (K*K*C_in, OH*OW*B), added back onto
                # the input's pixels by col2im: (C_in, H, W, B). (Not kept in a variable: it is the largest array.)
                dH = col2im(W @ dZ, stage["input_shape"], self.kernel_size)
        return gradients + dense_gradients, None

    def dense_cache(self, cache):
        """The part of a forward pass's cache that belongs to the fully connected layers."""
        return cache["dense"]

    def feature_maps(self, image):
        """The activated responses f(Z + b) of every convolution to one image (784,), before pooling: a list of
        (OH, OW, C) arrays. Training never computes them at full size: it pools first (see the module docstring)."""
        f = ACTIVATIONS[self.activation][0]
        H, maps = image.reshape(1, *self.image_shape, 1), []  # (1, 28, 28, 1): one channel, a batch of one
        for layer, b in enumerate(self.conv_biases):
            _, Z, _, H = self.convolve(H, layer)
            maps.append(f(Z[:, :, :, 0] + b[:, None, None]).transpose(1, 2, 0))  # (C, OH, OW) -> (OH, OW, C)
        return maps
