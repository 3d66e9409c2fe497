"""The KRM function: a ResourceList on stdin, a ResourceList (with results) on stdout.

What kpt, kustomize and Argo CD run: ``secretref-fn`` with no arguments.
:func:`entry` is the command; with arguments it hands over to the commands
of :mod:`krm_fn.cli`.  This module imports neither click nor the pipeline
until they are needed: a function run pays only for what it uses.

Exit codes: 0 success (warnings allowed), 1 errors (error results, or input
that cannot be read), 2 usage errors, 3 internal errors.  No traceback ever
reaches the user; set ``SECRETREF_FN_DEBUG=1`` to see one for an internal error.
"""
from __future__ import annotations

import gc
import os
import sys
from typing import Callable

from . import fastio, krm, limits, yamlio


def load_pipeline():
    """The pipeline, imported on first use (its pydantic models take most of the start-up time)."""
    from . import pipeline as module

    return module


def _project(obj: dict) -> dict | None:
    from .projection import project  # imported once there are items (it imports the pipeline's modules)

    return project(obj)


def function_reader() -> fastio.Reader:
    """The reader of function mode: unchanged items are written back as the text they came in as,
    and only what the pipeline reads of them is kept in memory (:mod:`krm_fn.projection`)."""
    return fastio.Reader(project=_project)


def guarded(body: Callable[[], int], passthrough: tuple[type[BaseException], ...] = ()) -> int:
    """``body()``'s exit code; input that cannot be read, and any other error, as one line on stderr.

    ``passthrough``: exceptions raised as they are (the command line's own usage errors)."""
    try:
        return body()
    except passthrough:
        raise
    except (krm.InputError, yamlio.YamlError, limits.LimitError) as exc:  # unreadable input: one line
        _say(f"error: {exc}")
        return 1
    except (BrokenPipeError, KeyboardInterrupt):
        return 1
    except Exception as exc:  # noqa: BLE001 - the user never sees a traceback
        if os.environ.get("SECRETREF_FN_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        # The exception text could quote input; only its type is printed.
        _say(f"secretref-fn: internal error ({type(exc).__name__}); please report it "
             "(SECRETREF_FN_DEBUG=1 shows details)")
        return 3


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def report(results: krm.Results) -> None:
    """The results on stderr, one line each."""
    for result in results:
        _say(result.line())


def run() -> int:
    """The function, from stdin to stdout; the exit code."""
    # One run builds a large, long-lived, acyclic structure (the items, then the output):
    # the cyclic garbage collector would rescan it again and again (about a fifth of the
    # time at the L benchmark) to find next to nothing.  Reference counting still frees
    # everything as usual; the collector is back on afterwards (for an in-process caller).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run()
    finally:
        if enabled:
            gc.enable()


def _run() -> int:
    data = limits.read_capped(sys.stdin.buffer)  # never more than the cap in memory
    reader = function_reader()
    measure = limits.Measure()
    limits.check_bytes(len(data), measure)
    text, data = yamlio.decode(data), b""  # hold the input once, not as bytes and text
    rl = krm.parse_resource_list(text, measure, reader.load)
    text = ""
    # No items and no config: nothing to read or validate, so the pipeline (and
    # pydantic, most of the start-up time) is not even imported (`kpt fn doc`, empty packages).
    work = bool(rl.items) or rl.function_config is not None
    if work or limits.exceeded(rl.measure, limits.DEFAULTS):
        load_pipeline().check_limits(rl.measure, rl.function_config)
    out = load_pipeline().run(rl, deferred=True) if work else rl  # ExternalSecrets rendered as written
    stream = sys.stdout.buffer
    for part in reader.dump_parts(out):  # in pieces: the output is never held as text and bytes at once
        stream.write(part.encode("utf-8"))
    stream.flush()
    report(out.results)
    code = 1 if out.results.has_errors else 0
    if _exit_when_done:
        # The output is written: end the process now rather than free a large run's objects one by
        # one (about a fifth of the wall time at the M benchmark).  Only as the command itself.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


# Set by entry(): the process is the command itself, not an in-process caller (tests, CliRunner).
_exit_when_done = False


def entry() -> None:
    """The ``secretref-fn`` command and ``python -m krm_fn``: the function without arguments (click is not
    even imported), the commands of :mod:`krm_fn.cli` with them."""
    global _exit_when_done
    if len(sys.argv) > 1:
        from .cli import main

        main(prog_name="secretref-fn")
        return
    # Not under a profiler or tracer (pyinstrument, cProfile, coverage): it reports when the process ends normally.
    _exit_when_done = not _observed()
    sys.exit(guarded(run))


def _observed() -> bool:
    """Whether a profiler or tracer watches this process: set with sys.setprofile/settrace, or (Python 3.12+:
    cProfile, coverage) registered with sys.monitoring."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))
