"""Train the from-scratch network on MNIST, measure it on the test set, save it, and draw the figures.

    python train.py                          # the recipe below
    python train.py --epochs 5 --hidden-size 64 --no-show
    python train.py --preset best            # a named recipe from PRESETS, below the constants (minutes)

The story, top to bottom: the hyperparameters -> load the data -> build the network -> every epoch, shuffle
(and distort) the training images and take one gradient step per mini-batch (`train_step`: the whole
algorithm on one screen) -> check progress on the validation images -> at the end, measure the test accuracy
once, save the weights and draw the figures.
"""

import argparse
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

import data_loader
import visualize
from augment import AUGMENTATIONS, augment_images
from conv_network import ConvNetwork
from model_files import MAX_PARAMETERS, ModelFileError, is_weights_file, parameter_shapes, save_model
from network import Network, softmax_cross_entropy
from optimizers import OPTIMIZERS, SCHEDULES, clip_by_global_norm, flush_tiny_values, learning_rate_at, make_optimizer

# -----------------------------------------------------------------------------------------------------
# Hyperparameters. Change them here, or for one run on the command line: python train.py --epochs 5
# Each line is also a flag: --learning-rate for learning_rate, its value the default, its comment the help.
model = "mlp"  # mlp: fully connected layers only; cnn: convolution layers first (conv_network.py)
hidden_sizes = [512]  # units in each hidden layer: 512 is one hidden layer, 800,800 two
conv_channels = [32, 64]  # for the cnn: filters in each convolution layer
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

# What each hyperparameter may be, checked before training starts: a list of the allowed words, or a test
# of the value (of each value, for a list) and what it must be.
RULES = {
    "model": ["mlp", "cnn"],
    "hidden_sizes": (lambda units: 1 <= units <= 100_000, "must each be between 1 and 100,000 units"),
    "conv_channels": (lambda filters: 1 <= filters <= 1024, "must each be between 1 and 1,024 filters"),
    "learning_rate": (lambda rate: rate > 0, "must be greater than 0"),
    "optimizer": list(OPTIMIZERS),
    "momentum": (lambda share: 0 <= share < 1, "must be at least 0 and less than 1"),
    "batch_size": (lambda size: size >= 1, "must be at least 1"),
    "epochs": (lambda count: count >= 1, "must be at least 1"),
    "schedule": list(SCHEDULES),
    "warmup_epochs": (lambda count: count >= 0, "must not be negative"),
    "clip_norm": (lambda norm: norm >= 0, "must not be negative (0 disables clipping)"),
    "l2": (lambda penalty: penalty >= 0, "must not be negative"),
    "dropout": (lambda rate: 0 <= rate < 1, "must be at least 0 and less than 1"),
    "augment": list(AUGMENTATIONS),
    "max_shift": (lambda pixels: pixels >= 0, "must not be negative"),
    "seed": (lambda number: 0 <= number < 2**32, "must be a whole number from 0 to 4294967295"),
    "validation_size": (lambda count: count >= 0, "must not be negative"),
}
ALIASES = {"hidden_sizes": ["--hidden-size"]}  # other spellings of a flag

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
PROGRESS_AFTER_SECONDS = 1  # an epoch shows a progress line once it has run this long (on a terminal only)
STARTING_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.001, "adam": 0.001}


class TrainingFailedError(Exception):
    """Training diverged or the network is not learning; the message says what to change."""


class DivergedError(TrainingFailedError):
    """The loss became NaN or inf, or exploded: the steps were too large."""


class NotLearningError(TrainingFailedError):
    """The accuracy stayed at chance."""


# ----- the training: one step, one epoch, all epochs -------------------------------------------------


def train_step(network, optimizer, X, y, learning_rate, args, rng):
    """One step of mini-batch gradient descent: the whole algorithm, in the order of the README's table.

    X: (B, 784) images, y: (B,) labels. Returns the batch's loss, how many of its images the network got
    right (before the update), and the length of the gradient before clipping.
    """
    Z, cache = network.forward(X, args.dropout, rng)  # forward pass: the scores, (B, 10)
    loss, dZ = softmax_cross_entropy(Z, y)  # the loss L, and its gradient dZ = (P - Y) / B
    flush_tiny_values(dZ)  # for speed, not for the math: see "Subnormal numbers" in optimizers.py
    gradients, _ = network.backward(cache, dZ)  # backward pass: [dW1, db1, dW2, db2, ...]
    parameters = network.parameters()  # [W1, b1, W2, b2, ...]
    if args.l2 > 0:  # weight decay: a penalty (l2 / 2) * sum(W ** 2) on the loss adds l2 * W to dW
        for W, dW in zip(parameters[0::2], gradients[0::2]):  # every W: the even places of [W1, b1, W2, b2, ...]
            dW += np.float32(args.l2) * W
    norm = clip_by_global_norm(gradients, args.clip_norm)  # a step too long is shortened, its direction kept
    optimizer.step(parameters, gradients, learning_rate)  # W <- W - learning_rate * dW, with momentum
    return loss, int(np.count_nonzero(Z.argmax(axis=1) == y)), norm


def train_one_epoch(network, optimizer, images, labels, epoch, args, rng, progress):
    """Shuffle the training images, then take one gradient step per mini-batch.

    Returns the epoch's record: mean loss and accuracy over its mini-batches, the last learning rate, and
    how many steps gradient clipping shortened. Raises DivergedError when the loss or the weights become NaN
    or inf.
    """
    steps_per_epoch = math.ceil(len(images) / args.batch_size)
    order = rng.permutation(len(images))  # a new random order every epoch
    loss_sum, correct, clipped = 0.0, 0, 0
    for step_in_epoch, start in enumerate(range(0, len(images), args.batch_size)):
        batch = order[start : start + args.batch_size]
        X = augment_images(images[batch], args.augment, rng, args.max_shift, network.image_shape)  # (B, 784)
        step = (epoch - 1) * steps_per_epoch + step_in_epoch  # steps taken before this one
        rate = learning_rate_at(step, args.epochs * steps_per_epoch, args.learning_rate, args.schedule,
                                args.warmup_epochs * steps_per_epoch)  # fmt: skip
        loss, batch_correct, norm = train_step(network, optimizer, X, labels[batch], rate, args, rng)
        if not math.isfinite(loss):
            raise DivergedError(divergence_advice(f"the loss became {loss} in epoch {epoch}", args))
        loss_sum += loss * len(batch)
        correct += batch_correct
        clipped += 0 < args.clip_norm < norm
        progress.update(epoch, args.epochs, step_in_epoch + 1, steps_per_epoch)
    if not all(np.isfinite(parameter).all() for parameter in network.parameters()):  # the last step blew up
        raise DivergedError(divergence_advice(f"the weights became NaN or inf in epoch {epoch}", args))
    return {"epoch": epoch, "train_loss": loss_sum / len(images), "train_accuracy": correct / len(images),
            "learning_rate": rate, "steps": steps_per_epoch, "clipped": clipped}  # fmt: skip


def train(network, optimizer, train_images, train_labels, val_images, val_labels, args, log=print, progress=None):
    """Mini-batch gradient descent for args.epochs epochs, checking on the validation set after each.

    Returns (history, interrupted): one record per finished epoch, and whether Ctrl-C stopped training.
    With args.keep_best, the network ends with the weights of its best epoch on the validation set.
    Raises TrainingFailedError when the loss blows up or the network does not learn.
    """
    rng = np.random.default_rng(args.seed)  # for shuffling, augmentation and dropout
    progress = progress or Progress(stream=None)
    history, best, interrupted = [], None, False
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
            check_still_learning(history, network.num_classes, len(train_images), args)
            if args.keep_best and (best is None or record["val_accuracy"] > best["val_accuracy"]):
                best = {**record, "parameters": [parameter.copy() for parameter in network.parameters()]}
    except KeyboardInterrupt:
        progress.clear()
        log(f"Training interrupted (Ctrl-C) after {plural(len(history), 'complete epoch')}.")
        interrupted = True
    if best is not None:
        for parameter, saved in zip(network.parameters(), best["parameters"]):
            parameter[...] = saved
        log(f"Keeping the weights of epoch {best['epoch']}, the best on the validation set "
            f"({100 * best['val_accuracy']:.2f}%)")  # fmt: skip
    return history, interrupted


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


class Progress:
    """How far the current epoch has come, on one line of a terminal that each update overwrites.

    Only on a terminal (a log file or a pipe gets one line per epoch, nothing else), and only once an epoch
    has run for PROGRESS_AFTER_SECONDS: short epochs need no progress bar.
    """

    def __init__(self, stream=sys.stderr):
        self.stream = stream if stream is not None and stream.isatty() else None
        self.epoch_started, self.shown = time.monotonic(), False

    def update(self, epoch, total_epochs, steps_done, steps_per_epoch):
        if self.stream is None:
            return
        if steps_done == 1:
            self.epoch_started = time.monotonic()
        running_long = time.monotonic() - self.epoch_started > PROGRESS_AFTER_SECONDS
        if running_long and (steps_done % 10 == 0 or steps_done == steps_per_epoch):
            filled = 30 * steps_done // steps_per_epoch
            self.stream.write(f"\repoch {epoch}/{total_epochs} [{'#' * filled}{'.' * (30 - filled)}] "
                              f"{steps_done}/{steps_per_epoch} steps")  # fmt: skip
            self.stream.flush()
            self.shown = True

    def clear(self):
        """Erase the progress line, so that the next line of output starts on a clean line."""
        if self.shown:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
            self.shown = False


# ----- when training fails: what to change --------------------------------------------------------------


def check_still_learning(history, num_classes, num_images, args):
    """Stop when training has clearly failed, with advice that reads the evidence.

    Either the loss explodes (far beyond the ln(10) = 2.3 of a network that guesses uniformly): the steps
    are too large. Or the accuracy stays at chance: the network is not learning, which has many causes.
    The second is judged only after 100 steps, or at the last epoch: a network needs some steps to start.
    """
    record = history[-1]
    if record["train_loss"] > 10 * math.log(num_classes):
        raise DivergedError(divergence_advice(f"the loss exploded to {record['train_loss']:.3g}", args))
    steps_done = sum(epoch_record["steps"] for epoch_record in history)
    if record["train_accuracy"] < 1.5 / num_classes and (steps_done >= 100 or record["epoch"] == args.epochs):
        raise NotLearningError(not_learning_advice(record, steps_done, num_images, args))


def divergence_advice(what_happened, args):
    """The loss blew up: the steps were too large. Which setting made them so, and what to try."""
    usual = STARTING_LEARNING_RATES[args.optimizer]
    if args.learning_rate > usual * 3:
        causes = [f"--learning-rate {args.learning_rate:g} is far above the {usual:g} that works with "
                  f"--optimizer {args.optimizer}: try --learning-rate {usual:g}"]  # fmt: skip
    else:
        causes = [f"try a smaller --learning-rate, such as {args.learning_rate / 10:g}"]
    if args.clip_norm == 0 or args.clip_norm > 5:
        causes.append("or limit each step with --clip-norm 5")
    if args.learning_rate * args.l2 >= 1:
        causes = [f"--l2 {args.l2:g} with --learning-rate {args.learning_rate:g} makes weight decay alone "
                  "overshoot zero at every step (keep their product well below 1): try --l2 0.0001"]  # fmt: skip
    return f"training diverged: {what_happened}, the steps were too large; {' '.join(causes)}. " + unchanged(args)


def not_learning_advice(record, steps_done, num_images, args):
    """The accuracy stayed at chance: list the likely causes this run's settings show."""
    usual = STARTING_LEARNING_RATES[args.optimizer]
    causes = []
    if args.learning_rate < usual / 30:
        causes.append(f"--learning-rate {args.learning_rate:g} is far below the {usual:g} that works with "
                      f"--optimizer {args.optimizer}: try --learning-rate {usual:g}")  # fmt: skip
    if args.learning_rate > usual * 3:
        causes.append(f"--learning-rate {args.learning_rate:g} is far above the {usual:g} that works with "
                      f"--optimizer {args.optimizer}; the ReLU units have probably died: try {usual:g}")  # fmt: skip
    if args.warmup_epochs > args.epochs / 2:
        causes.append(f"--warmup-epochs {args.warmup_epochs:g} keeps the learning rate small for most of the run")
    # a healthy run's gradients are 0.3 to 1.8 long (the first 200 steps of the default run, seed 0): a
    # --clip-norm below that shortens every step, while one above it only catches the blown-up ones
    if 0 < args.clip_norm < 0.3 and record["clipped"] > record["steps"] / 2:
        causes.append(f"--clip-norm {args.clip_norm:g} shortened most steps to almost nothing: try --clip-norm 5")
    if args.l2 * args.learning_rate > 0.001:
        causes.append(f"--l2 {args.l2:g} (weight decay) pulls the weights to 0 faster than the data moves them: "
                      "try --l2 0")  # fmt: skip
    if args.augment in ("shift", "affine") and args.max_shift >= 7:
        causes.append(f"--max-shift {args.max_shift} pushes the digits out of the frame: try --max-shift 1")
    if num_images < 100:
        causes.append(f"{plural(num_images, 'training image')} are too few to learn from: use more (a smaller "
                      "--validation-size keeps more of them for training)")  # fmt: skip
    if steps_done < 100:
        causes.append(f"this run ended after only {plural(steps_done, 'gradient step')}, which may be too few to "
                      "start learning: use more epochs or a smaller --batch-size")  # fmt: skip
    if not causes:
        causes.append("check the data (--data-dir) and the options of this run against the defaults in train.py")
    return (f"the network is not learning: its training accuracy is {100 * record['train_accuracy']:.1f}% after "
            f"{plural(record['epoch'], 'epoch')}, no better than guessing. Likely: {'; '.join(causes)}. "
            + unchanged(args))  # fmt: skip


def unchanged(args):
    return f"'{args.weights}' was not changed."


def plural(count, noun):
    """'1 epoch', '3 epochs'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


# ----- the command line: one flag per constant above ---------------------------------------------------


def read_constants(path, namespace):
    """{name: (value, help)} for every line `name = value  # help` in the block between the first two lines of
    dashes in the file `path`; the values are taken from `namespace`, the module's variables."""
    block = re.split(r"^# -{20,}$", Path(path).read_text(encoding="utf-8"), flags=re.MULTILINE)[1]
    lines = re.findall(r"^([a-z_][a-z0-9_]*) = .*?  # (.*)$", block, flags=re.MULTILINE)
    return {name: (namespace[name], help_text) for name, help_text in lines}


def default_settings(**changes):
    """The constants at the top of this file as settings, like parse_arguments([]) gives, with `changes` made."""
    settings = {name: value for name, (value, _) in read_constants(__file__, globals()).items()}
    return argparse.Namespace(**{**settings, "preset": None, **changes})


def comma_separated(kind):
    """An argparse type for lists like '800,800' -> [800, 800] (kind int) or '0.1,0.3' (kind float)."""

    def parse(text):
        return [kind(part) for part in text.split(",")]

    parse.__name__ = f"comma-separated {kind.__name__}"  # how argparse names it in error messages
    return parse


def add_flags(parser, constants, rules, aliases=None):
    """One flag per constant: --hidden-sizes for hidden_sizes, of the constant's type, with its default and help."""
    for name, (default, help_text) in constants.items():
        flags = [f"--{name.replace('_', '-')}", *(aliases or {}).get(name, [])]
        choices = rules.get(name) if isinstance(rules.get(name), list) else None
        if isinstance(default, bool):
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif isinstance(default, list):
            parser.add_argument(*flags, type=comma_separated(type(default[0])), default=default, metavar="N,N,...",
                                help=f"{help_text} (comma-separated; default: {format_value(default)})")  # fmt: skip
        else:
            parser.add_argument(*flags, type=type(default), default=default, choices=choices,
                                help=f"{help_text} (default: {default})")  # fmt: skip


def format_value(value):
    """A constant as it is typed on the command line: [800, 800] -> 800,800."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def rule_problem(name, value, rules):
    """What is wrong with `value` for the constant `name`, as a message naming its flag; None if nothing."""
    flag, rule = f"--{name.replace('_', '-')}", rules.get(name)
    values = value if isinstance(value, list) else [value]
    if any(isinstance(item, float) and not math.isfinite(item) for item in values):
        return f"{flag} must be a finite number"
    if isinstance(rule, list):
        return None if value in rule else f"{flag} must be one of {', '.join(rule)}, not '{value}'"
    if rule and not all(rule[0](item) for item in values):
        return f"{flag} {rule[1]}"
    return None


def preset_problem(presets, constants, rules):
    """A message about the first preset key that is not a constant above, whose value has the wrong type, or
    whose value breaks its rule."""
    for preset, settings in presets.items():
        for name, value in settings.items():
            where = f"PRESETS['{preset}'] in train.py"
            if name not in constants:
                return (f"{where} sets '{name}', which is not a hyperparameter; the names are those of the "
                        f"constants at the top: {', '.join(constants)}")  # fmt: skip
            default = constants[name][0]
            if not same_kind(value, default):
                return f"{where} sets {name} to {value!r}; it must be like its default {default!r}"
            problem = rule_problem(name, value, rules)
            if problem:
                return f"{where}: {problem}"
    return None


def same_kind(value, default):
    """Whether `value` can stand in for `default`: the same type (an int for a float too), item by item for lists."""
    if isinstance(default, list):
        return isinstance(value, list) and len(value) > 0 and all(same_kind(item, default[0]) for item in value)
    return type(value) is type(default) or (type(default) is float and type(value) is int)


def parse_arguments(argv=None):
    """The constants above, each overridable by a command-line flag of the same name, or by a preset."""
    constants = read_constants(__file__, globals())
    parser = argparse.ArgumentParser(description="Train a from-scratch NumPy network on MNIST.")
    recipes = "a named recipe from PRESETS in train.py; each trains for minutes (see the README)"
    parser.add_argument("--preset", choices=sorted(PRESETS), help=recipes)
    add_flags(parser, constants, RULES, ALIASES)
    parser.add_argument("--no-show", action="store_true", help="save the figures but open no window")
    problem = preset_problem(PRESETS, constants, RULES)
    if problem:
        parser.error(problem)
    preset = parser.parse_known_args(argv)[0].preset  # a first look, only to find the preset
    if preset:
        parser.set_defaults(**PRESETS[preset])  # the preset replaces the defaults; explicit flags still win
    args = parser.parse_args(argv)
    problems = [rule_problem(name, getattr(args, name), RULES) for name in constants]
    problems += [None if args.validation_size > 0 or not args.keep_best else
                 "--keep-best needs a validation set (--validation-size > 0)"]  # fmt: skip
    problem = next((message for message in problems if message), None) or output_path_problem(args)
    if problem:
        parser.error(problem)
    return args


def output_path_problem(args):
    """What stops the model or the figures from being saved where the flags say, before any training."""
    weights_path = Path(args.weights)
    try:
        if not weights_path.parent.is_dir():
            return f"--weights: the folder of '{weights_path}' does not exist"
        if weights_path.is_dir():
            return f"--weights: '{weights_path}' is a folder; give a file name"
        if weights_path.exists() and not is_weights_file(weights_path):
            return (f"--weights: '{weights_path}' exists and is not a weights file of this project; "
                    "choose another name, so that it is not replaced")  # fmt: skip
        if weights_path.exists() and not weights_path.stat().st_mode & 0o200:
            return f"--weights: '{weights_path}' is read-only; choose another name with --weights"
        return visualize.results_dir_problem(args.results_dir)
    except OSError as error:
        return f"--weights or --results-dir: cannot look at '{error.filename}' ({error.strerror})"


# ----- putting it together -----------------------------------------------------------------------------


def build_model(args, image_shape):
    """The network and optimizer args describe: images -> (convolutions ->) hidden layers -> 10 classes.

    Raises ValueError naming the option when the network does not fit the images or would be too large.
    """
    numbers = {"image_shape": list(image_shape), "conv_channels": args.conv_channels, "hidden_sizes": args.hidden_sizes,
               "kernel_size": [5], "layer_sizes": [math.prod(image_shape), *args.hidden_sizes, 10]}  # fmt: skip
    try:
        count = sum(math.prod(shape) for shape in parameter_shapes(args.model, numbers))
    except ValueError as error:
        raise ValueError(f"--conv-channels: {error}; use fewer convolution layers") from None
    if count > MAX_PARAMETERS:
        options = "--hidden-sizes and --conv-channels" if args.model == "cnn" else "--hidden-sizes"
        raise ValueError(f"{options}: that network would have {count:,} parameters "
                         f"({count * 4 / 1e9:.1f} GB); this program builds at most {MAX_PARAMETERS:,}")  # fmt: skip
    if args.max_shift >= min(image_shape):
        raise ValueError(f"--max-shift {args.max_shift} is as large as the {image_shape[0]}x{image_shape[1]} "
                         "images: every digit would leave the frame")  # fmt: skip
    if args.model == "cnn":
        network = ConvNetwork(args.conv_channels, args.hidden_sizes, seed=args.seed, image_shape=image_shape)
    else:
        network = Network(numbers["layer_sizes"], seed=args.seed, image_shape=image_shape)
    return network, make_optimizer(args.optimizer, args.momentum)


def describe(network):
    """'784-512-10', or for a cnn '28x28 -> conv 32, 64 -> 1024-256-10' (the dense part's input size included)."""
    if isinstance(network, ConvNetwork):
        height, width = network.image_shape
        return (f"{height}x{width} -> conv {', '.join(map(str, network.conv_channels))} -> "
                f"{'-'.join(map(str, network.layer_sizes))}")  # fmt: skip
    return "-".join(map(str, network.layer_sizes))


def load_data(args):
    """(training, validation and test images and labels), checked to share one image shape, and that shape.

    Raises DataError when the test images have another size than the training images, or when the
    training images show fewer than two different digits: then there is nothing to tell apart.
    """
    train_images, train_labels, val_images, val_labels = data_loader.load_training_data(
        args.data_dir, args.validation_size
    )
    digits = np.unique(train_labels)
    if len(digits) < 2:
        raise data_loader.DataError(f"the training images in '{args.data_dir}' show only the digit {digits[0]} "
                                    f"({plural(len(train_images), 'image')}): the network needs at least two "
                                    "different digits to learn to tell them apart")  # fmt: skip
    image_shape = data_loader.read_image_shape(args.data_dir)
    test_images, test_labels = data_loader.load_test_data(args.data_dir, image_shape)  # refuses another size
    return (train_images, train_labels, val_images, val_labels, test_images, test_labels), image_shape


def report_clipping(history, args):
    """What gradient clipping did in this run, if it did anything."""
    clipped, steps = sum(record["clipped"] for record in history), sum(record["steps"] for record in history)
    if clipped:
        print(f"Gradient clipping shortened {plural(clipped, 'step')} of {steps:,} (--clip-norm {args.clip_norm:g})")


def main(argv=None):
    args = parse_arguments(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted (Ctrl-C).\n")
        sys.exit(130)


def run(args):
    """The story of the module docstring, step by step."""
    try:
        data, image_shape = load_data(args)
        network, optimizer = build_model(args, image_shape)
    except (data_loader.DataError, ValueError) as error:
        sys.exit(f"error: {error}")
    train_images, train_labels, val_images, val_labels, test_images, test_labels = data
    validating = f"validating on {len(val_images):,}" if len(val_images) else "no validation set"
    print(
        f"Training a {describe(network)} network on {len(train_images):,} images "
        f"({validating}) for {plural(args.epochs, 'epoch')}" + (f", preset '{args.preset}'" if args.preset else "")
    )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingFailedError
        try:
            history, interrupted = train(network, optimizer, train_images, train_labels, val_images, val_labels,
                                         args, progress=Progress())  # fmt: skip
        except TrainingFailedError as error:
            sys.exit(f"error: {error}")
    if not history:
        print(f"No epoch finished, so there is nothing to save. {unchanged(args)}", file=sys.stderr)
        sys.exit(130)
    report_clipping(history, args)

    probabilities = network.predict_probabilities(test_images)  # (N, 10): the one look at the test set
    print(f"Test accuracy: {100 * np.mean(probabilities.argmax(axis=1) == test_labels):.2f}%")
    try:
        save_model(network, args.weights)
    except ModelFileError as error:
        sys.exit(f"error: {error}")
    except OSError as error:
        sys.exit(f"error: could not save the trained model to '{args.weights}' ({error.strerror}); nothing was changed")
    print(f"Saved weights: {args.weights}" + (" (of the interrupted run)" if interrupted else ""))
    draw_figures(network, data, probabilities, history, args)


def draw_figures(network, data, probabilities, history, args):
    """The evaluation figures, the training curves and the augmented samples, saved in args.results_dir."""
    train_images, test_images, test_labels = data[0], data[4], data[5]
    results = Path(args.results_dir)
    try:
        visualize.evaluation_figures(network, test_images, test_labels, probabilities, results, args.mistakes_only)
        visualize.plot_training_curves(history, results / "training_curves.png")
        if args.augment != "none":
            visualize.plot_augmented_samples(train_images[:4], [args.augment], results / "augmented_samples.png",
                                             max_shift=args.max_shift, image_shape=network.image_shape)  # fmt: skip
    except OSError as error:
        sys.exit(f"error: could not save the figures in '{results}' ({error.strerror or error}); the model is saved")
    visualize.show_or_close(not args.no_show, results / "training_curves.png")


if __name__ == "__main__":
    main()
