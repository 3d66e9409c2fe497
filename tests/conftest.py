"""Shared fixtures: paths, running the function in-process and as a process."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from krm_fn import fastio, function, krm, pipeline, yamlio
from krm_fn.yamlio import RawScalar

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
SHARED = ROOT.parent / "shared"
# In CI a missing tool or ../shared is a failure, not a skip.
REQUIRE_ALL = os.environ.get("SECRETREF_FN_REQUIRE_ALL") == "1" or os.environ.get("CI") == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail in CI."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def run_text(text: str) -> tuple[str, krm.ResourceList]:
    """The function in-process, as the command runs it: ResourceList text in, (output text, output) back.

    Unchanged items come back as their input text (krm_fn/fastio.py); tests/test_fastio.py checks
    that the plain yamlio path gives the same data.
    """
    reader = function.function_reader()
    out = pipeline.run(krm.parse_resource_list(text, load=reader.load), deferred=True)
    return reader.dump(out), dataclasses.replace(out, items=krm.built(out.items))


def run_text_exact(text: str) -> tuple[str, krm.ResourceList]:
    """The same through yamlio alone (PyYAML): the path every input can take."""
    out = pipeline.run(krm.parse_resource_list(text))
    return yamlio.dump(out.to_dict()), out


def run_process(args: list[str], stdin: bytes = b"", cwd: Path | None = None,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed entry point as a separate process (python -m krm_fn)."""
    return subprocess.run([sys.executable, "-m", "krm_fn", *args], input=stdin, capture_output=True,
                          cwd=cwd, env=env, timeout=60)


def same(a, b, path: str = "$") -> str | None:
    """None when a and b are equal with equal types all the way down, else where they differ."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        return next((r for k in a if (r := same(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} != {len(b)} entries"
        return next((r for i, (x, y) in enumerate(zip(a, b)) if (r := same(x, y, f"{path}[{i}]"))), None)
    if isinstance(a, RawScalar):
        return None if (a.tag, a.text) == (b.tag, b.text) else f"{path}: {a!r} != {b!r}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


@pytest.fixture
def shared_dir() -> Path:
    need(SHARED.is_dir(), f"{SHARED} (the shared reference folder) is not beside the checkout")
    return SHARED


# The directory holding the installed ``secretref-fn`` command (the virtual environment's bin).
BIN = Path(sys.executable).parent


def tool_env(**extra: str) -> dict:
    """The environment for orchestrators (kpt, kubectl) that must find ``secretref-fn`` on PATH."""
    need((BIN / "secretref-fn").is_file(), f"secretref-fn is not installed next to {sys.executable}")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(extra)
    return env


def need_tool(name: str) -> str:
    """The path of an orchestrator's binary; skips (fails in CI) when it is not installed."""
    path = shutil.which(name)
    need(path is not None, f"{name} is not on PATH; install it to run these tests")
    return path
