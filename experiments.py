"""Experiments: the comparisons of the course, each a few short training runs drawn in one figure.

    python experiments.py optimizers         # sgd, momentum, nesterov, rmsprop and adam, on the same images
    python experiments.py learning-rates     # too small, about right, too large, and one that blows up
    python experiments.py batch-sizes        # accuracy against epochs, steps and seconds
    python experiments.py initialization     # a deep network started with he, xavier and small weights, and sigmoid
    python experiments.py overfitting        # 1,000 images: no regularisation, weight decay, dropout, augmentation
    python experiments.py optimizer-paths    # the update rules' paths down a long, narrow valley
    python experiments.py all                # every one in turn
    python experiments.py optimizers --images 2000 --epochs 2     # smaller and quicker

An experiment changes one thing and keeps everything else: every run trains with train.py's own loop
(`train.train`), with train.py's settings (`train.default_settings`), on the same training images, from the same
seed. What differs between the runs is what the experiment compares, and its figure, saved as results/NAME.png,
shows the difference. Each experiment's function says in its docstring what to look at; docs/experiments.md shows
the figures with the numbers they gave.

Three of train.py's settings change in every experiment, so that the runs are short and their curves easy to
read: one hidden layer of 128 units (instead of 512), no augmentation (except where it is compared) and a
constant learning rate (a schedule would change the step size during the run, on top of what is compared).
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

import data_loader
import train
import visualize
from optimizers import make_optimizer
from support import diagnosis
from support.command_line import whole_number_from
from support.files import output_problem
from support.progress import plural

CHANGED_IN_EVERY_RUN = {"hidden_sizes": [128], "augment": "none", "schedule": "constant"}  # see the docstring
VALIDATION_IMAGES = 10_000  # the last training images of the file: never trained on, measured after every epoch
WATCHED_IMAGES = 500  # the training images on which a LossWatcher measures the loss after every step
SMOOTHING_STEPS = 20  # the loss of single steps is noisy: its average over this many steps shows the trend
COLORS = plt.cm.tab10.colors  # one colour per run, the same in every panel of a figure


# ----- one training run ------------------------------------------------------------------------------------


@dataclass
class Setup:
    """What every run of one experiment shares: the same training images, validation images, epochs and seed."""

    train_images: np.ndarray  # (N, 784): the first N training images, the same for every run
    train_labels: np.ndarray  # (N,)
    val_images: np.ndarray  # (V, 784): the validation images, measured after every epoch
    val_labels: np.ndarray  # (V,)
    image_shape: tuple  # (rows, columns) of an image: (28, 28)
    epochs: int
    seed: int


@dataclass
class Run:
    """What one training run did: its label, train.train's history (one record per finished epoch), and how it
    ended: failure is "" when it finished, else "diverged" or "not learning". watched_losses holds the loss after
    every step when the run was watched (LossWatcher), training_accuracies the accuracy on the training images
    after every epoch when it was measured."""

    label: str
    history: list
    failure: str
    seconds: float
    watched_losses: list
    training_accuracies: list


class LossWatcher:
    """Stands in for an optimizer: takes every step with the real one, then measures the loss of the network on a
    few fixed training images.

    train.train returns the history of a run, with the loss of every step, only when the run finishes: when the
    loss blows up, it raises DivergedError instead, and the history is gone. The watcher keeps the loss of every
    step up to that moment, so that the figure can show how the run blew up. Measured on the same images after
    every step, the loss also makes a smoother curve than on the mini-batches, each of which is different.
    """

    def __init__(self, optimizer, network, images, labels):
        self.optimizer, self.network = optimizer, network
        self.images, self.labels = images, labels
        self.losses = []

    def step(self, parameters, gradients, learning_rate):
        self.optimizer.step(parameters, gradients, learning_rate)
        loss, _ = self.network.evaluate(self.images, self.labels)
        self.losses.append(loss)


def run_settings(setup, **changes):
    """train.py's settings for one run: the constants at the top of train.py, with what every experiment changes
    (CHANGED_IN_EVERY_RUN), this experiment's epochs and seed, and `changes`: what this run compares."""
    common = {**CHANGED_IN_EVERY_RUN, "epochs": setup.epochs, "seed": setup.seed}
    return train.default_settings(**{**common, **changes})


def train_run(label, settings, setup, watch=False, measure_training_accuracy=False):
    """Train one network with train.py's own loop, and return what happened as a Run, even when training failed.

    When the loss blows up (DivergedError) or the network learns nothing (NotLearningError), train.train stops
    the run; here it ends there, and the figure shows how far it got. With `watch`, a LossWatcher measures the
    loss after every step; with `measure_training_accuracy`, the accuracy on the training images as they are is
    measured after every epoch. A line says how the run ended as soon as it has.
    """
    network, optimizer = train.build_model(settings, setup.image_shape)
    if watch:
        count = min(WATCHED_IMAGES, len(setup.train_images))
        optimizer = LossWatcher(optimizer, network, setup.train_images[:count], setup.train_labels[:count])
    training_accuracies = []

    def after_each_epoch(line):
        """train.train calls its `log` after every epoch: the moment to measure the accuracy on the training images
        as they are (the history's is measured while the network learns, with dropout and distortions)."""
        if measure_training_accuracy:
            training_accuracies.append(network.evaluate(setup.train_images, setup.train_labels)[1])

    failure, interruption, started = "", None, time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a run that blows up is reported by DivergedError
            history, interruption = train.train(network, optimizer, setup.train_images, setup.train_labels,
                                                setup.val_images, setup.val_labels, settings,
                                                log=after_each_epoch)  # fmt: skip
    except diagnosis.DivergedError:
        history, failure = [], "diverged"
    except diagnosis.NotLearningError:
        history, failure = [], "not learning"
    if interruption:
        raise interruption  # Ctrl-C: the experiment stops (support/startup.py ends the program cleanly)
    watched_losses = optimizer.losses if watch else []
    run = Run(label, history, failure, time.perf_counter() - started, watched_losses, training_accuracies)
    print(run_summary(run), flush=True)
    return run


def run_summary(run):
    """One line: how the run ended, its validation accuracy after the last epoch, and its time."""
    if run.failure:
        steps = f" after {plural(len(run.watched_losses), 'step')}" if run.watched_losses else ""
        outcome = f"stopped{steps}: {run.failure}"
    else:
        accuracy = 100 * run.history[-1]["val_accuracy"]
        outcome = f"validation accuracy {accuracy:.2f}% after {plural(len(run.history), 'epoch')}"
    return f"  {run.label:<26} {outcome:<46} {run.seconds:6.1f} s"


# ----- drawing runs -------------------------------------------------------------------------------------------


def legend_label(run):
    """The run's label, and how it stopped if it did."""
    return f"{run.label} (stopped: {run.failure})" if run.failure else run.label


def moving_average(values, window):
    """The mean of every `window` consecutive values: the trend of a noisy curve (window - 1 values shorter)."""
    return np.convolve(values, np.ones(window) / window, mode="valid")


def draw_step_losses(axis, run, color):
    """The loss of every mini-batch of the run (train.train records them epoch by epoch), faint, and its moving
    average over SMOOTHING_STEPS steps, solid. Returns the values drawn."""
    losses = [loss for record in run.history for loss in record["step_losses"]]
    if not losses:  # a failed run: train.train kept none of its losses, only the legend says what happened
        axis.plot([], [], color=color, label=legend_label(run))
        return losses
    steps = np.arange(1, len(losses) + 1)
    window = min(SMOOTHING_STEPS, len(losses))
    axis.plot(steps, losses, color=color, alpha=0.2, linewidth=0.6)
    axis.plot(steps[window - 1 :], moving_average(losses, window), color=color, label=legend_label(run))
    return losses


def draw_watched_losses(axis, run, color):
    """The loss on the watched images after every step; an x where a failed run stopped. Returns the values drawn."""
    losses = np.array(run.watched_losses, dtype=float)
    losses[~np.isfinite(losses)] = np.nan  # NaN or inf once the weights blew up: not drawn
    steps = np.arange(1, len(losses) + 1)
    axis.plot(steps, losses, color=color, label=legend_label(run))
    drawn = losses[np.isfinite(losses)]
    if run.failure and len(drawn):
        last = np.flatnonzero(np.isfinite(losses))[-1]
        axis.plot(steps[last], losses[last], "x", color=color, markersize=12, markeredgewidth=2.5)
    return list(drawn)


def draw_validation_accuracy(axis, run, color, x="epoch"):
    """The validation accuracy after each epoch, against the epoch, the steps or the seconds of training so far."""
    if x == "epoch":
        where = [record["epoch"] for record in run.history]
    elif x == "steps":
        where = np.cumsum([record["steps"] for record in run.history])
    else:  # seconds: the training time of the epochs so far (validation not counted)
        where = np.cumsum([record["seconds"] for record in run.history])
    accuracies = [100 * record["val_accuracy"] for record in run.history]
    axis.plot(where, accuracies, "o-", color=color, markersize=4, label=legend_label(run))


def set_loss_axis(axis, shown_losses, title):
    """Labels, a grid and a logarithmic loss axis with plain numbers (visualize.set_readable_log_ticks)."""
    axis.set(xlabel="step", ylabel="cross-entropy loss (log scale)", title=title, yscale="log")
    if shown_losses:
        visualize.set_readable_log_ticks(axis, min(shown_losses), max(shown_losses))
    axis.grid(True, alpha=0.3)


def set_accuracy_axis(axis, xlabel="epoch", title="Validation accuracy after each epoch"):
    """Labels and a grid; whole epochs only on an axis of epochs."""
    axis.set(xlabel=xlabel, ylabel="validation accuracy (%)", title=title)
    if xlabel == "epoch":
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3)


def set_readable_log_x(axis):
    """A logarithmic x axis, labelled with plain numbers at 1, 2 and 5 times the powers of ten: 0.5, 1, 2, 5, 10."""
    axis.set_xscale("log")
    axis.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, position: f"{value:g}"))
    axis.xaxis.set_minor_locator(NullLocator())


# ----- the experiments ----------------------------------------------------------------------------------------
# Each takes the Setup its runs share and returns its figure.

OPTIMIZER_RATES = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.001, "adam": 0.001}  # the usual ones


def compare_optimizers(setup):
    """Five update rules (optimizers.py), each at the learning rate it is usually given, from the same starting
    weights on the same images.

    Plain sgd follows the gradient of each mini-batch alone. Momentum and nesterov add up the steps that agree
    and so move faster along them. Rmsprop and adam divide each weight's step by the recent size of its gradient,
    so that every weight moves at a similar pace. Look at how fast each loss falls in the first hundred steps,
    where it levels off, and what that gives on the validation images.
    """
    runs = [train_run(f"{name}, lr {rate:g}", run_settings(setup, optimizer=name, learning_rate=rate), setup)
            for name, rate in OPTIMIZER_RATES.items()]  # fmt: skip
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    shown = []
    for run, color in zip(runs, COLORS):
        shown += draw_step_losses(loss_axis, run, color)
        draw_validation_accuracy(accuracy_axis, run, color)
    set_loss_axis(loss_axis, shown, title=f"Loss of every mini-batch (faint) and its mean over {SMOOTHING_STEPS} steps")
    set_accuracy_axis(accuracy_axis)
    loss_axis.legend(fontsize=9)
    figure.suptitle(f"Five optimizers on the same {len(setup.train_images):,} images from the same start: "
                    "which loss falls fastest, and where does each level off?")  # fmt: skip
    return figure


LEARNING_RATES = [0.001, 0.01, 0.1, 1.0, 10.0]  # for train.py's optimizer (momentum), whose usual rate is 0.1


def compare_learning_rates(setup):
    """The learning rate of train.py's optimizer (momentum), from a hundred times too small to a hundred times too
    large, with gradient clipping off so that the large steps are taken as they are.

    Too small, and the loss creeps down: every step goes the right way, but not far. About right, and it falls
    fast. Too large, and the steps jump across the valley of the loss instead of down it: the loss falls, then
    rises. Far too large, and it blows up within a few steps; train.train then stops the run (DivergedError),
    and its curve ends with an x. The loss is measured after every step on the same 500 training images (a
    LossWatcher), so that the curves of the failed runs are there too.
    """
    runs = [train_run(f"lr {rate:g}", run_settings(setup, learning_rate=rate, clip_norm=0.0), setup, watch=True)
            for rate in LEARNING_RATES]  # fmt: skip
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    shown = []
    for run, color in zip(runs, COLORS):
        shown += draw_watched_losses(loss_axis, run, color)
        draw_validation_accuracy(accuracy_axis, run, color)
    set_loss_axis(loss_axis, shown, title=f"Loss on {WATCHED_IMAGES} training images after every step "
                  "(x: training stopped)")  # fmt: skip
    set_accuracy_axis(accuracy_axis)
    loss_axis.legend(fontsize=9)
    figure.suptitle(f"Learning rates of momentum, on the same {len(setup.train_images):,} images: too small creeps, "
                    "about right falls fast,\ntoo large falls and climbs back, far too large blows up")  # fmt: skip
    return figure


BATCH_SIZES = [32, 128, 512, 2048]


def compare_batch_sizes(setup):
    """The number of images per gradient step, at the same learning rate (train.py's momentum, 0.1).

    A small batch gives a rough estimate of the gradient but many steps per epoch; a large one a good estimate but
    few steps. So the same accuracy is counted three ways: per epoch (every image seen once) small batches are
    ahead, because they take more steps; per step, large batches are ahead, because each step is better
    informed; per second, what counts is how much work a step does for its time: NumPy multiplies a large batch
    faster per image, but the gain stops once the products are large enough.
    """
    runs = [train_run(f"batch {size}", run_settings(setup, batch_size=size), setup) for size in BATCH_SIZES]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True, layout="constrained")
    for axis, x in zip(axes, ["epoch", "steps", "seconds"]):
        for run, color in zip(runs, COLORS):
            draw_validation_accuracy(axis, run, color, x)
    set_accuracy_axis(axes[0], "epoch", "Against epochs (each image seen once per epoch)")
    set_accuracy_axis(axes[1], "gradient steps (log scale)", "Against gradient steps")
    set_accuracy_axis(axes[2], "seconds of training (log scale)", "Against seconds of training, on this machine")
    for axis in axes[1:]:
        set_readable_log_x(axis)
        axis.set_ylabel(None)
    axes[0].legend(fontsize=9)
    figure.suptitle(f"Batch sizes on the same {len(setup.train_images):,} images: the same validation accuracy "
                    "counted in epochs, in steps and in seconds")  # fmt: skip
    return figure


DEEP_HIDDEN_SIZES = [100, 100, 100, 100, 100]  # five hidden layers: deep enough for a signal to fade
STARTS = [("relu", "he"), ("relu", "xavier"), ("relu", "small"), ("sigmoid", "xavier")]  # (activation, init)
HISTOGRAM_IMAGES = 1_000  # the training images whose activations the histograms count


def compare_initializations(setup):
    """A network of five hidden layers started with each rule of network.py, and with sigmoid units.

    At the start, before any training, every layer multiplies its input by random weights. If they are too small,
    each layer's output is smaller than its input, and after five layers almost nothing is left: the histograms
    of the layers crowd against 0, layer after layer (small). He's rule (variance 2 / fan-in) is made for ReLU and
    keeps most of the spread from layer to layer; xavier's, made for units that zero nothing, lets ReLU's signal
    shrink a little at every layer. The backward pass goes through the same layers, so a vanishing signal means
    vanishing gradients: the training curves show which networks learn at all. Sigmoid units keep their signal,
    but pass back at most a quarter of the gradient they receive, layer after layer.
    """
    settings = [run_settings(setup, hidden_sizes=DEEP_HIDDEN_SIZES, activation=activation, init=init)
                for activation, init in STARTS]  # fmt: skip
    labels = [f"{activation}, {init}" for activation, init in STARTS]
    images = setup.train_images[:HISTOGRAM_IMAGES]
    # build_model with the same settings (the same seed) gives the starting weights of the runs below
    starting_activations = [train.build_model(run, setup.image_shape)[0].hidden_activations(images)
                            for run in settings]  # fmt: skip
    runs = [train_run(label, run, setup, watch=True) for label, run in zip(labels, settings)]

    layers = len(DEEP_HIDDEN_SIZES)
    figure = plt.figure(figsize=(17, 9.5))  # laid out by hand: the automatic layout is slow with so many panels
    histograms = figure.add_gridspec(len(STARTS), layers, left=0.04, right=0.69, top=0.87, bottom=0.06,
                                     wspace=0.3, hspace=0.6)  # fmt: skip
    curves = figure.add_gridspec(2, 1, left=0.75, right=0.99, top=0.87, bottom=0.06, hspace=0.35)
    draw_starting_histograms(figure, histograms, starting_activations, labels)
    loss_axis = figure.add_subplot(curves[0])
    accuracy_axis = figure.add_subplot(curves[1])
    shown = []
    for run, color in zip(runs, COLORS):
        shown += draw_watched_losses(loss_axis, run, color)
        draw_validation_accuracy(accuracy_axis, run, color)
    set_loss_axis(loss_axis, shown, title=f"Loss on {WATCHED_IMAGES} training images after every step\n"
                  "(x: training stopped)")  # fmt: skip
    accuracy_axis.axhline(10, color="grey", linestyle=":", label="chance: 10%")
    set_accuracy_axis(accuracy_axis)
    accuracy_axis.set_ylim(0, 100)  # from chance to perfect: which networks learn at all
    accuracy_axis.legend(fontsize=9, loc="center right")
    title = (f"Starting weights of a network of {layers} hidden layers. Left: histograms of what each layer passes on "
             f"at the start, for {len(images):,} images\n(each row on the range of its layer 1). Where they crowd "
             "against 0, the signal has vanished. Right: which networks then learn.")  # fmt: skip
    figure.suptitle(title)
    return figure


def draw_starting_histograms(figure, grid, starting_activations, labels):
    """A row of histograms per network, one per hidden layer, in the cells of `grid`: what each layer passes on
    before any training, and the spread (standard deviation) of its values."""
    for row, (activations, label, color) in enumerate(zip(starting_activations, labels, COLORS)):
        for layer, H in enumerate(activations):
            axis = figure.add_subplot(grid[row, layer])
            draw_activation_histogram(axis, H, activations[0], color)
            axis.set_title(f"{label}: layer {layer + 1}\nspread (std) {H.std():.2g}", fontsize=9)
            axis.set_ylabel("share of values" if layer == 0 else None, fontsize=8)
            axis.set_xlabel("activation" if row == len(labels) - 1 else None, fontsize=8)


def draw_activation_histogram(axis, H, first_layer, color):
    """The histogram of one layer's activations H, as shares of its values, on the range of the first layer's, from
    0 (or its smallest value, for tanh) to its largest: a signal that shrinks from layer to layer crowds towards 0."""
    smallest, largest = min(0.0, float(first_layer.min())), max(float(first_layer.max()), 1e-12)
    counts, edges = np.histogram(H, bins=30, range=(smallest, largest))
    axis.stairs(counts / H.size, edges, fill=True, color=color)  # each bar: its share of all the values
    axis.set_ylim(0, 1)
    axis.tick_params(labelsize=7)


L2 = 0.003  # weight decay: l2 * W is added to every dW (train_step)
REGULARIZATIONS = {  # label: what changes in train.py's settings
    "no regularisation": {},
    f"weight decay (l2 {L2:g})": {"l2": L2},
    "dropout 0.5": {"dropout": 0.5},
    "augmentation (affine)": {"augment": "affine"},
}


def compare_regularizations(setup):
    """A network trained on too few images (1,000), as it is and with each of the three regularisations of
    train.py, for many epochs.

    With so few images the network soon knows every one of them by heart: the training accuracy reaches 100%,
    while the accuracy on the images it has not seen stops far below. That gap is overfitting. Weight decay keeps
    the weights small, dropout keeps units from relying on each other, augmentation shows the network a new
    variant of every image in every epoch: look at which of them narrows the gap, and by how much. The training
    accuracy is measured after every epoch on the training images as they are, as the validation accuracy is.
    """
    runs = [train_run(label, run_settings(setup, **changes), setup, measure_training_accuracy=True)
            for label, changes in REGULARIZATIONS.items()]  # fmt: skip
    figure, axes = plt.subplots(1, len(runs), figsize=(16, 4.8), sharey=True, layout="constrained")
    for axis, run, color in zip(axes, runs, COLORS):
        draw_the_gap(axis, run, color)
    axes[0].set_ylabel("accuracy (%)")
    figure.suptitle(f"Overfitting: {len(setup.train_images):,} training images, learned by heart. How wide is the gap "
                    "between training and validation accuracy, and what narrows it?")  # fmt: skip
    return figure


def draw_the_gap(axis, run, color):
    """A run's accuracy on its training images (dashed) and on the validation images (solid) after every epoch,
    the gap between them shaded, and their last values in the title."""
    epochs = [record["epoch"] for record in run.history]
    training = [100 * accuracy for accuracy in run.training_accuracies[: len(epochs)]]
    validation = [100 * record["val_accuracy"] for record in run.history]
    axis.plot(epochs, training, "--", color=color, label="training images")
    axis.plot(epochs, validation, "-", color=color, label="validation images")
    axis.fill_between(epochs, validation, training, color=color, alpha=0.15, label="the gap")
    final = f"train {training[-1]:.1f}%, val {validation[-1]:.1f}%" if epochs else f"stopped: {run.failure}"
    axis.set(xlabel="epoch", title=f"{run.label}\n{final}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=9, loc="lower right")


PATH_RATES = {"sgd": 0.95, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.3, "adam": 0.3}  # chosen for this valley
START = (-7.0, 2.0)  # where every path starts
PATH_STEPS = 30


def valley(x, y):
    """f(x, y) = x^2 / 20 + y^2: a long, narrow valley, twenty times more curved across (y) than along (x)."""
    return x**2 / 20 + y**2


def valley_gradient(point):
    """The gradient of the valley at `point` = (x, y): (df/dx, df/dy) = (x / 10, 2 y)."""
    x, y = point
    return np.array([x / 10, 2 * y], dtype=np.float32)


def descend(name, learning_rate):
    """The points that the optimizer `name` of optimizers.py visits in PATH_STEPS steps down the valley from START:
    the same class that trains the network, given the point (x, y) as its one parameter and the valley's gradient."""
    optimizer = make_optimizer(name)
    point = np.array(START, dtype=np.float32)
    path = [point.copy()]
    for _ in range(PATH_STEPS):
        optimizer.step([point], [valley_gradient(point)], learning_rate)  # changes `point` in place
        path.append(point.copy())
    return np.array(path)  # (PATH_STEPS + 1, 2)


def compare_optimizer_paths():
    """The five optimizers on a function of two numbers, where their paths can be drawn (as in "Deep Learning from
    Scratch"): f(x, y) = x^2 / 20 + y^2, a long valley with steep sides, like the loss of a network along many of
    its directions.

    The gradient points mostly across the valley, to the steep sides, and only a little along it, towards the
    minimum at (0, 0). Plain sgd zigzags from side to side and creeps along. Momentum gathers speed along the
    valley, where the steps agree, and swings past the minimum; nesterov swings less. Rmsprop divides each
    coordinate's step by the recent size of its gradient, so x and y move at the same pace and it heads down the
    valley floor at once; adam does the same with momentum, and swings like it. Each optimizer has its own
    learning rate, chosen for this valley (the usual ones for a network would barely move here).
    """
    paths = {name: descend(name, rate) for name, rate in PATH_RATES.items()}
    figure, axes = plt.subplots(3, 2, figsize=(13, 10), layout="constrained")
    for axis, (name, path), color in zip(axes.flat, paths.items(), COLORS):
        draw_path(axis, f"{name}, lr {PATH_RATES[name]:g}", path, color)
    height_axis = axes.flat[len(paths)]  # the last panel: the height f(x, y) of every path after every step
    heights = {name: valley(path[:, 0], path[:, 1]) for name, path in paths.items()}
    for (name, height), color in zip(heights.items(), COLORS):
        height_axis.plot(height, "o-", color=color, markersize=3, label=name)
    every_height = np.concatenate(list(heights.values()))
    height_axis.set(xlabel="step", ylabel="f(x, y) (log scale)", yscale="log", title="Height after every step")
    visualize.set_readable_log_ticks(height_axis, every_height.min(), every_height.max())
    height_axis.grid(True, alpha=0.3)
    height_axis.legend(fontsize=9)
    figure.suptitle(f"{PATH_STEPS} steps of each optimizer down the valley f(x, y) = x\u00b2/20 + y\u00b2, from "
                    f"({START[0]:g}, {START[1]:g}) to the minimum at + (0, 0).\nThe gradient points to the steep "
                    "sides more than along the valley: which path goes where it should?")  # fmt: skip
    return figure


def draw_path(axis, label, path, color):
    """One optimizer's path over the contour lines of the valley (lines of equal height), and a line saying where
    it ended."""
    x, y = np.meshgrid(np.linspace(-8, 8, 200), np.linspace(-3, 3, 200))
    axis.contour(x, y, valley(x, y), levels=[0.1, 0.5, 1, 2, 3.5, 5, 7], colors="grey", linewidths=0.6)
    axis.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=3, linewidth=1.2)
    axis.plot(0, 0, "+", color="black", markersize=12)
    final = valley(*path[-1])
    axis.set(title=f"{label}: f = {final:.3g} after {PATH_STEPS} steps", xlabel="x", ylabel="y", xlim=(-8, 8),
             ylim=(-3, 3), aspect="equal")  # fmt: skip
    print(f"  {label:<26} after {PATH_STEPS} steps at (x, y) = ({path[-1, 0]:.2f}, {path[-1, 1]:.2f}), "
          f"f = {final:.3g}")  # fmt: skip


# ----- the command line ---------------------------------------------------------------------------------------


@dataclass
class Experiment:
    """One experiment of the command line: its function, its default size and what it compares."""

    compare: object  # the function that runs it and returns its figure
    images: int  # training images per run, at the default size (--images changes it)
    epochs: int  # epochs per run, at the default size (--epochs changes it)
    about: str  # what it compares, for --help


EXPERIMENTS = {
    "optimizers": Experiment(compare_optimizers, 10_000, 10, "sgd, momentum, nesterov, rmsprop and adam"),
    "learning-rates": Experiment(compare_learning_rates, 10_000, 5, "too small, about right, too large, blowing up"),
    "batch-sizes": Experiment(compare_batch_sizes, 10_000, 10, "accuracy against epochs, steps and seconds"),
    "initialization": Experiment(compare_initializations, 10_000, 5, "he, xavier, small, sigmoid: 5 hidden layers"),
    "overfitting": Experiment(compare_regularizations, 1_000, 50, "none, weight decay, dropout, augmentation"),
    "optimizer-paths": Experiment(compare_optimizer_paths, 0, 0, "the optimizers' paths down a narrow valley"),
}


def command_line_parser():
    """The options; --help lists the experiments with their default sizes."""
    listing = "\n".join(
        f"  {name:<17} {experiment.about}"
        + (f" ({experiment.images:,} images, {plural(experiment.epochs, 'epoch')})" if experiment.images else "")
        for name, experiment in EXPERIMENTS.items()
    )
    parser = argparse.ArgumentParser(
        prog="experiments.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one of the course's comparisons (a few short training runs) and draw it in one figure, "
        "results/NAME.png.",
        epilog=f"experiments (default size in brackets):\n{listing}\n  all               every one in turn\n\n"
        "--images and --epochs make every run smaller and quicker (or larger); optimizer-paths trains no network\n"
        "and ignores them. A quick look at everything: python experiments.py all --images 1000 --epochs 2",
    )
    parser.add_argument("experiment", choices=[*EXPERIMENTS, "all"], metavar="NAME",
                        help=f"the experiment: {', '.join(EXPERIMENTS)} or all")  # fmt: skip
    parser.add_argument("--images", type=whole_number_from(1), metavar="N",
                        help="training images per run (default: each experiment's own, listed below)")  # fmt: skip
    parser.add_argument("--epochs", type=whole_number_from(1, 10_000), metavar="N",
                        help="epochs per run (default: each experiment's own, listed below)")  # fmt: skip
    parser.add_argument("--validation-images", type=whole_number_from(1), default=VALIDATION_IMAGES, metavar="N",
                        help="the last training images of the file, never trained on, measured after every epoch "
                        "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=whole_number_from(0, 2**32 - 1), default=0, metavar="N",
                        help="random seed of every run: the same seed, the same figures (default: 0)")  # fmt: skip
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="where to save the figures (default: %(default)s)")
    parser.add_argument("--no-show", action="store_true", help="save the figures but open no window")
    return parser


def main(argv=None):
    """Check the options and the outputs, load the images, run the experiments one after the other, show them."""
    parser = command_line_parser()
    args = parser.parse_args(argv)
    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    paths = [Path(args.results_dir) / f"{name}.png" for name in names]
    for path in paths:  # checked before any work, so that no run ends by losing its figure
        problem = output_problem(path, "--results-dir", create_folders=True)
        if problem:
            parser.error(problem)
    data = load_data(args, parser) if any(EXPERIMENTS[name].images for name in names) else None
    for name, path in zip(names, paths):
        run_experiment(name, data, path, args)
    visualize.show_or_close(not args.no_show, paths[0] if len(paths) == 1 else None)  # with all: every figure


def load_data(args, parser):
    """(training images, training labels, validation images, validation labels, image shape): the training file
    of --data-dir, its last --validation-images images held out. A missing or damaged data folder, or too few
    images for the sizes asked for, ends the program with one error line naming the option."""
    try:
        images, labels = data_loader.load_split(args.data_dir, "train")  # never the test files
        image_shape = data_loader.read_image_shape(args.data_dir)
    except data_loader.DataError as error:
        parser.error(f"--data-dir {args.data_dir}: {error}")
    if args.validation_images >= len(images):
        parser.error(f"--validation-images {args.validation_images:,}: must be fewer than the {len(images):,} "
                     f"training images in '{args.data_dir}'")  # fmt: skip
    train_images, train_labels, val_images, val_labels = data_loader.split_validation(
        images, labels, args.validation_images
    )
    if args.images is not None and args.images > len(train_images):
        parser.error(f"--images {args.images:,}: there are only {len(train_images):,} training images besides the "
                     f"{args.validation_images:,} validation images")  # fmt: skip
    return train_images, train_labels, val_images, val_labels, image_shape


def run_experiment(name, data, path, args):
    """Run one experiment at its size, save its figure at `path`, and say how long it took."""
    experiment, started = EXPERIMENTS[name], time.perf_counter()
    if experiment.images:
        train_images, train_labels, val_images, val_labels, image_shape = data
        count = min(args.images or experiment.images, len(train_images))
        setup = Setup(train_images[:count], train_labels[:count], val_images, val_labels, image_shape,
                      args.epochs or experiment.epochs, args.seed)  # fmt: skip
        print(f"{name}: {experiment.about}; {count:,} training images, {plural(setup.epochs, 'epoch')} per run, "
              f"validated on {len(val_images):,} images", flush=True)  # fmt: skip
        figure = experiment.compare(setup)
    else:
        print(f"{name}: {experiment.about}", flush=True)
        figure = experiment.compare()
    try:
        visualize.save_figure(figure, path)
    except OSError as error:
        sys.exit(f"error: could not save the figure in '{args.results_dir}' ({error.strerror or error})")
    print(f"{name} took {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    support.startup.run(main)
