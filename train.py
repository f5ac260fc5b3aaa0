"""Train the from-scratch network on MNIST, measure it on the test set, save it, and draw the figures.

    python train.py                          # the recipe below: about 15 seconds on 2 cores
    python train.py --epochs 5 --hidden-size 64 --no-show

The story: load the data -> build the network -> every epoch, shuffle (and shift) the training images
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
from network import Network
from optimizers import SGD
from schedules import SCHEDULES, learning_rate_at

# -----------------------------------------------------------------------------------------------------
# Hyperparameters. Change them here, or for one run on the command line: python train.py --epochs 5
hidden_size = 512  # units in the hidden layer
learning_rate = 0.1  # step size of gradient descent at its peak
momentum = 0.9  # share of the previous step carried into the next one; 0 is plain SGD
batch_size = 128  # images per gradient step
epochs = 20  # passes over the training images
schedule = "cosine"  # how the learning rate changes during training: constant, step or cosine
warmup_epochs = 0.0  # epochs over which the learning rate first ramps up from 0
clip_norm = 0.0  # largest allowed global norm of the gradients; 0 disables clipping
augment = "shift"  # fresh variations of the training images every epoch: none or shift
max_shift = 1  # largest random shift, in pixels, when augment is "shift"
seed = 0  # random seed: the same seed gives bit-identical weights
# Data and outputs
data_dir = "data"  # folder with the four MNIST files; any data set in the same IDX format works
validation_size = 10000  # training images held out (the last ones) to watch for overfitting
weights = "model_weights.npz"  # where to save the trained model
results_dir = "results"  # where to save the figures
mistakes_only = False  # the prediction grid shows only misclassified test images
# -----------------------------------------------------------------------------------------------------


class TrainingDivergedError(Exception):
    """The loss blew up or the network stopped learning; the message says what to change."""


def parse_arguments(argv=None):
    """The constants above, each overridable by a command-line flag of the same name."""
    parser = argparse.ArgumentParser(
        description="Train a from-scratch NumPy network on MNIST.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--hidden-size", type=int, default=hidden_size, help="units in the hidden layer")
    add("--learning-rate", type=float, default=learning_rate, help="step size of gradient descent at its peak")
    add("--momentum", type=float, default=momentum, help="share of the previous step carried on; 0 is plain SGD")
    add("--batch-size", type=int, default=batch_size, help="images per gradient step")
    add("--epochs", type=int, default=epochs, help="passes over the training images")
    add("--schedule", choices=SCHEDULES, default=schedule, help="learning rate over time")
    add("--warmup-epochs", type=float, default=warmup_epochs, help="epochs of linear learning-rate warm-up")
    add("--clip-norm", type=float, default=clip_norm, help="largest global gradient norm; 0 disables clipping")
    add("--augment", choices=AUGMENTATIONS, default=augment, help="variations of the training images")
    add("--max-shift", type=int, default=max_shift, help="largest random shift in pixels")
    add("--seed", type=int, default=seed, help="random seed")
    add("--data-dir", default=data_dir, help="folder with the MNIST files")
    add("--validation-size", type=int, default=validation_size, help="training images held out for validation")
    add("--weights", default=weights, help="where to save the trained model (.npz)")
    add("--results-dir", default=results_dir, help="where to save the figures")
    add("--mistakes-only", action="store_true", default=mistakes_only, help="grid of misclassified images only")
    add("--no-show", action="store_true", help="save the figures but open no window")
    args = parser.parse_args(argv)
    problem = find_invalid_argument(args)
    if problem:
        parser.error(problem)
    return args


def find_invalid_argument(args):
    """A message naming the first option with an impossible value, or None when all are fine."""
    numbers = (args.learning_rate, args.momentum, args.clip_norm, args.warmup_epochs)
    checks = [
        (
            all(map(math.isfinite, numbers)),
            "--learning-rate, --momentum, --clip-norm and --warmup-epochs must be finite",
        ),
        (args.hidden_size >= 1, "--hidden-size must be at least 1"),
        (args.learning_rate > 0, "--learning-rate must be greater than 0"),
        (0 <= args.momentum < 1, "--momentum must be at least 0 and less than 1"),
        (args.batch_size >= 1, "--batch-size must be at least 1"),
        (args.epochs >= 1, "--epochs must be at least 1"),
        (args.warmup_epochs >= 0, "--warmup-epochs must not be negative"),
        (args.clip_norm >= 0, "--clip-norm must not be negative (0 disables clipping)"),
        (args.max_shift >= 0, "--max-shift must not be negative"),
        (args.validation_size >= 1, "--validation-size must be at least 1"),
        (Path(args.weights).parent.is_dir(), f"--weights: the folder of '{args.weights}' does not exist"),
        (not Path(args.results_dir).is_file(), f"--results-dir: '{args.results_dir}' is a file, not a folder"),
    ]
    return next((message for ok, message in checks if not ok), None)


def train(network, optimizer, train_images, train_labels, val_images, val_labels, args, log=print):
    """Mini-batch gradient descent for args.epochs epochs, checking on the validation set after each.

    Returns (history, interrupted): one record per finished epoch, and whether Ctrl-C stopped training.
    Raises TrainingDivergedError when the loss becomes NaN or inf or the network stops learning.
    """
    rng = np.random.default_rng(args.seed)  # for shuffling and augmentation
    history = []
    try:
        for epoch in range(1, args.epochs + 1):
            started = time.perf_counter()
            record = train_one_epoch(network, optimizer, train_images, train_labels, epoch, args, rng)
            record["seconds"] = time.perf_counter() - started
            record["val_loss"], record["val_accuracy"] = network.evaluate(val_images, val_labels)
            history.append(record)
            log(format_epoch(record, args.epochs))
            check_still_learning(record, network.layer_sizes[-1], args)
    except KeyboardInterrupt:
        log(
            f"Training interrupted (Ctrl-C) after {len(history)} complete epoch(s): "
            "evaluating and saving the model trained so far."
        )
        return history, True
    return history, False


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
        loss, batch_correct = network.train_step(batch_images, labels[batch], optimizer, rate, args.clip_norm)
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
    return (
        f"epoch {record['epoch']:>{len(str(total_epochs))}}/{total_epochs}"
        f"  loss {record['train_loss']:.4f}"
        f"  train {100 * record['train_accuracy']:.2f}%"
        f"  val {100 * record['val_accuracy']:.2f}%"
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


def main(argv=None):
    args = parse_arguments(argv)
    try:
        train_images, train_labels, val_images, val_labels = data_loader.load_training_data(
            args.data_dir, args.validation_size
        )
        test_images, test_labels = data_loader.load_test_data(args.data_dir)
    except data_loader.DataError as error:
        sys.exit(f"error: {error}")

    layer_sizes = [train_images.shape[1], args.hidden_size, data_loader.NUM_CLASSES]
    network = Network(layer_sizes, seed=args.seed)
    optimizer = SGD(momentum=args.momentum)
    print(
        f"Training a {'-'.join(map(str, layer_sizes))} network on {len(train_images):,} images "
        f"(validating on {len(val_images):,}) for {args.epochs} epochs"
    )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingDivergedError
        try:
            history, interrupted = train(network, optimizer, train_images, train_labels, val_images, val_labels, args)
        except TrainingDivergedError as error:
            sys.exit(f"error: {error}")

    probabilities = network.predict_probabilities(test_images)  # (N, 10): the one look at the test set
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    network.save(args.weights)
    print(f"Saved weights: {args.weights}" + (" (of the interrupted run)" if interrupted else ""))

    results = Path(args.results_dir)
    visualize.evaluation_figures(network, test_images, test_labels, probabilities, results, args.mistakes_only)
    if history:
        visualize.plot_training_curves(history, results / "training_curves.png")
    visualize.show_or_close(not args.no_show)


if __name__ == "__main__":
    main()
