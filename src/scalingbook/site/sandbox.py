"""A container for code we do not trust: students' notebooks, run by ``scalingbook grade``.

The grader (root, on Linux) starts a worker process that confines itself before it runs anything
of the student's: a network namespace with nothing but a loopback (the kernel talks to the worker
over Unix sockets), its own System V IPC, a private mount namespace in which ``/tmp``, ``/var/tmp``, ``/dev/shm`` and
``/run/lock`` are fresh size-limited tmpfs (the working folder lives there and vanishes with the
run), then resource limits, then the identity of :data:`SANDBOX_UID`, an account nobody else uses,
with no groups and no way back to privilege. File permissions then keep the student away from the
checkout, the results store, the reference answers (a 0700 folder) and the reports, all root's.
After a run the grader kills every process of that uid, so nothing outlives the time limit, not even
a child that left the kernel's session.

Folders the uid may not enter (a Python under a private ``/root``) but the run needs are reached
through a tmpfs laid over them that holds only the way through, in the worker's namespace only.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import resource
import signal
import stat
import sys
import time
from pathlib import Path
from typing import BinaryIO

SANDBOX_UID = 65533  # no account may use it: every process of this uid is killed after each run
WORK = Path("/tmp/work")  # the run's working folder, inside its private /tmp
PRIVATE = {"/tmp": "1g", "/var/tmp": "64m", "/dev/shm": "64m", "/run/lock": "1m"}
MAX_PROCESSES = 1024  # threads count too; a fork bomb stops here
ENV_KEPT = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TZ")

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWNET = 0x00020000, 0x08000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
_PR_SET_NO_NEW_PRIVS = 38


class SandboxError(RuntimeError):
    """This machine cannot contain a student's code the way the grader requires."""


def check() -> None:
    """Refuse early, with the reason, where the sandbox cannot be built."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise SandboxError(
            "grading runs each notebook as an unprivileged user in a private mount namespace, "
            "which needs root on Linux (run `sudo scalingbook grade ...`, or grade in a Linux VM)"
        )
    try:
        owner = pwd.getpwuid(SANDBOX_UID).pw_name
    except KeyError:
        return
    raise SandboxError(f"uid {SANDBOX_UID} belongs to {owner!r}; the grader kills every process of that uid")


def environment() -> dict[str, str]:
    """The worker's environment: no secrets of the grader's, every home and cache in the working folder."""
    env = {name: os.environ[name] for name in ENV_KEPT if name in os.environ}
    env.update({name: value for name, value in os.environ.items() if name.startswith("SCALINGBOOK_")})
    home = str(WORK)
    env.update(
        HOME=home,
        TMPDIR="/tmp",
        MPLCONFIGDIR=f"{home}/.matplotlib",
        XDG_CACHE_HOME=f"{home}/.cache",
        XDG_CONFIG_HOME=f"{home}/.config",
        IPYTHONDIR=f"{home}/.ipython",
        JUPYTER_RUNTIME_DIR=f"{home}/.runtime",
        JUPYTER_CONFIG_DIR=f"{home}/.jupyter",
        JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
    )
    return env


def _libc_call(name: str, *args) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}{args}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def c(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _libc_call("mount", c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data))


def _may_enter(folder: Path) -> bool:
    """Whether the sandbox uid (whose only group is its own number) may pass through ``folder``."""
    st = folder.stat()
    bit = stat.S_IXUSR if st.st_uid == SANDBOX_UID else stat.S_IXGRP if st.st_gid == SANDBOX_UID else stat.S_IXOTH
    return bool(st.st_mode & bit)


def _covers(reachable: list[Path]) -> dict[Path, set[str]]:
    """Folders to lay a tmpfs over, each with the entries that must stay visible in it."""
    covers: dict[Path, set[str]] = {Path(folder): set() for folder in PRIVATE if Path(folder).is_dir()}
    for path in reachable:
        for depth in range(1, len(path.parts)):
            parent, child = Path(*path.parts[:depth]), path.parts[depth]
            if parent in covers or not _may_enter(parent):
                covers.setdefault(parent, set()).add(child)
    return covers


def confine(reachable: list[Path], memory: int, file_size: int) -> None:
    """Turn the calling process (root) into the sandbox; it cannot be undone.

    ``reachable`` are folders the run reads (the interpreter, packages, stored results);
    ``memory`` caps each process's data memory (RLIMIT_DATA: its heap and private writable mappings, not
    the address space, which V8 in vl-convert reserves by gigabytes without using) and ``file_size``
    every file it writes, in bytes.
    """
    _libc_call("unshare", _CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWNET)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    reachable = [path.resolve() for path in reachable if path.exists()]
    for folder, keep in sorted(_covers(reachable).items(), key=lambda item: len(item[0].parts)):
        kept = {name: os.open(folder / name, os.O_PATH) for name in keep}
        size = PRIVATE.get(str(folder), "1m")
        mode = "1777" if str(folder) in PRIVATE else "0711"
        _mount("tmpfs", str(folder), "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode={mode},size={size}")
        for name, fd in kept.items():
            target = folder / name
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                target.mkdir()
            else:
                target.touch()
            _mount(f"/proc/self/fd/{fd}", str(target), None, _MS_BIND | _MS_REC)
            os.close(fd)
    WORK.mkdir(mode=0o700)
    os.chown(WORK, SANDBOX_UID, SANDBOX_UID)
    for limit, value in (
        (resource.RLIMIT_DATA, memory),
        (resource.RLIMIT_FSIZE, file_size),
        (resource.RLIMIT_NPROC, MAX_PROCESSES),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    os.setgroups([])
    os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    _libc_call("prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.chdir(WORK)


def processes() -> list[int]:
    """The live processes of the sandbox uid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == SANDBOX_UID and not fields["State"].strip().startswith("Z"):
            found.append(int(entry.name))
    return found


def kill_all(patience: float = 10.0) -> int:
    """Kill every process of the sandbox uid, wherever its session; returns how many there were.

    A child of the grader takes the uid and calls ``kill(-1, SIGKILL)``, which reaches exactly the
    processes that uid may signal: its own, and no one else's.
    """
    alive = processes()
    count = len(alive)
    deadline = time.monotonic() + patience
    while alive and time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:
            try:
                os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.05)
        alive = processes()
    if alive:
        raise SandboxError(f"processes {alive} of uid {SANDBOX_UID} survived SIGKILL")
    return count


def read_capped(file: BinaryIO, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of ``file`` from its start, and whether there was more."""
    file.seek(0)
    data = file.read(limit + 1)
    return data[:limit], len(data) > limit
