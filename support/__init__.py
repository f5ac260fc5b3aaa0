"""The code that is not the lesson: it keeps the programs friendly and your files safe.

    startup.py        every program starts with it: clear messages for missing packages, Ctrl-C, closed pipes
    command_line.py   the constants at the top of train.py (and tune.py) become checked command-line flags
    diagnosis.py      when training fails: what the evidence points to, and what to change
    progress.py       the lines a run prints: epochs, a progress bar on a terminal, summaries
    files.py          reading only regular files, writing files atomically, checking outputs before the work
    model_files.py    weights files: saving a model, and loading one without trusting the file

A first reading of the project can skip this folder: the lesson is in the files at the top level.
"""
