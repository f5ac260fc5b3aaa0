"""A fully connected neural network written out with NumPy: the forward pass and the backward pass.

The default network has one hidden layer: 784 pixels -> hidden ReLU units -> 10 class scores. For a
mini-batch of B images, the symbols of the equations are the names in the code:

    X       (B, 784)        the images, one per row, grey levels in [0, 1]
    W, b    (n_in, n_out), (n_out,)     a layer's weights and biases (W1, b1 for the first layer, ...)
    Z       (B, n_out)      a layer's pre-activation: what its units add up, Z = H @ W + b
    H       (B, n_out)      a hidden layer's activation, H = relu(Z); the first layer's input is X
    P       (B, 10)         the probabilities of the ten digits, softmax of the last layer's Z (the scores)
    y, Y    (B,), (B, 10)   the labels, and the same as one-hot rows (Y[i, y[i]] = 1)
    L                       the loss: the mean of -log(probability given to the true digit)
    dZ, dW, db, dH          the gradients of L with respect to Z, W, b and H, of the same shapes

    Forward                                       Backward (the chain rule, from the loss back)
    Z1 = X @ W1 + b1       hidden pre-activation  dZ2 = (P - Y) / B
    H  = relu(Z1)          hidden activation      dW2 = H.T @ dZ2       db2 = dZ2 summed over the batch
    Z2 = H @ W2 + b2       scores ("logits")      dH  = dZ2 @ W2.T
    P  = softmax(Z2)       probabilities          dZ1 = dH * (Z1 > 0)   ReLU lets gradient through where active
    L  = -mean(log P[i, y_i])  cross-entropy      dW1 = X.T @ dZ1       db1 = dZ1 summed over the batch

relu(z) = max(z, 0); softmax(z)_k = exp(z_k) / sum_j exp(z_j). The neat (P - Y) / B is the gradient of the
cross-entropy of a softmax with respect to its scores: the exponentials and the logarithm cancel.
With more hidden layers the first two lines of each column repeat once per layer: `forward` and `backward`
loop over the layers. What a training step does with the gradients (weight decay, clipping, the update) is
in `train_step` in train.py. Everything is float32: half the memory traffic of float64, and precise enough.
"""

import math

import numpy as np
from numpy.random import default_rng


def relu(Z):
    """max(Z, 0), element by element."""
    return np.maximum(Z, 0)


def log_softmax(Z):
    """log(softmax(Z)) per row, computed so that huge scores never overflow.

    Subtracting each row's largest score changes nothing mathematically (softmax is shift-invariant)
    but makes every exponent <= 0, so exp() lies in (0, 1] and never becomes inf.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)  # (B, 10), each row's maximum is now 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (B, 10) - (B, 1) -> (B, 10)


def softmax(Z):
    """The probabilities P: every row is positive and sums to 1."""
    return np.exp(log_softmax(Z))


def softmax_cross_entropy(Z, y):
    """The loss L of a batch, the mean of -log P[i, y_i], and its gradient with respect to the scores, (P - Y) / B."""
    rows = np.arange(len(y))
    log_P = log_softmax(Z)  # (B, 10)
    L = float(-log_P[rows, y].mean())
    P = np.exp(log_P)  # (B, 10)
    dZ = P  # the same array, turned into the gradient in place:
    dZ[rows, y] -= 1  # P - Y, without building the one-hot Y
    dZ /= len(y)  # (P - Y) / B
    return L, dZ


def dropout_mask(shape, rate, rng):
    """Inverted dropout: each unit is kept with probability 1 - rate, and kept units are scaled by 1 / (1 - rate).

    Switching off a random share of the hidden units at every step keeps units from relying on each other
    (Srivastava et al., 2014). The scaling keeps each unit's expected output unchanged, so at evaluation
    time, when nothing is dropped, the network needs no correction.
    """
    keep = rng.random(shape, dtype=np.float32) >= rate  # (B, n_hidden): True for the units that stay on
    return keep * np.float32(1 / (1 - rate))


def he_initialization(fan_in, fan_out, rng):
    """Random weights with variance 2 / fan_in (He et al., 2015).

    ReLU zeroes about half of its inputs, halving the signal's variance at every layer; doubling the
    usual 1 / fan_in variance makes up for it, so activations neither vanish nor explode at the start.
    """
    scale = np.float32(math.sqrt(2.0 / fan_in))
    return rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale


class Network:
    """Input -> hidden layers (ReLU) -> output scores (softmax), trained by mini-batch gradient descent.

    `layer_sizes` lists the width of every layer, input first and output last: [784, 128, 10] is one
    hidden layer of 128 units. Layer l has weights W of shape (inputs, outputs) and biases b.

    Every model here (this one, and ConvNetwork in conv_network.py, which builds on it) offers:
        forward(X, dropout, rng) -> (Z, cache)     the scores, and what the backward pass needs
        backward(cache, dZ) -> (gradients, dZ1)    the gradients, in the order of parameters()
        parameters()                               [W1, b1, W2, b2, ...], which the optimizer updates
    and the evaluation methods below them, which only call forward.
    """

    def __init__(self, layer_sizes, seed=0, image_shape=None):
        """image_shape: (rows, columns) of the input images, for figures; by default square if it can be."""
        self.layer_sizes = [int(size) for size in layer_sizes]
        if len(self.layer_sizes) < 2 or min(self.layer_sizes) < 1:
            raise ValueError(f"layer sizes must be at least two positive numbers, got {layer_sizes}")
        side = math.isqrt(self.layer_sizes[0])
        default_shape = (side, side) if side * side == self.layer_sizes[0] else (1, self.layer_sizes[0])
        self.image_shape = tuple(int(length) for length in image_shape) if image_shape else default_shape
        if math.prod(self.image_shape) != self.layer_sizes[0]:
            raise ValueError(f"images of {self.image_shape} pixels do not fit an input layer of {self.layer_sizes[0]}")
        self.num_classes = self.layer_sizes[-1]
        self.seed = seed  # recorded with the model, so that figures can rebuild its starting weights
        rng = default_rng(seed)
        self.weights = [
            he_initialization(fan_in, fan_out, rng)
            for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])
        ]
        self.biases = [np.zeros(fan_out, dtype=np.float32) for fan_out in self.layer_sizes[1:]]

    def parameters(self):
        """All trainable arrays in a fixed order [W1, b1, W2, b2, ...]; the optimizer updates them in place."""
        return [array for W, b in zip(self.weights, self.biases) for array in (W, b)]

    def forward(self, X, dropout=0.0, rng=None):
        """The scores Z of the last layer, (B, 10), and a cache of what the backward pass needs.

        X: (B, 784) float32. The cache holds the input each layer saw, [X, H1, H2, ...], and the dropout
        masks applied to the hidden layers (none when dropout is 0).
        """
        layer_inputs, dropout_masks = [], []
        H = X  # (B, 784): the first layer's input
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            layer_inputs.append(H)
            Z = H @ W  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
            Z += b  # (B, n_out) + (n_out,): every row gets the bias ("+=" adds in place, without a copy)
            H = relu(Z)  # (B, n_out)
            if dropout > 0:
                mask = dropout_mask(H.shape, dropout, rng)  # (B, n_out) of 0 and 1 / (1 - dropout)
                H *= mask
                dropout_masks.append(mask)
        layer_inputs.append(H)
        Z = H @ self.weights[-1]  # (B, n_hidden) @ (n_hidden, 10) -> (B, 10): the scores
        Z += self.biases[-1]  # (B, 10) + (10,)
        return Z, {"layer_inputs": layer_inputs, "dropout_masks": dropout_masks}

    def backward(self, cache, dZ):
        """The gradients [dW1, db1, dW2, db2, ...] of the loss, given dZ = (P - Y) / B of the last layer.

        Walking from the last layer to the first, each layer turns the dZ of its output into dW and db, and
        hands dH = dZ @ W.T down to the layer below it, which lets it through its dropout mask and its ReLU
        (1 where the unit was active, else 0) to get its own dZ. The first layer's input X needs no gradient,
        so the walk ends there and also returns that layer's dZ: a network feeding this one (the convolution
        layers of conv_network.py) carries it on.
        """
        layer_inputs, dropout_masks = cache["layer_inputs"], cache["dropout_masks"]
        gradients = []
        for layer in range(len(self.weights) - 1, 0, -1):  # from the last layer down to the second
            H = layer_inputs[layer]  # (B, n_in): this layer's input, the activation of the layer below
            dW = H.T @ dZ  # (n_in, B) @ (B, n_out) -> (n_in, n_out)
            db = dZ.sum(axis=0)  # (B, n_out) -> (n_out,)
            gradients = [dW, db, *gradients]
            dH = dZ @ self.weights[layer].T  # (B, n_out) @ (n_out, n_in) -> (B, n_in)
            if dropout_masks:
                dH *= dropout_masks[layer - 1]  # dropped units passed nothing on, so they get no gradient
            dH *= H > 0  # the ReLU derivative: 1 where the unit was active (Z > 0, so H > 0), else 0
            dZ = dH  # (B, n_in): dZ = dH * (Z > 0), computed in place, without a copy
        X = layer_inputs[0]  # (B, 784)
        dW = X.T @ dZ  # (784, B) @ (B, n_out) -> (784, n_out)
        db = dZ.sum(axis=0)  # (n_out,)
        return [dW, db, *gradients], dZ

    def log_probabilities(self, X, chunk_size=2000):
        """log P, (N, 10), computed a chunk of images at a time to bound memory."""
        chunks = [
            log_softmax(self.forward(X[start : start + chunk_size])[0])  # (chunk, 10)
            for start in range(0, len(X), chunk_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def predict_probabilities(self, X):
        """The probabilities P, (N, 10): row i says how likely image i is each digit."""
        return np.exp(self.log_probabilities(X))

    def predict(self, X):
        """The most probable digit of every image, (N,)."""
        return self.log_probabilities(X).argmax(axis=1)

    def evaluate(self, X, y):
        """Mean cross-entropy loss and accuracy (fraction correct) on a whole data set."""
        log_P = self.log_probabilities(X)  # (N, 10)
        loss = float(-log_P[np.arange(len(y)), y].mean())
        accuracy = float(np.mean(log_P.argmax(axis=1) == y))
        return loss, accuracy
