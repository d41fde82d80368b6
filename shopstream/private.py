"""Local secrets on disk: the state directory is 0700, secret files are 0600 from the first byte.

Creating a file and ``chmod``-ing it afterwards leaves a window in which it has the umask's mode
(often 0644: readable by every local user). Here the mode is part of the ``open(2)`` call
(``O_CREAT | O_EXCL`` with 0600, then ``fchmod`` to exactly 0600 whatever the umask), the file
is written under a temporary name in the same directory and renamed into place, so the final
name never points at a partial or wider file. ``tests/test_private_files.py`` checks it under a
umask of 000.

Processes that create secrets themselves (Airflow's generated admin password) are started with
:data:`PRIVATE_UMASK`, so whatever they create is at most 0600 / 0700.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; tighten it if it exists wider.

    The one exception :func:`allow_traverse` makes stays: search (x) for a group that is not the
    owner's own, given to an engine that runs as another OS user.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    keep = 0o010 if mode & 0o010 and st.st_gid != _primary_gid(st.st_uid) else 0
    wanted = (mode & 0o700) | DIR_MODE | keep
    if mode != wanted:
        path.chmod(wanted)
    return path


def _primary_gid(uid: int) -> int | None:
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return None


def allow_traverse(path: Path, user: str) -> None:
    """Let OS user ``user`` pass through ``path`` (search only, no listing): owner rwx, its group
    x, others nothing (0710, group = the user's primary group). Needed when PostgreSQL runs as
    ``postgres`` below a state directory owned by root."""
    gid = pwd.getpwnam(user).pw_gid
    os.chown(path, -1, gid)
    path.chmod(0o710)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the moment the file exists; atomic."""
    if not path.parent.exists():
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
