"""What every program of this project does first and last, so that its surroundings never show a traceback.

Imported first, before NumPy: if a package is missing, one line says which command makes it available (most
often: the virtual environment is not active). While the modules load, Ctrl-C ends the program with one line.
Then `run(main)` runs the program: Ctrl-C or SIGTERM become KeyboardInterrupt, which the programs answer by
keeping what they finished (exit status 130 for Ctrl-C, 143 for SIGTERM); output into a closed pipe (`| head`)
ends the program quietly; and names that the terminal cannot show are printed escaped, not refused.
"""

import contextlib
import importlib.util
import os
import signal
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
REQUIRED = {"numpy": "NumPy", "matplotlib": "matplotlib", "PIL": "Pillow"}  # module: package


def missing_packages_message(missing):
    """One line: what is missing, and the command that makes it available here."""
    names = " and ".join(missing)
    environment = PROJECT / ".venv"
    inside = Path(sys.prefix).resolve() == environment.resolve()
    if environment.is_dir() and not inside:
        activate = r".venv\Scripts\activate" if os.name == "nt" else "source .venv/bin/activate"
        return (f"error: {names} not found: the project's virtual environment is not active. Activate it "
                f"({activate}, in the folder {PROJECT}), then run the command again")  # fmt: skip
    return (
        f"error: {names} not found for this Python. Install the requirements: python -m pip install -r requirements.txt"
    )


def interrupted_while_starting(signal_number, frame):
    sys.stderr.write("\nInterrupted (Ctrl-C).\n")
    os._exit(130)


def running_as_a_program():
    """True when the program started is one of this project's files (not a test run that imports them)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return main is not None and PROJECT in Path(main).resolve().parents


if running_as_a_program():
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with Ctrl-C ignored
        signal.signal(signal.SIGINT, interrupted_while_starting)
    missing = [package for module, package in REQUIRED.items() if importlib.util.find_spec(module) is None]
    if missing:
        sys.exit(missing_packages_message(missing))


class Terminated(KeyboardInterrupt):
    """SIGTERM, the polite request to stop (from `kill`, or a system shutting down): handled like Ctrl-C."""


def terminate(signal_number, frame):
    raise Terminated


def name_of(interruption):
    """'Ctrl-C' or 'SIGTERM': what asked the program to stop."""
    return "SIGTERM" if isinstance(interruption, Terminated) else "Ctrl-C"


def run(main):
    """Run a program's `main()`, ending it cleanly whatever its surroundings do."""
    if signal.getsignal(signal.SIGINT) is interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from now on, Ctrl-C raises KeyboardInterrupt
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, terminate)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # a name the terminal cannot show is printed escaped
    try:
        main()
    except Terminated:
        print_quietly("\nTerminated.")
        sys.exit(143)
    except KeyboardInterrupt:
        print_quietly("\nInterrupted (Ctrl-C).")
        sys.exit(130)
    except BrokenPipeError:  # the reader of our output has gone (python train.py | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout on exit: let that go nowhere
        sys.exit(1)


def print_quietly(line):
    """Print to stderr, unless stderr is gone too."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr)
