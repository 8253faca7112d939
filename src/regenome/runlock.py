"""One run per output folder: a lock file holding the owner's pid and host.

``regenome screen`` takes the lock before it writes anything into the folder and removes it
when it ends, whether it finished or failed. A process killed with ``kill -9`` leaves its lock
behind; the next run on the same host sees that the pid is gone and takes the lock over. A
lock from another host cannot be checked and is refused with a message saying how to clear it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from regenome.errors import RegenomeError

LOCK_FILE = ".regenome.lock"


class FolderInUseError(RegenomeError):
    """Another live regenome process holds the output folder."""


def process_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def read_lock(folder: Path) -> dict | None:
    """The lock's content (``pid``, ``host``, ``started``), ``{}`` if unreadable, None if absent."""
    path = Path(folder) / LOCK_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def lock_is_stale(holder: dict) -> bool:
    """True when the lock belongs to a process on this host that no longer runs."""
    return holder.get("host") == platform.node() and not process_alive(int(holder.get("pid", -1)))


def _age_s(path: Path) -> float:
    try:
        return datetime.now().timestamp() - path.stat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def folder_lock(folder: Path):
    """Hold ``folder``'s lock for the ``with`` block; yields the stale lock taken over, or None.

    Raises
    ------
    FolderInUseError
        When a live process (or a process on another host) holds the lock.
    """
    folder = Path(folder)
    path = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": platform.node(),
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    taken_over = None
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(folder)
            if holder is None:
                continue  # released between our two calls
            if (holder and not lock_is_stale(holder)) or (not holder and _age_s(path) < 10):
                raise FolderInUseError(
                    f"{folder}: in use by regenome pid {holder.get('pid')} on {holder.get('host')} since "
                    f"{holder.get('started')}; wait for it, or if that process is gone delete {path}") from None
            taken_over = holder or {"pid": None}
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        break
    else:
        raise FolderInUseError(f"{folder}: another process took the lock {path} at the same time; try again")
    try:
        yield taken_over
    finally:
        if read_lock(folder) == me:
            path.unlink(missing_ok=True)
