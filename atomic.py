"""Write files atomically: all of the new content, or the old file untouched, never half of each.

Writing straight into `model_weights.npz` and being interrupted (Ctrl-C, a full disk, a crash) would leave a
broken file where a good one used to be. Instead we write into a temporary file next to it and rename that
over the old one when it is complete: on every common operating system a rename replaces a file in one step.
"""

import os
import shutil
import tempfile
from pathlib import Path


def write_atomically(path, write):
    """Call write(file) on a new temporary file in the folder of `path`, then rename it to `path`.

    If `write` fails, the temporary file is removed and `path` keeps its old content.
    """
    path = Path(path)
    handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temporary_file:
            write(temporary_file)
            temporary_file.flush()
            os.fsync(temporary_file.fileno())
        # mkstemp creates a file only its owner may read; give the new file the old one's permissions,
        # or those of any file newly created here
        if path.exists():
            shutil.copymode(path, temporary_name)
        else:
            os.chmod(temporary_name, 0o666 & ~current_umask())
        os.replace(temporary_name, path)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    return path


def current_umask():
    """The permission bits new files do not get (reading it means setting it, so we set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
