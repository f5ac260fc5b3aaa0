"""Files read and written safely: only regular files, never half a file, never a file that is not ours.

Reading: `open_regular` opens a path only if it is a regular file. A named pipe would block the program until
someone writes into it, and a device such as /dev/zero never ends; both are refused at once, by name.

Writing: `write_atomically` writes a new version into a temporary file beside the old one and renames it over
the old one. A rename replaces a file in one step, so the path always holds either the old content or all
of the new, whatever happens in between (Ctrl-C, a full disk, a crash).

Checking first: `output_problem` and `folder_problem` say, before any work is done, why an output could not
be written, so that a long run never ends by losing what it made.
"""

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path


class NotAFileError(OSError):
    """The path is a folder, a named pipe, a device or a socket: not a file to read or to replace."""

    def __init__(self, path, mode):
        self.kind = what_it_is(mode)  # 'a named pipe', ...
        super().__init__(errno.EINVAL, f"it is {self.kind}, not a file", str(path))


def what_it_is(mode):
    """'a folder', 'a named pipe', ... for the st_mode of something that is not a regular file."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path):
    """`path` opened for reading bytes, if it is a regular file (a symbolic link is followed); else NotAFileError.

    The file is opened without waiting (O_NONBLOCK), so that a named pipe cannot block the program; then its
    kind is read from the open file itself, so that nothing can swap the file between the check and the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_start(path, size):
    """The first `size` bytes of the regular file `path` (fewer if it is shorter)."""
    with open_regular(path) as file:
        return file.read(size)


def resolved(path):
    """`path` with its symbolic links followed; OSError (ELOOP) for a link that loops."""
    try:
        target = Path(path).resolve()
    except RuntimeError:  # Python 3.12 and older say "Symlink loop" this way
        target = None
    if target is None or target.is_symlink():  # Python 3.13 hands back the link that loops, unresolved
        raise OSError(errno.ELOOP, "it is a symbolic link that loops", str(path))
    return target


def write_atomically(path, write):
    """Call write(file) on a new temporary file in the folder of `path`, then rename it to `path`.

    A symbolic link is followed: its target is updated and the link stays. A read-only file is not replaced
    (PermissionError), nor anything that is not a regular file (NotAFileError). If anything goes wrong, or
    Ctrl-C or SIGTERM arrives, the temporary file is removed and `path` keeps its old content.
    """
    path = resolved(path) if Path(path).is_symlink() else Path(path)
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, mode)
        if not mode & stat.S_IWUSR:
            raise PermissionError(errno.EACCES, "the file is read-only", str(path))
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


# ----- checks before the work: every output a program will write ------------------------------------------


def output_problem(path, flag, is_ours=None, create_folders=False):
    """Why the file `path` (given by the option `flag`) could not be written or should not be replaced; None if
    it can. is_ours(path) says whether an existing file may be replaced; create_folders, whether missing folders
    on the way will be made."""
    try:
        target = resolved(path)
        if target.exists():
            mode = target.stat().st_mode
            if stat.S_ISDIR(mode):
                return f"{flag}: '{path}' is a folder; give a file name"
            if not stat.S_ISREG(mode):
                return f"{flag}: '{path}' is {what_it_is(mode)}, not a file; give the name of a file"
            if is_ours is not None and not is_ours(target):
                return (f"{flag}: '{path}' exists and is not a file this program wrote; choose another name, "
                        "so that it is not replaced")  # fmt: skip
            if not mode & stat.S_IWUSR:
                return f"{flag}: '{path}' is read-only; choose another name"
        if not create_folders and not target.parent.is_dir():
            return f"{flag}: the folder of '{path}' does not exist"
        return folder_problem(target.parent, flag)
    except OSError as error:
        return f"{flag}: cannot use '{path}' ({error.strerror or error})"


def folder_problem(folder, flag):
    """Why files could not be written into `folder` (made if it is missing); None if they can.

    The nearest folder that exists must be a folder, and a file must be creatable in it: that is tried, with a
    temporary file that is removed at once, because permission bits do not tell the whole story (a read-only
    disk, or another user's folder).
    """
    folder = Path(folder)
    try:
        existing = next(candidate for candidate in [folder, *folder.parents] if os.path.lexists(candidate))
        if not existing.is_dir():
            return f"{flag}: '{existing}' is a file, not a folder"
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except StopIteration:
        return None  # a relative path whose parents are all missing: the current folder is checked by its use
    except OSError as error:
        return f"{flag}: cannot write in the folder '{existing}' ({error.strerror or error})"
    return None


def interrupted_path(path):
    """Where an interrupted run keeps its model: model_weights.npz -> model_weights.interrupted.npz."""
    path = Path(path)
    return path.with_name(f"{path.stem}.interrupted{path.suffix}")
