"""Check the hand-written backward pass against the definition of a derivative.

    python gradient_check.py          # every kind of network of the project, in a few seconds

Backpropagation computes the gradient of the loss for every weight at once, in one pass backwards through the
network. The definition of a derivative gives each one again, slowly and independently: nudge a single weight
up by a tiny epsilon, then down, and see how much the loss changes,

    dL/dw  ~  (L(w + epsilon) - L(w - epsilon)) / (2 epsilon)        ("centred finite differences")

The loss here is written out again from the network's forward pass, so nothing of the backward pass is
reused. If the two ways agree to many digits, the backward pass is right. Everything runs in float64, where
rounding is about a billion times finer than in the float32 of training, so that the differences measure the
math, not the rounding. The program prints one line per parameter and exits with status 1 when any of them
disagrees; the tests (tests/test_gradient_check.py) run it after breaking the backward pass on purpose.
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import argparse
import sys
from types import SimpleNamespace

import numpy as np

import train
from conv_network import ConvNetwork
from network import Network

EPSILON = 1e-5  # the nudge: small enough for the straight-line approximation, large enough for float64
TOLERANCE = 1e-4  # a larger relative error means a bug: correct code measures 1e-7 or less here


def numerical_gradient(loss_of, array, epsilon=EPSILON):
    """Central differences: dL/da ~ (L(a + e) - L(a - e)) / 2e, one entry of `array` at a time.

    loss_of() computes the loss from the current values of the model's arrays; `array` is one of them, changed
    in place entry by entry and put back as it was.
    """
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + epsilon
        loss_plus = loss_of()
        array[index] = original - epsilon
        loss_minus = loss_of()
        array[index] = original
        gradient[index] = (loss_plus - loss_minus) / (2 * epsilon)
    return gradient


def objective(model, images, labels, l2, dropout):
    """The loss a training step minimises, written out here from the forward pass alone: the cross-entropy of the
    softmax, plus (l2 / 2) * the sum of the squared weights. A fresh generator with the same seed gives every
    evaluation the same dropout masks."""
    scores, _ = model.forward(images, dropout, np.random.default_rng(2))
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    cross_entropy = -log_probabilities[np.arange(len(labels)), labels].mean()
    return cross_entropy + 0.5 * l2 * sum((weight**2).sum() for weight in model.parameters()[0::2])


class RecordingOptimizer:
    """Stands in for an optimizer: keeps the gradients a training step hands it, and changes nothing."""

    def step(self, parameters, gradients, learning_rate):
        self.gradients = [gradient.copy() for gradient in gradients]


def backpropagated(model, images, labels, l2=0.0, dropout=0.0):
    """The gradients that train.train_step computes for one mini-batch, in the order of model.parameters()."""
    optimizer = RecordingOptimizer()
    settings = SimpleNamespace(l2=l2, dropout=dropout, clip_norm=0.0)
    train.train_step(model, optimizer, images, labels, 0.1, settings, np.random.default_rng(2))
    return optimizer.gradients


def relative_error(backprop, numerical):
    """The largest relative difference between two gradients of one parameter, entry by entry.

    Each entry's difference is divided by the larger of the two values, but by no less than a hundredth of the
    largest entry: the rounding in tiny entries would otherwise look like large relative errors.
    """
    scale = np.maximum(np.maximum(np.abs(backprop), np.abs(numerical)), 1e-2 * np.abs(numerical).max() + 1e-12)
    return float((np.abs(backprop - numerical) / scale).max())


def check(model, images, labels, l2=0.0, dropout=0.0):
    """[(name, shape, largest relative error)] for every parameter of `model` (W1, b1, ..., conv W1, ...)."""
    analytic = backpropagated(model, images, labels, l2, dropout)
    results = []
    for name, parameter, gradient in zip(parameter_names(model), model.parameters(), analytic):
        numerical = numerical_gradient(lambda: objective(model, images, labels, l2, dropout), parameter)
        results.append((name, parameter.shape, relative_error(gradient, numerical)))
    return results


def parameter_names(model):
    """W1, b1, W2, b2, ... of the fully connected layers, after conv W1, conv b1, ... of a ConvNetwork's filters."""
    filters = [
        f"conv {kind}{layer}" for layer in range(1, len(getattr(model, "conv_weights", [])) + 1) for kind in "Wb"
    ]
    dense = [f"{kind}{layer}" for layer in range(1, len(model.weights) + 1) for kind in "Wb"]
    return filters + dense


def in_float64(model):
    """The same model computing in float64: every parameter array replaced by a float64 copy, the biases random
    (not 0, so that the bias gradients are tested where they matter)."""
    rng = np.random.default_rng(1)
    for arrays in (model.weights, model.biases, getattr(model, "conv_weights", []), getattr(model, "conv_biases", [])):
        for index, array in enumerate(arrays):
            arrays[index] = array.astype(np.float64) + (rng.normal(0, 0.1, array.shape) if array.ndim == 1 else 0)
    return model


def networks_to_check():
    """(description, model, images, labels, l2, dropout) for every kind of network the project trains."""
    rng = np.random.default_rng(0)
    images, labels = rng.random((5, 36)), np.array([3, 1, 4, 1, 5])  # five 6x6 images: small, so it is quick
    cases = [
        ("one hidden layer, relu, he: the default network, smaller", Network([36, 8, 10], seed=0), 0.0, 0.0),
        ("two hidden layers, dropout 0.5 and weight decay 0.01", Network([36, 8, 6, 10], seed=1), 0.01, 0.5),
    ]
    for activation in ("tanh", "sigmoid"):
        network = Network([36, 8, 6, 10], seed=2, activation=activation, init="xavier")
        cases.append((f"two hidden layers of {activation} units, xavier", network, 0.0, 0.0))
    cases = [(text, in_float64(model), images, labels, l2, dropout) for text, model, l2, dropout in cases]
    # The convolutional network's three 14x14 images reach every branch of its backward pass. A blank image has
    # the same patch everywhere, so all four values of every pooling block tie (the block's gradient must go to
    # one of them); the second is blank in its top-left corner, the third random. With the biases of in_float64,
    # some pooled values are below 0 (relu passes no gradient there), and dropout drops some active hidden units.
    # Those ties stay ties whatever weight the check nudges (their patches are the same); every other value is at
    # least 100 epsilons from a kink of relu or of the pooling, where finite differences would be wrong (of the
    # seeds tried, 32 keeps them farthest). tests/test_conv_network.py counts all of this.
    cnn_rng = np.random.default_rng(32)
    corner = cnn_rng.random((14, 14))
    corner[:8, :10] = 0
    cnn_images = np.stack([np.zeros(14 * 14), corner.ravel(), cnn_rng.random(14 * 14)])
    cnn = in_float64(ConvNetwork(conv_channels=(2, 3), hidden_sizes=(5,), kernel_size=3, seed=3, image_shape=(14, 14)))
    description = "convolutional: two convolutions and pooling with ties, then 5 units, dropout 0.5"
    return cases + [(description, cnn, cnn_images, labels[:3], 0.0, 0.5)]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check every backward pass against finite differences.")
    parser.parse_args(argv)
    print(f"Backpropagation against centred finite differences (epsilon {EPSILON:g}), in float64.")
    print(f"Each line: a parameter, its shape, and the largest relative error of its gradient (above {TOLERANCE:g}: "
          "a bug).")  # fmt: skip
    failures, largest, count = [], 0.0, 0
    for description, model, images, labels, l2, dropout in networks_to_check():
        print(f"\n{description} ({'-'.join(map(str, model.layer_sizes))}, {len(images)} images):")
        for name, shape, error in check(model, images, labels, l2, dropout):
            print(f"  {name:<8} {str(shape):<10} {error:9.1e}" + ("   <-- WRONG" if error > TOLERANCE else ""))
            if error > TOLERANCE:
                failures.append(f"{name} of '{description}'")
            largest, count = max(largest, error), count + 1
    if failures:
        print(f"\nFAILED: {len(failures)} of {count} gradients disagree with finite differences: "
              f"{', '.join(failures)}. The backward pass computes them wrongly.")  # fmt: skip
        sys.exit(1)
    print(f"\nAll {count} gradients agree with finite differences: the largest relative error is {largest:.1e}.")


if __name__ == "__main__":
    support.startup.run(main)
