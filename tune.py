"""Tune the learning rate, hidden size and batch size the right way: on the validation set.

    python tune.py                    # the grid below: 27 short trials, a few minutes on 2 cores
    python tune.py --trials 20        # random search: 20 settings drawn from the ranges below
    python tune.py --learning-rates 0.05,0.1 --hidden-sizes 256 --batch-sizes 128 --epochs 3

Why not simply keep the setting with the best test accuracy? Because then the test set has helped to choose
the model, and its accuracy no longer tells how the model does on digits it has never seen: it is flattered
by the choice. So every trial here trains on the training images and is scored on the validation images,
and this script never reads the test files. Train the winner with the command it prints; that run looks at
the test set once, at the very end.

Each trial is a short run of train.py's own training loop (everything not searched here, such as momentum,
the schedule and augmentation, comes from the constants at the top of train.py).
"""

import argparse
import csv
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

import data_loader
import train
import visualize
from model_files import write_atomically

# -----------------------------------------------------------------------------------------------------
# The search space. Change it here, or for one search on the command line: python tune.py --epochs 3
# As in train.py, each line is also a flag (--learning-rates for learning_rates), a list comma-separated.
learning_rates = [0.03, 0.1, 0.3]  # peak learning rates to try
hidden_sizes = [128, 256, 512]  # hidden-layer sizes to try
batch_sizes = [64, 128, 256]  # mini-batch sizes to try
epochs = 6  # epochs per trial: enough to rank the settings, not to reach the final accuracy
trials = 0  # 0 tries every combination (grid search); N > 0 draws N random settings (random search)
seed = 0  # the same seed for every trial, so that only the hyperparameters differ
data_dir = "data"  # folder with the MNIST files (only the training files are read)
validation_size = 10000  # training images held out to score the trials
results_dir = "results"  # where tuning.csv and tuning.png go
# -----------------------------------------------------------------------------------------------------

RULES = {  # what each may be, as in train.py
    "learning_rates": (lambda rate: rate > 0, "must all be greater than 0"),
    "hidden_sizes": train.RULES["hidden_sizes"],
    "batch_sizes": (lambda size: size >= 1, "must all be at least 1"),
    "epochs": (lambda count: count >= 1, "must be at least 1"),
    "trials": (lambda count: count >= 0, "must not be negative"),
    "seed": (lambda number: number >= 0, "must not be negative"),
    "validation_size": (lambda count: count >= 1, "must be at least 1: the trials are scored on it"),
}
TABLE_COLUMNS = ["rank", "learning_rate", "hidden_size", "batch_size", "val_accuracy", "train_loss", "seconds",
                 "status"]  # fmt: skip


def parse_arguments(argv=None):
    constants = train.read_constants(__file__, globals())
    parser = argparse.ArgumentParser(description="Search hyperparameters on the validation set.")
    train.add_flags(parser, constants, RULES)
    parser.add_argument("--no-show", action="store_true", help="save the figure but open no window")
    args = parser.parse_args(argv)
    problems = [train.rule_problem(name, getattr(args, name), RULES) for name in constants]
    problem = next((message for message in problems if message), None) or visualize.results_dir_problem(
        args.results_dir
    )
    if problem:
        parser.error(problem)
    return args


def settings_to_try(args):
    """The grid of every combination, or, with --trials N, N random settings.

    Random search draws the learning rate log-uniformly between the smallest and the largest given (so
    0.01-0.1 is as likely as 0.1-1), and the hidden and batch sizes from their lists.
    """
    if args.trials == 0:
        return [(rate, hidden, batch) for rate in args.learning_rates for hidden in args.hidden_sizes
                for batch in args.batch_sizes]  # fmt: skip
    rng = np.random.default_rng(args.seed)
    low, high = math.log(min(args.learning_rates)), math.log(max(args.learning_rates))
    return [
        (float(f"{math.exp(rng.uniform(low, high)):.3g}"), int(rng.choice(args.hidden_sizes)),
         int(rng.choice(args.batch_sizes)))
        for _ in range(args.trials)
    ]  # fmt: skip


def run_trial(setting, data, image_shape, args):
    """Train one setting with train.py's loop; its result: validation accuracy, final training loss, time."""
    learning_rate, hidden_size, batch_size = setting
    trial_args = train.default_settings(
        learning_rate=learning_rate,
        hidden_sizes=[hidden_size],
        batch_size=batch_size,
        epochs=args.epochs,
        seed=args.seed,
        validation_size=args.validation_size,
    )
    try:
        network, optimizer = train.build_model(trial_args, image_shape)
    except ValueError as error:  # a network too large, or shifts too large for these images
        sys.exit(f"error: {error}")
    result = {"learning_rate": learning_rate, "hidden_size": hidden_size, "batch_size": batch_size,
              "val_accuracy": math.nan, "train_loss": math.nan, "status": "ok"}  # fmt: skip
    started = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            history, interrupted = train.train(network, optimizer, *data, trial_args, log=lambda line: None)
    except train.DivergedError:
        history, interrupted, result["status"] = [], False, "diverged"
    except train.NotLearningError:
        history, interrupted, result["status"] = [], False, "not learning"
    result["seconds"] = time.perf_counter() - started
    if history:
        result["val_accuracy"], result["train_loss"] = history[-1]["val_accuracy"], history[-1]["train_loss"]
    if interrupted:
        result["status"] = "interrupted"
    return result


def format_trial(number, total, result):
    """The progress line of one trial."""
    setting = (f"lr {result['learning_rate']:<7g} hidden {result['hidden_size']:<5} "
               f"batch {result['batch_size']:<4}")  # fmt: skip
    if result["status"] == "ok":
        outcome = f"val {100 * result['val_accuracy']:6.2f}%  loss {result['train_loss']:.4f}"
    else:
        outcome = f"{result['status']:<25}"
    return f"trial {number:>{len(str(total))}}/{total}  {setting}  {outcome}  {result['seconds']:.1f}s"


def estimated_total_seconds(first_result, settings):
    """A rough estimate of the whole search: the first trial's time, once per setting.

    Bigger layers take longer, but much of a trial's time (augmentation, evaluation) does not depend on the
    hidden size; on the default grid this guess came within a fifth of the measured total.
    """
    return first_result["seconds"] * len(settings)


def ranked(results):
    """Finished trials best first by validation accuracy, then the failed ones; each with its rank."""
    finished = sorted((r for r in results if r["status"] == "ok"), key=lambda r: -r["val_accuracy"])
    failed = [r for r in results if r["status"] != "ok"]
    return [{**result, "rank": rank} for rank, result in enumerate(finished, start=1)] + [
        {**result, "rank": "-"} for result in failed
    ]


def format_table(rows):
    lines = ["rank  learning rate  hidden  batch  val accuracy  train loss  seconds"]
    for row in rows:
        accuracy = f"{100 * row['val_accuracy']:11.2f}%" if row["status"] == "ok" else f"{row['status']:>12}"
        loss = f"{row['train_loss']:10.4f}" if row["status"] == "ok" else f"{'-':>10}"
        lines.append(f"{row['rank']:>4}  {row['learning_rate']:>13g}  {row['hidden_size']:>6}  {row['batch_size']:>5}"
                     f"  {accuracy}  {loss}  {row['seconds']:7.1f}")  # fmt: skip
    return "\n".join(lines)


def paste_instructions(best, args):
    """The winning setting as lines for the top of train.py and as a command."""
    return "\n".join([
        f"Best setting: validation accuracy {100 * best['val_accuracy']:.2f}% after "
        f"{train.plural(args.epochs, 'epoch')}.",
        "Paste at the top of train.py:",
        f"    hidden_sizes = [{best['hidden_size']}]",
        f"    learning_rate = {best['learning_rate']:g}",
        f"    batch_size = {best['batch_size']}",
        "or run:",
        f"    python train.py --learning-rate {best['learning_rate']:g} --hidden-size {best['hidden_size']} "
        f"--batch-size {best['batch_size']}",
    ])  # fmt: skip


def save_csv(rows, path):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=TABLE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda file: file.write(text.getvalue().encode()))
    print(f"Saved table: {path}")


def main(argv=None):
    args = parse_arguments(argv)
    try:
        search(args)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted (Ctrl-C).\n")
        sys.exit(130)


def search(args):
    """Load the training data, run every trial, then rank, save and draw the results."""
    try:
        data = data_loader.load_training_data(args.data_dir, args.validation_size)  # never the test files
        image_shape = data_loader.read_image_shape(args.data_dir)
    except data_loader.DataError as error:
        sys.exit(f"error: {error}")
    settings = settings_to_try(args)
    kind = "random search" if args.trials else "grid search"
    print(f"Tuning: {kind} of {train.plural(len(settings), 'setting')}, {train.plural(args.epochs, 'epoch')} "
          f"each, scored on {len(data[2]):,} validation images")  # fmt: skip

    results = []
    try:
        for number, setting in enumerate(settings, start=1):
            result = run_trial(setting, data, image_shape, args)
            if result["status"] == "interrupted":
                raise KeyboardInterrupt
            results.append(result)
            print(format_trial(number, len(settings), result), flush=True)
            if number == 1 and len(settings) > 1:
                estimate = estimated_total_seconds(result, settings)
                print(f"Estimated total time: about {estimate / 60:.1f} minutes ({estimate:.0f} seconds)")
    except KeyboardInterrupt:
        print(f"Search interrupted (Ctrl-C) after {train.plural(len(results), 'complete trial')}; ranking those.")

    if not results:  # only Ctrl-C ends a search before its first trial ends: a failed trial is a result too
        print("No trial finished: tuning.csv and tuning.png were not changed.", file=sys.stderr)
        sys.exit(130)
    rows = ranked(results)
    print(format_table(rows))
    print(paste_instructions(rows[0], args) if rows[0]["status"] == "ok" else failure_advice(results))
    results_dir = Path(args.results_dir)
    try:
        save_csv(rows, results_dir / "tuning.csv")
        visualize.plot_tuning_results(results, results_dir / "tuning.png")
    except OSError as error:
        sys.exit(f"error: could not save the results in '{results_dir}' ({error.strerror or error})")
    visualize.show_or_close(not args.no_show, results_dir / "tuning.png")


def failure_advice(results):
    """Every trial failed: what their failures say about the learning rates to try."""
    statuses = {result["status"] for result in results}
    if statuses == {"diverged"}:
        return "Every trial diverged: the learning rates were too large; try smaller ones."
    if statuses == {"not learning"}:
        return "No trial learned: the learning rates were too small, or the trials too short; try larger ones."
    return "Every trial failed: the small learning rates did not learn and the large ones diverged."


if __name__ == "__main__":
    main()
