"""A second process reads half the items (krm_fn/workers.py): the same result as one process, whatever
happens to the second one, and never a process left behind."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, TESTDATA, run_process
from krm_fn import fastio, function, krm, pipeline, workers, yamlio

CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "input.yaml").is_file())
RL = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
ITEM = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-{n}\n  data:\n    port: '80{n}'\n"


@pytest.fixture
def jobs(monkeypatch) -> list:
    """Every input counts as large; the second processes started, in order."""
    monkeypatch.setattr(fastio, "PARALLEL_BYTES", 0)
    started: list = []
    real = workers.start

    def start(work):
        job = real(work)
        started.append(job)
        return job

    monkeypatch.setattr(workers, "start", start)
    return started


def render(text: str, processes: int) -> tuple[str, list[str], fastio.Reader]:
    """The function in-process with a reader using ``processes``: (output text, result lines, reader)."""
    reader = fastio.Reader(project=function._projection, workers=processes)
    out = pipeline.run(krm.parse_resource_list(text, load=reader.load), deferred=True)
    return reader.dump(out), [r.line() for r in out.results], reader


def no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("case", CASES)
def test_two_processes_give_what_one_gives(case: str, jobs: list) -> None:
    text = (TESTDATA / case / "input.yaml").read_text()
    one = render(text, 1)
    assert not jobs
    two = render(text, 2)
    assert two[:2] == one[:2]
    split = fastio.split(text)
    # A second process whenever the fast path reads the items and the second half of their text holds one.
    assert len(jobs) == int(two[2].fast and fastio._halfway(split) < len(split.starts) - 1)
    assert no_child_left()


def test_the_items_are_shared_by_bytes() -> None:
    text = RL + "".join(ITEM.format(n=n) for n in range(3)) + ITEM.replace("cm-{n}", "cm-" + "x" * 200).format(n=3)
    parts = fastio.split(text)
    assert fastio._halfway(parts) == 3  # the long fourth item weighs as much as the first three


def parent_only(monkeypatch, in_child) -> None:
    """``_read_items`` calls ``in_child`` first in the second process."""
    parent, real = os.getpid(), fastio._read_items

    def read_items(*args):
        if os.getpid() != parent:
            return in_child(real, *args)
        return real(*args)

    monkeypatch.setattr(fastio, "_read_items", read_items)


@pytest.mark.parametrize("failure", ["exit", "signal", "unpicklable", "raises"])
def test_a_second_process_that_fails_costs_only_time(failure: str, jobs: list, monkeypatch) -> None:
    text = RL + "".join(ITEM.format(n=n) for n in range(6))
    expected = render(text, 1)[:2]

    def fail(real, *args):
        if failure == "exit":
            os._exit(0)  # (ends without a word)
        if failure == "signal":
            os.kill(os.getpid(), 9)
        if failure == "unpicklable":
            return lambda: None
        raise RuntimeError("boom")

    parent_only(monkeypatch, fail)
    assert render(text, 2)[:2] == expected
    assert len(jobs) == 1 and no_child_left()


def test_an_unreadable_first_half_stops_the_second_process(jobs: list, monkeypatch) -> None:
    """An item yaml_rs cannot read sends the whole text to yamlio, which reports it: the second half is
    no longer wanted (the second process is stopped, not waited for)."""
    text = RL + "- apiVersion: v1\n  kind: ConfigMap\n  data: *nowhere\n" + "".join(ITEM.format(n=n) for n in range(6))

    def forever(real, *args):
        import time

        time.sleep(60)

    parent_only(monkeypatch, forever)
    with pytest.raises(yamlio.YamlError) as exact:
        yamlio.load_all(text)
    reader = fastio.Reader(workers=2)
    with pytest.raises(krm.InputError) as got:
        krm.parse_resource_list(text, load=reader.load)
    assert str(got.value) == str(exact.value)
    assert len(jobs) == 1 and not reader.fast and no_child_left()


def test_an_unreadable_second_half_is_yamlios_error(jobs: list) -> None:
    text = RL + "".join(ITEM.format(n=n) for n in range(6)) + "- apiVersion: v1\n  kind: ConfigMap\n  kind: Secret\n"
    with pytest.raises(yamlio.YamlError) as exact:
        yamlio.load_all(text)
    reader = fastio.Reader(workers=2)
    with pytest.raises(krm.InputError) as got:
        krm.parse_resource_list(text, load=reader.load)
    assert str(got.value) == str(exact.value)
    assert len(jobs) == 1 and no_child_left()


def test_an_interrupted_first_half_stops_the_second_process(jobs: list, monkeypatch) -> None:
    parent, real = os.getpid(), fastio._read_items

    def read_items(text, parts, lo, hi, project):
        if os.getpid() == parent and lo == 0:
            raise KeyboardInterrupt
        return real(text, parts, lo, hi, project)

    monkeypatch.setattr(fastio, "_read_items", read_items)
    with pytest.raises(KeyboardInterrupt):
        fastio.Reader(workers=2).load(RL + "".join(ITEM.format(n=n) for n in range(6)))
    assert len(jobs) == 1 and no_child_left()


@pytest.mark.parametrize("env, cpus, expected", [
    ("1", 8, 1),  # the operator's switch
    ("2", 1, 2),
    ("16", 1, 2),  # (two at most)
    ("", 1, 1),
    ("", 1.5, 1),  # a container limited to one and a half CPUs
    ("", 2, 2),
    ("0", 8, 2),  # not a number of processes: as if unset
    ("two", 1, 1),
])
def test_available_processes(env: str, cpus: float, expected: int, monkeypatch) -> None:
    monkeypatch.setenv(workers.ENV_WORKERS, env)
    monkeypatch.setattr(workers, "_cpus", lambda: cpus)
    assert workers.available() == expected


def test_no_fork_means_one_process(monkeypatch) -> None:
    monkeypatch.setenv(workers.ENV_WORKERS, "2")
    monkeypatch.delattr(os, "fork")
    assert workers.available() == 1


@pytest.mark.parametrize("cpu_max, expected", [
    ("max 100000\n", 4),
    ("150000 100000\n", 1.5),
    ("800000 100000\n", 4),  # the affinity is lower
    ("garbage\n", 4),
    (None, 4),  # no cgroup v2 file
])
def test_a_container_cpu_limit_caps_the_cpus(cpu_max: str | None, expected: float, tmp_path, monkeypatch) -> None:
    limit = tmp_path / "cpu.max"
    if cpu_max is not None:
        limit.write_text(cpu_max)
    monkeypatch.setattr(workers, "CPU_MAX", str(limit))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert workers._cpus() == expected


def test_only_the_command_forks() -> None:
    """An in-process caller (a test, a program importing krm_fn) gets one process: forking it is not ours."""
    assert function.function_reader()._workers == 1


@pytest.fixture(scope="module")
def large_input(tmp_path_factory) -> bytes:
    """A generated package's ResourceList above PARALLEL_BYTES (benchmarks/generate.py)."""
    out = tmp_path_factory.mktemp("large")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--sizes", "400:6:800",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = (out / "400-6-800" / "resource-list.yaml").read_bytes()
    assert len(data) > fastio.PARALLEL_BYTES
    return data


def test_the_command_writes_the_same_bytes_with_two_processes(large_input: bytes) -> None:
    env = {**os.environ, workers.ENV_WORKERS: "1"}
    one = run_process([], large_input, env=env)
    two = run_process([], large_input, env={**env, workers.ENV_WORKERS: "2"})
    assert one.returncode == two.returncode == 0, one.stderr
    assert (two.stdout, two.stderr) == (one.stdout, one.stderr)
