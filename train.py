"""Train the from-scratch network on MNIST, measure it on the test set, save it, and draw the figures.

    python train.py                          # the recipe below
    python train.py --epochs 5 --hidden-size 64 --no-show
    python train.py --preset best            # a named recipe from PRESETS, below the constants (minutes)

The story, top to bottom: the hyperparameters -> load the data -> build the network -> every epoch, shuffle
(and distort) the training images and take one gradient step per mini-batch (`train_step`: the whole
algorithm on one screen) -> check progress on the validation images -> at the end, measure the test accuracy
once, save the weights and draw the figures. What is not the lesson (turning the constants into checked
flags, advice when training fails, the progress line, keeping files safe) is in the folder support/.
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import math
import sys
import time
from pathlib import Path

import numpy as np

import data_loader
import visualize
from augment import augment_images
from conv_network import ConvNetwork
from network import Network, softmax_cross_entropy
from optimizers import clip_by_global_norm, learning_rate_at, make_optimizer
from support import command_line, diagnosis, files
from support.model_files import ModelFileError, save_model
from support.progress import Progress, clipping_summary, describe, format_epoch, plural
from support.rules import TRAIN_RULES

# -----------------------------------------------------------------------------------------------------
# Hyperparameters. Change them here, or for one run on the command line: python train.py --epochs 5
model = "mlp"  # mlp: fully connected layers only; cnn: convolution layers first (conv_network.py)
hidden_sizes = [512]  # units in each hidden layer: 512 is one hidden layer, 800,800 two
conv_channels = [32, 64]  # for the cnn: filters in each convolution layer
activation = "relu"  # what each hidden unit does with its sum: relu, tanh or sigmoid
init = "he"  # the random starting weights: he (made for relu), xavier (for tanh and sigmoid) or small (0.01)
learning_rate = 0.1  # step size of gradient descent at its peak
optimizer = "momentum"  # the update rule: sgd, momentum, nesterov, rmsprop or adam
momentum = 0.9  # for momentum and nesterov: share of the previous step carried into the next one
batch_size = 128  # images per gradient step
epochs = 20  # passes over the training images
schedule = "cosine"  # how the learning rate changes during training: constant, step or cosine
warmup_epochs = 0.0  # epochs over which the learning rate first ramps up from 0
clip_norm = 5.0  # largest allowed global norm of the gradients (a freak mini-batch's); 0 disables clipping
l2 = 0.0  # weight decay: penalty on the squared weights, pulling them towards 0
dropout = 0.0  # probability of switching off each hidden unit during a training step
augment = "affine"  # fresh variations of the training images every epoch: none, shift, affine or elastic
max_shift = 1  # largest random shift, in pixels, for shift and affine
keep_best = False  # keep the weights of the epoch with the best validation accuracy, not the last
seed = 0  # random seed: the same seed gives bit-identical weights
data_dir = "data"  # folder with the four MNIST files; any data set in the same IDX format works
validation_size = 10000  # training images held out (the last ones) to watch progress; 0 trains on all
weights = "model_weights.npz"  # where to save the trained model
results_dir = "results"  # where to save the figures
mistakes_only = False  # the prediction grid shows only misclassified test images
# -----------------------------------------------------------------------------------------------------
# Each line above is also a flag (--learning-rate for learning_rate), checked against its rule in
# support/rules.py; parse_arguments() returns the values of a run as args: args.learning_rate, ...

# Named recipes, selected with --preset NAME. Each lists only what differs from the constants above;
# flags given on the command line still override them. The recipes were chosen by validation accuracy;
# "best" and "cnn" then train on all 60,000 images. Their measured results: docs/results.md.
PRESETS = {
    "best-no-aug": {"hidden_sizes": [2048], "dropout": 0.5, "epochs": 60, "augment": "none"},  # one hidden layer
    "best": {"hidden_sizes": [1024], "epochs": 150, "augment": "elastic", "validation_size": 0},  # one hidden layer
    "cnn": {"model": "cnn", "conv_channels": [32, 64], "hidden_sizes": [256], "epochs": 20, "learning_rate": 0.1,
            "dropout": 0.5, "l2": 0.0005, "augment": "affine", "validation_size": 0},  # conv_network.py
}  # fmt: skip


# ----- the training: one step, one epoch, all epochs -------------------------------------------------


def train_step(network, optimizer, X, y, learning_rate, args, rng):
    """One step of mini-batch gradient descent: the whole algorithm, in the order of the README's table.

    X: (B, 784) images, y: (B,) labels. Returns the batch's loss, how many of its images the network got
    right (before the update), and the length of the gradient before clipping.
    """
    Z, cache = network.forward(X, args.dropout, rng)  # forward pass: the scores, (B, 10)
    loss, dZ = softmax_cross_entropy(Z, y)  # the loss L, and its gradient dZ = (P - Y) / B
    gradients, _ = network.backward(cache, dZ)  # backward pass: [dW1, db1, dW2, db2, ...]
    parameters = network.parameters()  # [W1, b1, W2, b2, ...]
    if args.l2 > 0:  # weight decay: a penalty (l2 / 2) * sum(W ** 2) on the loss adds l2 * W to dW
        for W, dW in zip(parameters[0::2], gradients[0::2]):  # every W: the even places of [W1, b1, W2, b2, ...]
            dW += np.float32(args.l2) * W
    norm = clip_by_global_norm(gradients, args.clip_norm)  # a step too long is shortened, its direction kept
    optimizer.step(parameters, gradients, learning_rate)  # W <- W - learning_rate * dW, with momentum
    return loss, int(np.count_nonzero(Z.argmax(axis=1) == y)), norm


def train_one_epoch(network, optimizer, images, labels, epoch, args, rng, progress):
    """Shuffle the training images, then take one gradient step per mini-batch. Returns the epoch's record: the
    loss and the gradient's length of every step, their mean loss and accuracy, the last learning rate and how
    many steps clipping shortened. Raises DivergedError when the loss or the weights become NaN or inf."""
    steps = math.ceil(len(images) / args.batch_size)
    order = rng.permutation(len(images))  # a new random order every epoch
    record = {"epoch": epoch, "steps": steps, "step_losses": [], "step_norms": [], "clipped": 0}
    loss_sum, correct = 0.0, 0
    for step in range(steps):
        batch = order[step * args.batch_size : (step + 1) * args.batch_size]
        X = augment_images(images[batch], args.augment, rng, args.max_shift, network.image_shape)  # (B, 784)
        rate = learning_rate_at((epoch - 1) * steps + step, args.epochs * steps, args.learning_rate, args.schedule,
                                args.warmup_epochs * steps)  # fmt: skip
        loss, batch_correct, norm = train_step(network, optimizer, X, labels[batch], rate, args, rng)
        if not math.isfinite(loss):
            raise diagnosis.DivergedError(diagnosis.divergence_advice(f"the loss became {loss} in epoch {epoch}", args))
        loss_sum, correct = loss_sum + loss * len(batch), correct + batch_correct
        record["step_losses"].append(loss)
        record["step_norms"].append(norm)
        record["clipped"] += 0 < args.clip_norm < norm
        progress.update(epoch, args.epochs, step + 1, steps)
    if not all(np.isfinite(parameter).all() for parameter in network.parameters()):  # the last step blew up
        raise diagnosis.DivergedError(
            diagnosis.divergence_advice(f"the weights became NaN or inf in epoch {epoch}", args)
        )
    return {**record, "train_loss": loss_sum / len(images), "train_accuracy": correct / len(images),
            "learning_rate": rate}  # fmt: skip


def train(network, optimizer, train_images, train_labels, val_images, val_labels, args, log=print, progress=None):
    """Mini-batch gradient descent for args.epochs epochs, checking on the validation set after each.

    Returns (history, interruption): one record per finished epoch, and the KeyboardInterrupt (Ctrl-C, or
    SIGTERM) that stopped training early, or None. With args.keep_best, the network ends with the weights of its
    best epoch on the validation set. Raises TrainingFailedError when the loss blows up or the network does
    not learn (support/diagnosis.py says why).
    """
    rng = np.random.default_rng(args.seed)  # for shuffling, augmentation and dropout
    progress = progress or Progress(stream=None)
    history, best, interruption = [], None, None
    try:
        for epoch in range(1, args.epochs + 1):
            started = time.perf_counter()
            record = train_one_epoch(network, optimizer, train_images, train_labels, epoch, args, rng, progress)
            record["seconds"] = time.perf_counter() - started
            record["val_loss"], record["val_accuracy"] = (
                network.evaluate(val_images, val_labels) if len(val_images) else (None, None)
            )
            history.append(record)
            progress.clear()
            log(format_epoch(record, args.epochs))
            diagnosis.check_still_learning(history, network.num_classes, len(train_images), args)
            if args.keep_best and (best is None or record["val_accuracy"] > best["val_accuracy"]):
                best = {**record, "parameters": [parameter.copy() for parameter in network.parameters()]}
    except KeyboardInterrupt as stop:  # keep what the finished epochs learned
        progress.clear()
        log(f"Training interrupted ({support.startup.name_of(stop)}) after {plural(len(history), 'complete epoch')}.")
        interruption = stop
    if best is not None:
        for parameter, saved in zip(network.parameters(), best["parameters"]):
            parameter[...] = saved
        log(f"Keeping the weights of epoch {best['epoch']}, the best on the validation set "
            f"({100 * best['val_accuracy']:.2f}%)")  # fmt: skip
    return history, interruption


# ----- putting it together -----------------------------------------------------------------------------


def parse_arguments(argv=None):
    """The constants above as args, each replaced by a preset's value or a flag, checked (support/command_line.py)."""
    return command_line.parse_train_arguments(argv, __file__, globals(), PRESETS)


def default_settings(**changes):
    """The constants at the top of this file as args, as a run without flags gets them, with `changes` made."""
    return command_line.default_settings(__file__, globals(), TRAIN_RULES, **changes)


def load_data(args):
    """(training, validation and test images and labels), and the shape of the images, (rows, columns)."""
    train_images, train_labels, val_images, val_labels = data_loader.load_training_data(
        args.data_dir, args.validation_size
    )
    image_shape = data_loader.read_image_shape(args.data_dir)
    test_images, test_labels = data_loader.load_test_data(args.data_dir, image_shape)  # refuses another size
    return (train_images, train_labels, val_images, val_labels, test_images, test_labels), image_shape


def build_model(args, image_shape):
    """The network and the optimizer that args describe: images -> (convolutions ->) hidden layers -> 10 digits."""
    common = {"seed": args.seed, "image_shape": image_shape, "activation": args.activation, "init": args.init}
    if args.model == "cnn":
        network = ConvNetwork(args.conv_channels, args.hidden_sizes, **common)
    else:
        network = Network([math.prod(image_shape), *args.hidden_sizes, 10], **common)
    return network, make_optimizer(args.optimizer, args.momentum)


def main(argv=None):
    run(parse_arguments(argv))


def run(args):
    """The story of the module docstring, step by step."""
    try:
        data, image_shape = load_data(args)
        command_line.check_model(args, image_shape)  # refuses a network too large, or that does not fit the images
    except (data_loader.DataError, command_line.SettingError) as error:
        sys.exit(f"error: {error}")
    network, optimizer = build_model(args, image_shape)
    train_images, train_labels, val_images, val_labels, test_images, test_labels = data
    validating = f"validating on {len(val_images):,}" if len(val_images) else "no validation set"
    print(
        f"Training a {describe(network)} network on {len(train_images):,} images "
        f"({validating}) for {plural(args.epochs, 'epoch')}" + (f", preset '{args.preset}'" if args.preset else "")
    )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingFailedError
        try:
            history, interruption = train(network, optimizer, train_images, train_labels, val_images, val_labels,
                                          args, progress=Progress())  # fmt: skip
        except diagnosis.TrainingFailedError as error:
            sys.exit(f"error: {error}")
    if not history:
        print(f"No epoch finished, so there is nothing to save. '{args.weights}' was not changed.", file=sys.stderr)
        raise interruption  # ends the program as Ctrl-C does (support/startup.py)
    for line in clipping_summary(history, args.clip_norm):  # what gradient clipping did, if anything
        print(line)

    probabilities = network.predict_probabilities(test_images)  # (N, 10): the one look at the test set
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    path = files.interrupted_path(args.weights) if interruption else args.weights  # never over a finished model
    try:
        save_model(network, path, history, settings=command_line.settings_record(args))
    except (ModelFileError, OSError) as error:
        sys.exit(f"error: could not save the trained model to '{path}' ({getattr(error, 'strerror', None) or error})")
    print(f"Saved weights: {path}" + (f" (of the interrupted run; '{args.weights}' was not changed)" if interruption
                                      else ""))  # fmt: skip
    visualize.report_dead_units(
        network, *((val_images, "validation") if len(val_images) else (train_images, "training"))
    )
    if interruption:
        raise interruption  # ends the program as Ctrl-C does; python visualize.py draws the figures of the file
    draw_figures(network, data, probabilities, history, args)


def draw_figures(network, data, probabilities, history, args):
    """The evaluation figures, the training curves and the augmented samples, saved in args.results_dir."""
    train_images, test_images, test_labels = data[0], data[4], data[5]
    results = Path(args.results_dir)
    try:
        visualize.evaluation_figures(network, test_images, test_labels, probabilities, results, args.mistakes_only)
        visualize.plot_training_curves(history, results / "training_curves.png", args.augment != "none")
        if args.augment != "none":
            visualize.plot_augmented_samples(train_images[:4], [args.augment], results / "augmented_samples.png",
                                             max_shift=args.max_shift, image_shape=network.image_shape)  # fmt: skip
    except OSError as error:
        sys.exit(f"error: could not save the figures in '{results}' ({error.strerror or error}); the model is saved")
    visualize.show_or_close(not args.no_show, results / "training_curves.png")


if __name__ == "__main__":
    support.startup.run(main)
