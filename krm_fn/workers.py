"""Part of a job done by a second process, where the machine has a CPU to spare.

Reading a large ResourceList is the function's longest step, and kpt,
kustomize and Argo CD wait, idle, while the function runs.  With two CPUs
free, :mod:`krm_fn.fastio` reads the second half of the items in a forked
copy of the process while the first reads the first half; the second sends
back what it read (plain data: the few fields the pipeline uses of most
items) through a pipe.

*Decision:* a second process only when all of these hold, one process
otherwise, with the same result:

* the function runs as the command (not inside another program: forking
  a caller's process is not ours to do), on a system with ``fork``;
* two CPUs are free for it: the process's CPU affinity and, in a
  container, its cgroup CPU limit (``cpu.max``) allow two;
* ``SECRETREF_FN_WORKERS`` is not ``1`` (the operator's switch, read from
  the environment like the byte cap; ``2`` or more asks for two processes
  whatever the CPUs).

A second process that fails (killed, out of memory) costs time, never the
result: its part is read again by the first.
"""
from __future__ import annotations

import os
from typing import Any, Callable

ENV_WORKERS = "SECRETREF_FN_WORKERS"

# What :meth:`Job.result` returns when the second process did not deliver (its part must be done again).
FAILED = object()


def available() -> int:
    """How many processes the function may use: 1 or 2 (see the module's docstring)."""
    if not hasattr(os, "fork"):
        return 1
    asked = os.environ.get(ENV_WORKERS, "").strip()
    if asked.isdigit() and int(asked) > 0:
        return 1 if int(asked) == 1 else 2
    return 2 if _cpus() >= 2 else 1


# A container's CPU limit (cgroup v2): "<quota> <period>" in microseconds, or "max <period>".
CPU_MAX = "/sys/fs/cgroup/cpu.max"


def _cpus() -> float:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU limit."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        with open(CPU_MAX, encoding="ascii") as limit:
            quota, period = limit.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity decides
    return cpus


class Job:
    """``work()`` running in a forked process; :meth:`result` waits for its value."""

    def __init__(self, pid: int, pipe: int):
        self._pid = pid
        self._pipe = pipe

    def result(self) -> Any:
        """``work()``'s value, or :data:`FAILED` when the process did not deliver one."""
        import pickle

        chunks = []
        while chunk := os.read(self._pipe, 1 << 20):
            chunks.append(chunk)
        os.close(self._pipe)
        _, status = os.waitpid(self._pid, 0)
        if status != 0 or not chunks:
            return FAILED
        try:
            return pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - a truncated message: the work is done again
            return FAILED

    def cancel(self) -> None:
        """Stop the process, its value no longer wanted."""
        try:
            os.kill(self._pid, 9)
        except OSError:
            pass
        os.close(self._pipe)
        os.waitpid(self._pid, 0)


def start(work: Callable[[], Any]) -> Job | None:
    """``work()`` in a forked copy of this process (its value must pickle); None when no process
    could be started (the caller does the work itself)."""
    import pickle

    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the copy: do the work, send its value, end without running the parent's exit code
        code = 1
        try:
            os.close(read_end)
            message = memoryview(pickle.dumps(work(), pickle.HIGHEST_PROTOCOL))
            while message:
                message = message[os.write(write_end, message):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return Job(pid, read_end)
