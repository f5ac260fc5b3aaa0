"""Train the from-scratch network on MNIST, measure it on the test set, save it, and draw the figures.

    python train.py                          # the recipe below: about 22 seconds on 2 cores
    python train.py --epochs 5 --hidden-size 64 --no-show
    python train.py --preset best            # a named recipe from PRESETS, below the constants

The story: load the data -> build the network -> every epoch, shuffle (and distort) the training images
and take one gradient step per mini-batch -> check progress on the validation images -> at the end,
measure the test accuracy once, save the weights and draw the figures.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import data_loader
import visualize
from augment import AUGMENTATIONS, augment_images
from conv_network import ConvNetwork
from network import Network
from optimizers import OPTIMIZERS, make_optimizer
from schedules import SCHEDULES, learning_rate_at

# -----------------------------------------------------------------------------------------------------
# Hyperparameters. Change them here, or for one run on the command line: python train.py --epochs 5
model = "mlp"  # mlp: fully connected layers only; cnn: convolution layers first (conv_network.py)
hidden_sizes = [512]  # units in each hidden layer: [512] is one hidden layer, [800, 800] two
conv_channels = [32, 64]  # for the cnn: filters in each convolution layer
learning_rate = 0.1  # step size of gradient descent at its peak
optimizer = "momentum"  # the update rule: sgd, momentum, nesterov, rmsprop or adam
momentum = 0.9  # for momentum and nesterov: share of the previous step carried into the next one
batch_size = 128  # images per gradient step
epochs = 20  # passes over the training images
schedule = "cosine"  # how the learning rate changes during training: constant, step or cosine
warmup_epochs = 0.0  # epochs over which the learning rate first ramps up from 0
clip_norm = 0.0  # largest allowed global norm of the gradients; 0 disables clipping
l2 = 0.0  # weight decay: penalty on the squared weights, pulling them towards 0
dropout = 0.0  # probability of switching off each hidden unit during a training step
augment = "affine"  # fresh variations of the training images every epoch: none, shift, affine or elastic
max_shift = 1  # largest random shift, in pixels, for shift and affine
keep_best = False  # keep the weights of the epoch with the best validation accuracy, not the last
seed = 0  # random seed: the same seed gives bit-identical weights
# Data and outputs
data_dir = "data"  # folder with the four MNIST files; any data set in the same IDX format works
validation_size = 10000  # training images held out (the last ones) to watch progress; 0 trains on all
weights = "model_weights.npz"  # where to save the trained model
results_dir = "results"  # where to save the figures
mistakes_only = False  # the prediction grid shows only misclassified test images

# Named recipes, selected with --preset NAME. Each lists only what differs from the constants above;
# flags given on the command line still override them. The recipes were chosen by validation accuracy;
# "best" then trains on all 60,000 images. Their measured results are in the README ("Improvements").
PRESETS = {
    "best-no-aug": {  # one hidden layer, no augmentation
        "hidden_sizes": [2048], "dropout": 0.5, "epochs": 60, "augment": "none",
    },
    "best": {  # one hidden layer, elastic distortions
        "hidden_sizes": [1024], "epochs": 150, "augment": "elastic", "validation_size": 0,
    },
    "cnn": {  # the convolutional network of conv_network.py
        "model": "cnn", "conv_channels": [32, 64], "hidden_sizes": [256], "epochs": 30, "learning_rate": 0.05,
        "dropout": 0.5, "augment": "affine",
    },
}  # fmt: skip
# -----------------------------------------------------------------------------------------------------


class TrainingDivergedError(Exception):
    """The loss blew up or the network stopped learning; the message says what to change."""


def comma_separated(kind):
    """An argparse type for lists like '800,800' -> [800, 800] (kind int) or '0.1,0.3' (kind float)."""

    def parse(text):
        return [kind(part) for part in text.split(",")]

    parse.__name__ = f"comma-separated {kind.__name__}"  # how argparse names it in error messages
    return parse


def parse_arguments(argv=None):
    """The constants above, each overridable by a command-line flag of the same name, or by a preset."""
    parser = argparse.ArgumentParser(
        description="Train a from-scratch NumPy network on MNIST.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add, integers = parser.add_argument, comma_separated(int)
    add("--preset", choices=sorted(PRESETS), help="a named recipe from PRESETS in train.py")
    add("--model", choices=["mlp", "cnn"], default=model, help="fully connected or convolutional")
    add("--hidden-sizes", "--hidden-size", type=integers, default=hidden_sizes, help="units per hidden layer")
    add("--conv-channels", type=integers, default=conv_channels, help="filters per convolution layer (cnn)")
    add("--learning-rate", type=float, default=learning_rate, help="step size of gradient descent at its peak")
    add("--optimizer", choices=OPTIMIZERS, default=optimizer, help="the update rule")
    add("--momentum", type=float, default=momentum, help="share of the previous step carried on")
    add("--batch-size", type=int, default=batch_size, help="images per gradient step")
    add("--epochs", type=int, default=epochs, help="passes over the training images")
    add("--schedule", choices=SCHEDULES, default=schedule, help="learning rate over time")
    add("--warmup-epochs", type=float, default=warmup_epochs, help="epochs of linear learning-rate warm-up")
    add("--clip-norm", type=float, default=clip_norm, help="largest global gradient norm; 0 disables clipping")
    add("--l2", type=float, default=l2, help="weight decay: penalty on the squared weights")
    add("--dropout", type=float, default=dropout, help="probability of switching off a hidden unit")
    add("--augment", choices=AUGMENTATIONS, default=augment, help="variations of the training images")
    add("--max-shift", type=int, default=max_shift, help="largest random shift in pixels")
    add("--keep-best", action=argparse.BooleanOptionalAction, default=keep_best, help="keep the best epoch")
    add("--seed", type=int, default=seed, help="random seed")
    add("--data-dir", default=data_dir, help="folder with the MNIST files")
    add("--validation-size", type=int, default=validation_size, help="training images held out; 0 trains on all")
    add("--weights", default=weights, help="where to save the trained model (.npz)")
    add("--results-dir", default=results_dir, help="where to save the figures")
    add("--mistakes-only", action="store_true", default=mistakes_only, help="grid of misclassified images only")
    add("--no-show", action="store_true", help="save the figures but open no window")
    preset = parser.parse_known_args(argv)[0].preset  # a first look, only to find the preset
    if preset:
        parser.set_defaults(**PRESETS[preset])  # the preset replaces the defaults; explicit flags still win
    args = parser.parse_args(argv)
    problem = find_invalid_argument(args)
    if problem:
        parser.error(problem)
    return args


def find_invalid_argument(args):
    """A message naming the first option with an impossible value, or None when all are fine."""
    numbers = (args.learning_rate, args.momentum, args.clip_norm, args.warmup_epochs, args.l2, args.dropout)
    checks = [
        (all(map(math.isfinite, numbers)), "--learning-rate, --momentum, --clip-norm, --warmup-epochs, --l2 "
         "and --dropout must be finite numbers"),
        (min(args.hidden_sizes) >= 1, "--hidden-sizes (--hidden-size) must all be at least 1"),
        (min(args.conv_channels) >= 1, "--conv-channels must all be at least 1"),
        (args.learning_rate > 0, "--learning-rate must be greater than 0"),
        (0 <= args.momentum < 1, "--momentum must be at least 0 and less than 1"),
        (args.batch_size >= 1, "--batch-size must be at least 1"),
        (args.epochs >= 1, "--epochs must be at least 1"),
        (args.warmup_epochs >= 0, "--warmup-epochs must not be negative"),
        (args.clip_norm >= 0, "--clip-norm must not be negative (0 disables clipping)"),
        (args.l2 >= 0, "--l2 must not be negative"),
        (0 <= args.dropout < 1, "--dropout must be at least 0 and less than 1"),
        (args.max_shift >= 0, "--max-shift must not be negative"),
        (args.validation_size >= 0, "--validation-size must not be negative"),
        (args.validation_size > 0 or not args.keep_best, "--keep-best needs a validation set (--validation-size > 0)"),
        (Path(args.weights).parent.is_dir(), f"--weights: the folder of '{args.weights}' does not exist"),
        (not Path(args.weights).is_dir(), f"--weights: '{args.weights}' is a folder; give a file name"),
        (not Path(args.results_dir).is_file(), f"--results-dir: '{args.results_dir}' is a file, not a folder"),
    ]  # fmt: skip
    return next((message for ok, message in checks if not ok), None)


def train(network, optimizer, train_images, train_labels, val_images, val_labels, args, log=print):
    """Mini-batch gradient descent for args.epochs epochs, checking on the validation set after each.

    Returns (history, interrupted): one record per finished epoch, and whether Ctrl-C stopped training.
    With args.keep_best, the network ends with the weights of its best epoch on the validation set.
    Raises TrainingDivergedError when the loss becomes NaN or inf or the network stops learning.
    """
    rng = np.random.default_rng(args.seed)  # for shuffling, augmentation and dropout
    history, best = [], None
    interrupted = False
    try:
        for epoch in range(1, args.epochs + 1):
            started = time.perf_counter()
            record = train_one_epoch(network, optimizer, train_images, train_labels, epoch, args, rng)
            record["seconds"] = time.perf_counter() - started
            record["val_loss"], record["val_accuracy"] = (
                network.evaluate(val_images, val_labels) if len(val_images) else (None, None)
            )
            history.append(record)
            log(format_epoch(record, args.epochs))
            check_still_learning(record, network.num_classes, args)
            if args.keep_best and (best is None or record["val_accuracy"] > best["val_accuracy"]):
                best = {**record, "parameters": [parameter.copy() for parameter in network.parameters()]}
    except KeyboardInterrupt:
        log(
            f"Training interrupted (Ctrl-C) after {len(history)} complete epoch(s): "
            "evaluating and saving the model trained so far."
        )
        interrupted = True
    if best is not None:
        for parameter, saved in zip(network.parameters(), best["parameters"]):
            parameter[...] = saved
        log(f"Keeping the weights of epoch {best['epoch']}, the best on the validation set "
            f"({100 * best['val_accuracy']:.2f}%)")  # fmt: skip
    return history, interrupted


def train_one_epoch(network, optimizer, images, labels, epoch, args, rng):
    """Shuffle the training images, then take one gradient step per mini-batch.

    Returns the epoch's record: mean loss and accuracy over its mini-batches, and the last learning rate.
    """
    steps_per_epoch = math.ceil(len(images) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    step = (epoch - 1) * steps_per_epoch  # steps taken before this epoch
    order = rng.permutation(len(images))  # a new random order every epoch
    loss_sum, correct = 0.0, 0
    for start in range(0, len(images), args.batch_size):
        batch = order[start : start + args.batch_size]
        batch_images = augment_images(images[batch], args.augment, rng, args.max_shift, network.image_shape)
        rate = learning_rate_at(
            step, total_steps, args.learning_rate, args.schedule, args.warmup_epochs * steps_per_epoch
        )
        loss, batch_correct = network.train_step(
            batch_images, labels[batch], optimizer, rate, args.clip_norm, args.l2, args.dropout, rng
        )
        if not math.isfinite(loss):
            raise TrainingDivergedError(divergence_advice(f"the loss became {loss} in epoch {epoch}", args))
        loss_sum += loss * len(batch)
        correct += batch_correct
        step += 1
    return {
        "epoch": epoch,
        "train_loss": loss_sum / len(images),
        "train_accuracy": correct / len(images),
        "learning_rate": rate,
    }


def format_epoch(record, total_epochs):
    """One line per epoch; it starts with 'epoch' and ends with the epoch's training time."""
    validation = "-" if record["val_accuracy"] is None else f"{100 * record['val_accuracy']:.2f}%"
    return (
        f"epoch {record['epoch']:>{len(str(total_epochs))}}/{total_epochs}"
        f"  loss {record['train_loss']:.4f}"
        f"  train {100 * record['train_accuracy']:.2f}%"
        f"  val {validation}"
        f"  lr {record['learning_rate']:.4f}"
        f"  {record['seconds']:.2f}s"
    )


def check_still_learning(record, num_classes, args):
    """Stop when training has clearly failed, as it does when the learning rate is far too high.

    Then the weights either explode (the loss grows far beyond the ln(10) = 2.3 of a network that
    guesses uniformly) or every ReLU unit dies (outputs 0 for all inputs, so no gradient reaches the
    first layer) and the accuracy drops to chance, 10%.
    """
    if record["train_loss"] > 10 * math.log(num_classes):
        raise TrainingDivergedError(divergence_advice(f"the loss exploded to {record['train_loss']:.3g}", args))
    if record["train_accuracy"] < 1.5 / num_classes:
        raise TrainingDivergedError(
            divergence_advice(
                f"the training accuracy fell to {100 * record['train_accuracy']:.1f}%, no better than guessing "
                "(the ReLU units have probably died)",
                args,
            )
        )


def divergence_advice(what_happened, args):
    return (
        f"training diverged: {what_happened}. The learning rate {args.learning_rate:g} is probably too high: "
        f"try --learning-rate {args.learning_rate / 10:g}, or limit each step with --clip-norm 5. "
        f"'{args.weights}' was not changed."
    )


def build_model(args, image_shape):
    """The network and optimizer args describe: images -> (convolutions ->) hidden layers -> 10 classes.

    Raises ValueError when the convolutions do not fit the images.
    """
    if args.model == "cnn":
        network = ConvNetwork(args.conv_channels, args.hidden_sizes, seed=args.seed, image_shape=image_shape)
    else:
        layer_sizes = [math.prod(image_shape), *args.hidden_sizes, data_loader.NUM_CLASSES]
        network = Network(layer_sizes, seed=args.seed, image_shape=image_shape)
    return network, make_optimizer(args.optimizer, args.momentum)


def describe(network):
    """'784-512-10', or for a cnn '28x28 -> conv 32, 64 -> 1024-256-10' (the dense part's input size included)."""
    if isinstance(network, ConvNetwork):
        height, width = network.image_shape
        return (f"{height}x{width} -> conv {', '.join(map(str, network.conv_channels))} -> "
                f"{'-'.join(map(str, network.dense.layer_sizes))}")  # fmt: skip
    return "-".join(map(str, network.layer_sizes))


def main(argv=None):
    args = parse_arguments(argv)
    try:
        train_images, train_labels, val_images, val_labels = data_loader.load_training_data(
            args.data_dir, args.validation_size
        )
        test_images, test_labels = data_loader.load_test_data(args.data_dir)
        image_shape = data_loader.read_image_shape(args.data_dir)
    except data_loader.DataError as error:
        sys.exit(f"error: {error}")
    try:
        network, optimizer = build_model(args, image_shape)
    except ValueError as error:
        sys.exit(f"error: --conv-channels: {error}; use fewer convolution layers")
    validating = f"validating on {len(val_images):,}" if len(val_images) else "no validation set"
    print(
        f"Training a {describe(network)} network on {len(train_images):,} images "
        f"({validating}) for {args.epochs} epochs" + (f", preset '{args.preset}'" if args.preset else "")
    )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingDivergedError
        try:
            history, interrupted = train(network, optimizer, train_images, train_labels, val_images, val_labels, args)
        except TrainingDivergedError as error:
            sys.exit(f"error: {error}")

    probabilities = network.predict_probabilities(test_images)  # (N, 10): the one look at the test set
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    try:
        network.save(args.weights)
    except OSError as error:
        sys.exit(f"error: could not save the trained model to '{args.weights}' ({error}); nothing was changed")
    print(f"Saved weights: {args.weights}" + (" (of the interrupted run)" if interrupted else ""))

    results = Path(args.results_dir)
    visualize.evaluation_figures(network, test_images, test_labels, probabilities, results, args.mistakes_only)
    if history:
        visualize.plot_training_curves(history, results / "training_curves.png")
    if args.augment != "none":
        visualize.plot_augmented_samples(train_images[:4], [args.augment], results / "augmented_samples.png",
                                         max_shift=args.max_shift, image_shape=network.image_shape)  # fmt: skip
    visualize.show_or_close(not args.no_show)


if __name__ == "__main__":
    main()
