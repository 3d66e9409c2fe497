"""Safety: no network, no process, no file written; limits hold in time and memory."""
from __future__ import annotations

import builtins
import io
import os
import socket
import subprocess
import sys
import time
import tracemalloc

import pytest

from conftest import ROOT, TESTDATA, run_process, run_text
from krm_fn import cli, krm, limits, ownership, pipeline, yamlio

QUICKSTART = ROOT / "examples" / "quickstart"


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["apiVersion: config.kubernetes.io/v1", "kind: ResourceList", "items:",
             "- apiVersion: v1", "  kind: ConfigMap", "  metadata: {name: lol, namespace: acme}", "  data:",
             "    a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    lines += [f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# --- nothing but stdin, stdout and stderr ----------------------------------------------


class Forbidden(AssertionError):
    pass


@pytest.fixture
def sandbox(monkeypatch):
    """Every way to reach the network, start a process or write a file fails the test."""
    calls: list[str] = []

    def refuse(name):
        def deny(*args, **kwargs):
            calls.append(name)
            raise Forbidden(f"the function called {name}")
        return deny

    for name in ("socket", "create_connection", "socketpair", "fromfd"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    for name in ("system", "popen", "fork", "execv", "execve", "execvp", "spawnv", "spawnvp", "posix_spawn",
                 "posix_spawnp", "remove", "unlink", "rename", "mkdir", "makedirs"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            calls.append(f"open({file!r}, {mode!r})")
            raise Forbidden(f"the function opened {file!r} for writing")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    monkeypatch.setattr(io, "open", read_only_open)
    return calls


def _main(monkeypatch, args: list[str], stdin: bytes) -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out, write_through=True))
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit) as exited:
        cli.main(args=args, prog_name="secretref-fn")
    return exited.value.code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", ["seed-build-credentials", "error-missing-key", "error-plaintext-secret",
                                  "serviceclass-fans-out-to-environment-planes"])
def test_function_mode_opens_no_socket_starts_no_process_writes_no_file(monkeypatch, sandbox, case) -> None:
    stdin = (TESTDATA / case / "input.yaml").read_bytes()
    code, out, _ = _main(monkeypatch, [], stdin)
    assert out == (TESTDATA / case / "expected.yaml").read_bytes()
    assert code == (1 if case.startswith("error-") else 0)
    assert sandbox == []


def test_render_mode_opens_no_socket_starts_no_process_writes_no_file(monkeypatch, sandbox) -> None:
    code, out, err = _main(monkeypatch, ["render", str(QUICKSTART)], b"")
    assert code == 0, err
    assert b"kind: ExternalSecret" in out
    assert sandbox == []


def test_the_sandbox_does_catch_a_process(monkeypatch, sandbox) -> None:
    """The guard is real: a subprocess call inside the run fails it (and becomes an internal error)."""
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: subprocess.Popen(["true"]))
    code, _, err = _main(monkeypatch, [], (TESTDATA / "seed-build-credentials" / "input.yaml").read_bytes())
    assert code == 3 and "internal error (Forbidden)" in err
    assert sandbox == ["subprocess.Popen"]


# --- limits ------------------------------------------------------------------------------


def test_alias_bomb_is_refused_fast_in_bounded_memory() -> None:
    text = _alias_bomb()
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(yamlio.YamlError, match="aliases expand to 4412961486 nodes"):
        yamlio.load_all(text)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024  # a few MB at most for a 1 kB input


def test_aliases_under_the_cap_are_never_expanded_before_the_limit_check() -> None:
    """Under the cap but over the default: read as shared objects, then refused, never expanded."""
    text = _alias_bomb(levels=5, width=9)  # ~650,000 nodes once expanded
    measure = limits.Measure(inputBytes=len(text))
    start = time.perf_counter()
    rl = krm.parse_resource_list(text, measure)
    with pytest.raises(krm.InputError, match=r"YAML aliases expand to \d+ nodes, more than maxAliases 10000"):
        pipeline.check_limits(rl.measure, rl.function_config)
    assert time.perf_counter() - start < 1.0


def test_limits_come_from_the_config_within_their_caps() -> None:
    measure = limits.Measure(inputBytes=10, depth=150, aliases=20)
    with pytest.raises(krm.InputError, match="more than maxDepth 100"):
        pipeline.check_limits(measure, None)
    raised = {"apiVersion": "fn.openchoreo.dev/v1alpha1", "kind": "SecretFanout", "metadata": {"name": "c"},
              "spec": {"maxDepth": yamlio.RawScalar(yamlio.INT, "200")}}
    pipeline.check_limits(measure, raised)
    lowered = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"maxAliases": "10"}}
    with pytest.raises(krm.InputError, match=r"more than maxDepth 100 \(raise maxDepth in the function config, up "
                                             r"to 256\); YAML aliases expand to 20 nodes, more than maxAliases 10 "):
        pipeline.check_limits(measure, lowered)


def test_json_input_is_measured_too() -> None:
    measure = limits.Measure()
    yamlio.load_all('{"a": [[[1]]]}', measure)
    assert measure.depth == 4
    with pytest.raises(yamlio.YamlError, match="nests at least 257 levels deep"):
        yamlio.load_all("[" * 300 + "]" * 300)


def test_deepest_nesting_allowed_still_writes_out() -> None:
    depth = limits.CAPS.maxDepth - 4  # ResourceList, items, the item, data
    text = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
            "  metadata: {name: c, namespace: acme}\n  data: {deep: " + "[" * depth + "]" * depth + "}\n"
            "functionConfig: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {maxDepth: '256'}}\n")
    stdin = text.encode()
    proc = run_process([], stdin)
    assert proc.returncode == 0, proc.stderr
    assert yamlio.load_all(proc.stdout.decode())[0]["items"] == yamlio.load_all(text)[0]["items"]


def test_render_reads_limits_from_the_config_file(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {maxInputBytes: '100'}\n")
    proc = run_process(["render", "--config", str(config), str(QUICKSTART)])
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode().startswith("error: input is ")
    assert "more than maxInputBytes 100" in proc.stderr.decode()


def test_render_refuses_a_file_over_the_cap_without_reading_it_all(tmp_path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(limits.CAPS.maxInputBytes + 10)  # sparse: costs no disk
    proc = run_process(["render", str(tmp_path)])
    assert proc.returncode == 1
    assert "larger than the hard limit of 33554432 bytes" in proc.stderr.decode()


# --- generated objects edited by hand ------------------------------------------------------


def _output_of(case: str) -> str:
    return (TESTDATA / case / "expected.yaml").read_text()


def test_our_own_output_is_not_a_hand_edit() -> None:
    rl = krm.parse_resource_list(_output_of("seed-registry-pull-secret"))
    owned = [i for i in rl.items if ownership.is_owned(i)]
    assert owned and not any(ownership.edited(i) for i in owned)


def test_moving_or_reformatting_a_generated_file_is_not_a_hand_edit() -> None:
    rl = krm.parse_resource_list(_output_of("seed-registry-pull-secret"))
    obj = next(i for i in rl.items if ownership.is_owned(i))
    moved = yamlio.load_all(yamlio.dump(obj))[0]
    moved["metadata"]["annotations"][krm.PATH] = "elsewhere/es.yaml"
    moved["metadata"]["annotations"][krm.INDEX] = "3"
    moved["metadata"] = dict(reversed(list(moved["metadata"].items())))  # key order does not matter
    assert not ownership.edited(moved)


def test_later_mutators_changing_metadata_are_not_hand_edits() -> None:
    """kpt pipelines run set-labels, set-annotations, set-namespace after us: a second render must pass."""
    rl = krm.parse_resource_list(_output_of("seed-registry-pull-secret"))
    for item in rl.items:
        meta = item["metadata"]
        meta.setdefault("labels", {})["team"] = "payments"
        meta.setdefault("annotations", {})["example.com/owner"] = "platform"
    assert not any(ownership.edited(i) for i in rl.items if ownership.is_owned(i))
    out = pipeline.run(rl)
    assert not out.results.has_errors, [r.line() for r in out.results]


def test_any_change_to_a_generated_spec_is_a_hand_edit() -> None:
    rl = krm.parse_resource_list(_output_of("seed-registry-pull-secret"))
    obj = next(i for i in rl.items if ownership.is_owned(i))
    obj["spec"]["data"][0]["remoteRef"]["key"] = "elsewhere"
    assert ownership.edited(obj)
    out = pipeline.run(rl)
    assert obj in out.items  # kept as edited, not overwritten
    assert [r.field_path for r in out.results] == ["metadata.annotations[secretref-fn.openchoreo.dev/checksum]"]
    assert [ownership.identity(i) for i in out.items].count(ownership.identity(obj)) == 1


@pytest.mark.parametrize("text", [
    "a: 1\n", "[]\n", "x\n", "a: {b: [1, {c: [[]]}]}\n", "- &x [1, 2]\n- *x\n- [*x, *x]\n", "a: &s v\nb: *s\n",
    "b: &b {x: 1}\na:\n  <<: *b\n  y: [[[2]]]\n", (TESTDATA / "seed-registry-pull-secret" / "expected.yaml").read_text(),
])
def test_quick_measure_agrees_with_the_general_walk(text: str) -> None:
    """Documents without aliases take a quick path; it must measure exactly what the general walk does."""
    node = yamlio._Loader(text).get_single_node()
    quick, general = limits.Measure(), limits.Measure()
    limits.measure_node(node, quick)
    limits._measure_shared(node, general)
    assert quick == general


# --- the operator's byte cap (environment, outside the stream) ------------------------------


def test_environment_raises_the_byte_cap_and_the_default_limit(monkeypatch) -> None:
    big = limits.CAPS.maxInputBytes + 1
    with pytest.raises(limits.LimitError, match="SECRETREF_FN_MAX_INPUT_BYTES"):
        limits.check_bytes(big)
    assert limits.exceeded(limits.Measure(inputBytes=big), limits.DEFAULTS)
    monkeypatch.setenv(limits.ENV_MAX_INPUT_BYTES, str(2 * limits.CAPS.maxInputBytes))
    limits.check_bytes(big)
    assert limits.exceeded(limits.Measure(inputBytes=big), limits.DEFAULTS) == []


def test_environment_byte_cap_must_be_a_number(monkeypatch) -> None:
    monkeypatch.setenv(limits.ENV_MAX_INPUT_BYTES, "lots")
    with pytest.raises(limits.LimitError, match="must be a positive number of bytes, found 'lots'"):
        limits.check_bytes(10)


def test_environment_can_also_lower_the_cap() -> None:
    env = {**os.environ, limits.ENV_MAX_INPUT_BYTES: "2000"}
    proc = run_process(["render", str(QUICKSTART)], env=env)
    assert proc.returncode == 1 and proc.stdout == b""
    assert "larger than the hard limit of 2000 bytes" in proc.stderr.decode()


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_raised_cap_reads_every_byte_from_a_file_or_stdin(source: str, tmp_path, monkeypatch) -> None:
    """Above the hard cap, raised by the operator: nothing is cut off (a cut would silently drop the last
    objects). The hard cap is lowered here to keep the input small."""
    monkeypatch.setattr(limits, "CAPS", limits.Limits(maxInputBytes=1000, maxDepth=256, maxAliases=1_000_000))
    monkeypatch.setenv(limits.ENV_MAX_INPUT_BYTES, "100000")
    stream = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n}\n  namespace: acme\n"
                     for n in range(40))
    assert len(stream) > 2000
    (tmp_path / "all.yaml").write_text(stream)
    args = ["render", "-"] if source == "stdin" else ["render", str(tmp_path / "all.yaml")]
    code, out, err = _main(monkeypatch, args, stream.encode())
    assert code == 0, err
    assert [d["metadata"]["name"] for d in yamlio.load_all(out.decode())] == [f"cm-{n}" for n in range(40)]


@pytest.mark.parametrize("args", [[], ["render", "-"], ["render", "FILE"]])
def test_a_huge_operator_cap_reserves_no_memory(args: list[str], tmp_path) -> None:
    """SECRETREF_FN_MAX_INPUT_BYTES=10^11 (or 10^20) used to allocate the cap before reading: MemoryError,
    OverflowError, exit 3."""
    text = (TESTDATA / "seed-build-credentials" / "input.yaml").read_bytes()
    if args:
        text = (QUICKSTART / "planes.yaml").read_bytes()
        (tmp_path / "planes.yaml").write_bytes(text)
        args = [str(tmp_path / "planes.yaml") if a == "FILE" else a for a in args]
    for cap in ("100000000000", "100000000000000000000"):
        proc = run_process(args, text, env={**os.environ, limits.ENV_MAX_INPUT_BYTES: cap})
        assert proc.returncode == 0, proc.stderr


def test_reading_stops_one_byte_past_the_cap_a_chunk_at_a_time(monkeypatch) -> None:
    monkeypatch.setenv(limits.ENV_MAX_INPUT_BYTES, "10")
    monkeypatch.setattr(limits, "_CHUNK", 3)
    assert limits.read_capped(io.BytesIO(b"x" * 100)) == b"x" * 11
    assert limits.read_capped(io.BytesIO(b"x" * 7)) == b"x" * 7


def test_a_hand_edited_object_keeps_its_place_in_a_shared_file() -> None:
    """fileLayout: namespace puts several ExternalSecrets in one file; regenerated neighbours of a
    hand-edited one (kept as it is) take the other positions in that file."""
    first, _ = run_text((TESTDATA / "file-layout-namespace" / "input.yaml").read_text())
    edited = first.replace("key: secret/team-a/api", "key: secret/team-a/api-moved")
    assert edited != first
    _, out = run_text(edited)
    places = [(krm.annotations(i)[krm.PATH], krm.annotations(i)[krm.INDEX])
              for i in out.items if i.get("kind") == "ExternalSecret"]
    assert len(places) == 3 and len(set(places)) == 3, places
    assert [r.field_path for r in out.results] == ["metadata.annotations[secretref-fn.openchoreo.dev/checksum]"]


def test_an_object_the_user_keeps_in_a_shared_file_keeps_its_place() -> None:
    """A user's own ExternalSecret at a position of a fileLayout: namespace file: generated ones skip it."""
    text = (TESTDATA / "file-layout-namespace" / "input.yaml").read_text().replace("functionConfig:", """\
- apiVersion: external-secrets.io/v1
  kind: ExternalSecret
  metadata:
    name: mine
    namespace: team-a
    annotations:
      config.kubernetes.io/path: planes/clusterdataplane/shared/team-a/externalsecrets.yaml
      config.kubernetes.io/index: '0'
  spec:
    secretStoreRef:
      name: vault
      kind: ClusterSecretStore
    target:
      name: mine
    data: []
functionConfig:""")
    _, out = run_text(text)
    places = [(krm.annotations(i).get(krm.PATH) or krm.annotations(i).get(krm.LEGACY_PATH),
               krm.annotations(i).get(krm.INDEX) or krm.annotations(i).get(krm.LEGACY_INDEX))
              for i in out.items if i.get("kind") == "ExternalSecret"]
    assert len(places) == 4 and len(set(places)) == 4, places

