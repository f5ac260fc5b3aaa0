"""When training fails: stop early, and say what this run's evidence points to and what to change.

Two failures are told apart. The loss blows up (NaN, inf, or far beyond the ln(10) = 2.3 of a network that
guesses uniformly): the steps were too large. Or the accuracy stays at chance: the network is not learning,
which has many possible causes, and the advice lists those that this run's settings show.
"""

import math

from support.progress import plural

# The learning rate each optimizer usually starts from: 0.1 for the SGD family, 0.001 for the adaptive ones.
STARTING_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 0.001, "adam": 0.001}
STEPS_BEFORE_JUDGING = 100  # a network needs some steps to start learning: judged after this many


class TrainingFailedError(Exception):
    """Training diverged or the network is not learning; the message says what to change."""


class DivergedError(TrainingFailedError):
    """The loss became NaN or inf, or exploded: the steps were too large."""


class NotLearningError(TrainingFailedError):
    """The accuracy stayed at chance."""


def check_still_learning(history, num_classes, num_images, args):
    """Raise DivergedError or NotLearningError when training has clearly failed; the last epoch is history[-1]."""
    record = history[-1]
    if record["train_loss"] > 10 * math.log(num_classes):
        raise DivergedError(divergence_advice(f"the loss exploded to {record['train_loss']:.3g}", args))
    steps_done = sum(epoch_record["steps"] for epoch_record in history)
    at_chance = record["train_accuracy"] < 1.5 / num_classes
    if at_chance and (steps_done >= STEPS_BEFORE_JUDGING or record["epoch"] == args.epochs):
        raise NotLearningError(not_learning_advice(record, steps_done, num_images, args))


def divergence_advice(what_happened, args):
    """The loss blew up: the steps were too large. Which setting made them so, and what to try."""
    usual = STARTING_LEARNING_RATES[args.optimizer]
    if args.dropout >= 0.9:
        causes = [f"--dropout {args.dropout:g} keeps almost no unit and multiplies the few it keeps by "
                  f"{1 / (1 - args.dropout):,.0f}: try --dropout 0.5 or less"]  # fmt: skip
    elif args.learning_rate * args.l2 >= 1:
        causes = [f"--l2 {args.l2:g} with --learning-rate {args.learning_rate:g} makes weight decay alone "
                  "overshoot zero at every step (keep their product well below 1): try --l2 0.0001"]  # fmt: skip
    elif args.learning_rate > usual * 3:
        causes = [f"--learning-rate {args.learning_rate:g} is far above the {usual:g} that works with "
                  f"--optimizer {args.optimizer}: try --learning-rate {usual:g}"]  # fmt: skip
    else:
        causes = [f"try a smaller --learning-rate, such as {args.learning_rate / 10:g}"]
    if args.clip_norm == 0 or args.clip_norm > 5:
        causes.append("or limit each step with --clip-norm 5")
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
                      f"--optimizer {args.optimizer}; the hidden units have probably died: try {usual:g}")  # fmt: skip
    if args.warmup_epochs > args.epochs / 2:
        causes.append(f"--warmup-epochs {args.warmup_epochs:g} keeps the learning rate small for most of the run")
    # a healthy run's gradients are 0.3 to 1.8 long (the first 200 steps of the default run, seed 0): a
    # --clip-norm below that shortens every step, while one above it only catches the blown-up ones
    if 0 < args.clip_norm < 0.3 and record["clipped"] > record["steps"] / 2:
        causes.append(f"--clip-norm {args.clip_norm:g} shortened most steps to almost nothing: try --clip-norm 5")
    if args.l2 * args.learning_rate > 0.001:
        causes.append(f"--l2 {args.l2:g} (weight decay) pulls the weights to 0 faster than the data moves them: "
                      "try --l2 0")  # fmt: skip
    if args.dropout >= 0.9:
        causes.append(f"--dropout {args.dropout:g} switches off almost every unit: try --dropout 0.5 or less")
    if args.augment in ("shift", "affine") and args.max_shift >= 7:
        causes.append(f"--max-shift {args.max_shift} pushes the digits out of the frame: try --max-shift 1")
    if num_images < 100:
        causes.append(f"{plural(num_images, 'training image')} are too few to learn from: use more (a smaller "
                      "--validation-size keeps more of them for training)")  # fmt: skip
    if steps_done < STEPS_BEFORE_JUDGING:
        causes.append(f"this run ended after only {plural(steps_done, 'gradient step')}, which may be too few to "
                      "start learning: use more epochs or a smaller --batch-size")  # fmt: skip
    if not causes:
        causes.append("check the data (--data-dir) and the options of this run against the defaults in train.py")
    return (f"the network is not learning: its training accuracy is {100 * record['train_accuracy']:.1f}% after "
            f"{plural(record['epoch'], 'epoch')}, no better than guessing. Likely: {'; '.join(causes)}. "
            + unchanged(args))  # fmt: skip


def unchanged(args):
    return f"'{args.weights}' was not changed." if hasattr(args, "weights") else ""
