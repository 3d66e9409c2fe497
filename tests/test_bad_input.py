"""Hostile and broken input: a clear error every time, nothing lost, nothing leaked.

Each folder of ``testdata/bad/`` is one case: ``input.yaml`` (the exact
bytes on stdin; huge inputs are generated here instead, see
``GENERATORS``) and ``expect.yaml``:

``exit``
    the exit code of ``python -m krm_fn`` (function mode);
``message``
    a line of stderr starts with it (the whole first line, or its stable
    prefix where the rest is worded by a library);
``unreferenced`` (optional)
    why some error results cannot name an object.

Every case runs as its own process and must finish within 2 seconds (of
CPU time, so a busy CI machine does not make it flaky; a hang is caught by
the wall-clock timeout) with no Python traceback on stderr.  When a ResourceList is written, it still
holds every input item (as parsed data, in order), and every error result
names the object (``resourceRef``), the field and, when the object came from
a file, that file.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import TESTDATA, run_process
from krm_fn import krm, ownership, yamlio

BAD = TESTDATA / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if (p / "expect.yaml").is_file())
HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
CONFIGMAP = "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: big, namespace: acme}\n  data:\n"
TIME_LIMIT = 2.0  # seconds of CPU per case
WALL_LIMIT = 20.0  # seconds on the clock: only a hang gets near it


def _nesting(levels: int) -> bytes:
    return (HEAD + CONFIGMAP + "    deep: " + "[" * levels + "]" * levels + "\n").encode()


def _scalar(size: int, config: str = "") -> bytes:
    return (HEAD + CONFIGMAP + "    big: ").encode() + b"x" * size + b"\n" + config.encode()


GENERATORS = {
    "yaml-nesting-10000-levels": lambda: _nesting(10_000),
    "yaml-scalar-50mb": lambda: _scalar(50 * 1024 * 1024),
    "yaml-input-over-configured-size": lambda: _scalar(1_500_000, "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n"
                                                                  "  metadata: {name: c}\n  data: {maxInputBytes: '1000000'}\n"),
}


def test_readme_counts_the_cases() -> None:
    readme = (BAD.parent.parent / "README.md").read_text()
    assert f"`testdata/bad/<case>/` holds {len(CASES)} such cases" in readme
    generated = [case for case in CASES if "generate" in expectation(case)]
    assert len(generated) == len(GENERATORS) == 3  # the README names the three


def stdin_of(case: str, expect: dict) -> bytes:
    if "generate" in expect:
        return GENERATORS[expect["generate"]]()
    return (BAD / case / "input.yaml").read_bytes()


def expectation(case: str) -> dict:
    return yaml.safe_load((BAD / case / "expect.yaml").read_text())


def test_the_corpus_is_large_and_complete() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        expect = expectation(case)
        assert set(expect) <= {"exit", "message", "generate", "unreferenced"}, case
        assert ("generate" in expect) != (BAD / case / "input.yaml").is_file(), case
        assert expect["exit"] in (0, 1), case
        assert expect["exit"] == 0 or expect.get("message"), f"{case}: an error case pins its message"


def _items_kept(stdin: bytes, out: list) -> None:
    """Every input item we do not own comes out equal and in order (a subsequence of the output)."""
    given = [i for i in krm.parse_resource_list(yamlio.decode(stdin)).items
             if not (isinstance(i, dict) and ownership.is_owned(i) and not ownership.edited(i))]
    position = 0
    for item in given:
        while position < len(out) and out[position] != item:
            position += 1
        assert position < len(out), f"input item lost or changed: {str(item)[:200]}"
        position += 1


def _results_are_precise(out: dict, expect: dict) -> None:
    items = {krm.ObjectRef.of(i): i for i in out["items"] if isinstance(i, dict)}
    for result in out.get("results", []):
        if result["severity"] != "error":
            continue
        if "resourceRef" not in result:
            assert "unreferenced" in expect, f"error result without resourceRef: {result}"
            continue
        assert result.get("field", {}).get("path"), f"error result without field path: {result}"
        ref = result["resourceRef"]
        obj = items.get(krm.ObjectRef(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace", "")))
        if obj is not None and krm.FileRef.of(obj) is not None:
            assert result.get("file", {}).get("path") == krm.FileRef.of(obj).path, result


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu: float  # user + system seconds of the process


def run_case(stdin: bytes, workdir: Path) -> Run:
    """``python -m krm_fn`` with ``stdin``; files, not pipes, so os.wait4 can report this child's CPU time."""
    workdir.mkdir(parents=True)
    (workdir / "in").write_bytes(stdin)
    with open(workdir / "in", "rb") as given, open(workdir / "out", "wb") as out, open(workdir / "err", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "krm_fn"], stdin=given, stdout=out, stderr=err)
        deadline = time.monotonic() + WALL_LIMIT
        while True:  # a hang must fail the test, not the suite
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                pytest.fail(f"still running after {WALL_LIMIT}s")
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return Run(proc.returncode, (workdir / "out").read_bytes(), (workdir / "err").read_bytes(),
               usage.ru_utime + usage.ru_stime)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Every case, run in parallel (one process each; the machine's cores kept busy)."""
    base = tmp_path_factory.mktemp("bad")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {case: pool.submit(run_case, stdin_of(case, expectation(case)), base / case) for case in CASES}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: str, runs: dict[str, Run]) -> None:
    expect = expectation(case)
    proc = runs[case]
    err = proc.stderr.decode("utf-8")
    assert "Traceback" not in err, err
    assert proc.returncode == expect["exit"], err
    if expect.get("message"):
        assert any(line.startswith(expect["message"]) for line in err.splitlines()), err
    assert proc.cpu < TIME_LIMIT, f"took {proc.cpu:.2f}s of CPU"
    if proc.stdout:
        out = yamlio.load_all(proc.stdout.decode("utf-8"))[0]
        _items_kept(stdin_of(case, expect), out["items"])
        _results_are_precise(out, expect)
        assert bool(err) == bool(out.get("results")), "every result is also a line on stderr"
    else:
        assert proc.returncode == 1, "no output is only ever written for an unreadable input"


def test_each_error_line_on_stderr_is_a_result_of_the_output() -> None:
    """The stderr lines and the results say the same (kustomize only shows stderr)."""
    proc = run_process([], (BAD / "ref-missing-key" / "input.yaml").read_bytes())
    out = yamlio.load_all(proc.stdout.decode())[0]
    assert len(out["results"]) == len(proc.stderr.decode().splitlines()) == 1
