"""One way to say "this folder is not writable: set X": every place the helpers write goes through it.

``with writing_in(folder, "BACKPROP_LAB_RESULTS", "the predictions"):`` turns an ``OSError`` that means
the folder cannot be written (no permission, a read-only file system, a file where a folder should be)
into a :class:`NotWritableError` naming the folder, the file and the setting that moves the writes
elsewhere. Other errors (a full disk, say) pass through unchanged.
"""
from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path

# what a read-only folder, a read-only mount or a file in place of a folder raise
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}


class NotWritableError(PermissionError):
    """A folder the helpers must write in is not writable; the message names the setting that fixes it.

    A ``PermissionError`` (whatever the underlying errno) so that code catching that still catches it.
    """

    def __str__(self) -> str:
        return self.strerror


def not_writable_message(folder: Path, setting: str, what: str, error: OSError, fix: str | None = None) -> str:
    """The message: what could not be written where, why, and the fix (default: set ``$setting``)."""
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else ""
    fix = fix or f"set ${setting} to a writable folder"
    return (f"cannot write {what} in {folder}: {error.strerror or error}{where}. "
            f"Make that folder writable, or {fix}")


@contextmanager
def writing_in(folder: Path, setting: str, what: str, fix: str | None = None):
    """Run the block; an ``OSError`` that means ``folder`` is not writable becomes a :class:`NotWritableError`
    naming ``folder`` and ``$setting`` (``fix`` replaces the default advice "set $setting to a writable folder")."""
    try:
        yield
    except NotWritableError:
        raise
    except OSError as error:
        if error.errno not in NOT_WRITABLE:
            raise
        raise NotWritableError(error.errno, not_writable_message(Path(folder), setting, what, error, fix),
                               error.filename) from error
