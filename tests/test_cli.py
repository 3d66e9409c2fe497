"""The command line as users and orchestrators call it, in a separate process."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import ROOT, TESTDATA, run_process
from krm_fn import krm

QUICKSTART = ROOT / "examples" / "quickstart"


def _rl(name: str) -> bytes:
    return (TESTDATA / name / "input.yaml").read_bytes()


# --- function mode ---------------------------------------------------------------


def test_function_mode_writes_resource_list_and_exits_0() -> None:
    proc = run_process([], _rl("seed-build-credentials"))
    assert proc.returncode == 0, proc.stderr
    out = yaml.safe_load(proc.stdout)
    assert out["kind"] == "ResourceList" and out["apiVersion"] == "config.kubernetes.io/v1"
    assert proc.stdout.decode() == (TESTDATA / "seed-build-credentials" / "expected.yaml").read_text()


def test_error_results_exit_1_with_output_and_stderr_lines() -> None:
    proc = run_process([], _rl("error-missing-key"))
    assert proc.returncode == 1
    assert yaml.safe_load(proc.stdout)["results"][0]["severity"] == "error"
    assert proc.stderr.decode().splitlines() == [
        'error: Deployment acme/app spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: '
        'key "password" not found in SecretReference "db"; available keys: [username]']


def test_warnings_exit_0() -> None:
    proc = run_process([], _rl("plaintext-secret-warning"))
    assert proc.returncode == 0
    assert proc.stderr.decode().startswith("warning: Secret acme/legacy data: plaintext secret")


def test_json_input_v1beta1_and_list() -> None:
    rl = yaml.safe_load(_rl("seed-build-credentials"))
    rl["apiVersion"] = "config.kubernetes.io/v1beta1"
    proc = run_process([], json.dumps(rl).encode())
    assert proc.returncode == 0, proc.stderr
    as_list = {"apiVersion": "v1", "kind": "List", "items": rl["items"]}
    proc2 = run_process([], json.dumps(as_list).encode())
    assert proc2.returncode == 0, proc2.stderr
    assert proc.stdout == proc2.stdout


def test_unreadable_streams_fail_cleanly() -> None:
    cases = {
        b"": "empty input",
        b"a: [unclosed": "invalid YAML",
        b"apiVersion: v1\nkind: Pod\n": "expected kind ResourceList",
        b"kind: ResourceList\napiVersion: config.kubernetes.io/v1\n": "no items",
        b"kind: ResourceList\napiVersion: config.kubernetes.io/v1\nitems: 3\n": "items must be a list",
        b"---\nkind: ResourceList\n---\nkind: ResourceList\n": "found 2 YAML documents",
        b"\xff\xfe": "not UTF-8",
    }
    for stdin, message in cases.items():
        proc = run_process([], stdin)
        err = proc.stderr.decode()
        assert proc.returncode == 1, stdin
        assert message in err, (stdin, err)
        assert "Traceback" not in err and proc.stdout == b""


def test_help_works_with_stdin_like_kpt_fn_doc() -> None:
    proc = run_process(["--help"], b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n")
    assert proc.returncode == 0
    assert b"KRM function" in proc.stdout and b"render" in proc.stdout


# --- render ----------------------------------------------------------------------


def test_render_quickstart(snapshot) -> None:
    proc = run_process(["render", str(QUICKSTART)])
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "config.kubernetes.io/" not in text and "internal.config" not in text
    assert "kind: SecretFanout" not in text  # local-config never reaches a cluster
    assert text == snapshot
    # dockerhub-creds goes to two data planes: the combined view says a cluster needs --plane.
    assert proc.stderr.decode().splitlines() == [
        "warning: ExternalSecret acme/dockerhub-creds is rendered for more than one plane; a cluster takes one "
        "plane's manifests: use --plane KIND/NAME"]


def test_render_warns_of_an_input_object_twice_without_blaming_planes(tmp_path) -> None:
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: acme\nspec: {}\n"
    (tmp_path / "a.yaml").write_text(deployment)
    (tmp_path / "b.yaml").write_text(deployment)
    proc = run_process(["render", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().splitlines() == [
        "warning: Deployment acme/app appears more than once in the input; applied, the last one wins"]


def test_render_streams_two_planes_whose_kpt_files_would_clash(tmp_path) -> None:
    """DataPlane a/prod and b/prod would write one kpt file (testdata/error-plane-file-clash): an error for
    the function and lint, which check a package kpt writes; render's stream carries no paths."""
    case = TESTDATA / "error-plane-file-clash" / "input.yaml"
    items = yaml.safe_load(case.read_text())["items"]
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(items, sort_keys=False))
    proc = run_process(["render", str(tmp_path)])
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d["kind"] == "ExternalSecret"]
    assert sorted((d["metadata"]["annotations"]["secretref-fn.openchoreo.dev/plane"], d["metadata"]["name"])
                  for d in docs) == [("DataPlane/a/prod", "s1"), ("DataPlane/b/prod", "s2")]
    lint = run_process(["lint", str(tmp_path)])
    assert lint.returncode == 1 and b"would both be written to planes/dataplane/prod/shared" in lint.stdout


@pytest.mark.parametrize("entry, ours", [
    ({"exec": "secretref-fn"}, True),
    ({"exec": "./bin/secretref-fn"}, True),
    ({"exec": "/usr/local/bin/secretref-fn --debug"}, True),
    ({"image": "ghcr.io/openchoreo/secretref-fn:0.1.0"}, True),
    ({"image": "ghcr.io/openchoreo/secretref-fn@sha256:" + "0" * 64}, True),
    ({"image": "secretref-fn"}, True),
    ({"image": "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2"}, False),
    ({"exec": "not-secretref-fn"}, False),
    ({"image": "ghcr.io/secretref-fn/other:1"}, False),
    ({"name": "secretref-fn"}, False),  # (a name runs nothing)
])
def test_which_kptfile_entries_run_this_function(entry: dict, ours: bool) -> None:
    assert krm.runs_this_function(entry) is ours


def test_render_warns_of_a_subpackage_that_renders_with_its_own_config(tmp_path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(ROOT / "examples" / "kpt", package)
    (package / "team").mkdir()
    shutil.copy(package / "Kptfile", package / "team" / "Kptfile")
    shutil.copy(package / "secretfanout.yaml", package / "team" / "secretfanout.yaml")
    proc = run_process(["render", "--plane", "DataPlane/acme/production", str(package)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().splitlines() == [
        "warning: team/: a kpt package running secretref-fn itself, read here with this run's config (kpt renders "
        "it with its own): give its folder to render it as kpt does"]
    (package / "team" / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: team\n")
    assert run_process(["render", "--plane", "DataPlane/acme/production", str(package)]).stderr == b""


def test_kptfile_selectors_are_a_warning(tmp_path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(ROOT / "examples" / "kpt", package)
    kptfile = (package / "Kptfile").read_text()
    (package / "Kptfile").write_text(kptfile.replace(
        "      configPath: secretfanout.yaml", "      configPath: secretfanout.yaml\n      selectors:\n"
        "        - kind: SecretReference"))
    proc = run_process(["render", "--plane", "DataPlane/acme/production", str(package)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().splitlines() == [
        "warning: Kptfile: selectors and exclude of secretref-fn are not applied here (kpt applies them): every "
        "object of the package is read"]


@pytest.mark.parametrize("name, text, message", [
    ("x.yaml", "- a: 1\n", "document 1 is a list, not a Kubernetes object"),
    ("y.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nhello\n",
     "document 2 is a string, not a Kubernetes object"),
    ("w.json", "[1, 2]\n", "document 1 is a list, not a Kubernetes object"),
    ("z.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: [a]\n",
     "List item 1: metadata must be a mapping, found a list"),
    ("v.yaml", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n7\n",
     "document 2 is a number, not a Kubernetes object"),
    ("e.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n- x\n",
     "document 3 is a list, not a Kubernetes object"),  # (an empty document counts, as the user counts)
])
def test_a_document_that_is_no_object_is_reported_with_its_file(tmp_path, name: str, text: str, message: str) -> None:
    """The function can only say items[N] (its input is one list); files are named, and counted in."""
    for command in ("render", "lint", "explain"):
        folder = tmp_path / command / "sub"
        folder.mkdir(parents=True)
        (folder / name).write_text(text)
        proc = run_process([command, str(tmp_path / command)])
        assert proc.returncode == 1 and proc.stdout == b"", command
        assert proc.stderr.decode().splitlines() == [f"error: {folder / name}: {message}"], command


def test_stdin_among_several_paths_is_named_as_its_errors_name_it(tmp_path) -> None:
    ref = ("apiVersion: openchoreo.dev/v1alpha1\nkind: SecretReference\nmetadata:\n  name: {name}\n"
           "  namespace: acme\nspec:\n  data: []\n")
    (tmp_path / "stdin.yaml").write_text(ref.format(name="from-file"))
    proc = run_process(["lint", "stdin.yaml", "-"], ref.format(name="from-stdin").encode(), cwd=tmp_path)
    lines = [line for line in proc.stdout.decode().splitlines() if line.startswith("error:")]
    assert {line.split()[2]: line.rsplit("(in ", 1)[1] for line in lines} == {
        "acme/from-file": "stdin.yaml)", "acme/from-stdin": "-)"}, lines


def test_results_name_each_file_by_its_path_when_several_paths_are_given(tmp_path) -> None:
    ref = ("apiVersion: openchoreo.dev/v1alpha1\nkind: SecretReference\nmetadata:\n  name: {name}\n"
           "  namespace: acme\nspec:\n  data: []\n")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.yaml").write_text(ref.format(name=f"ref-{folder}"))
    one = run_process(["lint", "a"], cwd=tmp_path)
    assert "(in x.yaml)" in one.stdout.decode()  # one folder: relative to it, as kpt records it
    both = run_process(["lint", "a", "b"], cwd=tmp_path)
    lines = [line for line in both.stdout.decode().splitlines() if line.startswith("error:")]
    assert [line.rsplit("(in ", 1)[1] for line in lines] == ["a/x.yaml)"] * 2 + ["b/x.yaml)"] * 2, lines


def test_render_plane_outside_the_configs_planes_is_rendered_with_a_warning(tmp_path) -> None:
    package = tmp_path / "pkg"
    shutil.copytree(ROOT / "examples" / "kpt", package)
    fanout = package / "secretfanout.yaml"
    fanout.write_text(fanout.read_text().replace("spec:\n", "spec:\n  planes: [DataPlane/acme/production]\n", 1))
    inside = run_process(["render", "--plane", "DataPlane/acme/production", str(package)])
    assert inside.returncode == 0 and inside.stderr == b"", inside.stderr
    outside = run_process(["render", "--plane", "DataPlane/acme/staging", str(package)])
    assert outside.returncode == 0 and b"kind: ExternalSecret" in outside.stdout
    assert outside.stderr.decode().splitlines() == [
        "warning: --plane DataPlane/acme/staging is not among the config's planes (DataPlane/acme/production); "
        "rendered as asked"]


def test_render_of_a_package_that_only_validates_says_nothing_is_generated(tmp_path) -> None:
    """A Kptfile running secretref-fn only as a validator passes mode: validate: kpt generates nothing, so
    neither does render (the Argo CD plugin), but it says so rather than print no ExternalSecret silently."""
    package = tmp_path / "pkg"
    shutil.copytree(ROOT / "examples" / "kpt", package)
    kptfile = package / "Kptfile"
    kptfile.write_text(kptfile.read_text().split("pipeline:")[0]
                       + "pipeline:\n  validators:\n  - exec: secretref-fn\n    configMap:\n      mode: validate\n")
    proc = run_process(["render", "--plane", "DataPlane/acme/production", str(package)])
    assert proc.returncode == 0 and b"kind: ExternalSecret" not in proc.stdout
    assert proc.stderr.decode().splitlines() == [
        "warning: mode: validate (the package's Kptfile runs secretref-fn only as a validator, or its config says "
        "so): nothing is generated, the input's ExternalSecrets are printed as they are"]
    # the same with a validator whose own config does not say mode: validate (kpt keeps none of its output)
    other = tmp_path / "other"
    shutil.copytree(ROOT / "examples" / "kpt", other)
    kptfile = other / "Kptfile"
    kptfile.write_text(kptfile.read_text().replace("  mutators:", "  validators:"))
    proc = run_process(["render", str(other)])
    assert proc.returncode == 0 and b"kind: ExternalSecret" not in proc.stdout
    assert b"runs secretref-fn only as a validator" in proc.stderr


def test_render_one_plane_prints_only_its_externalsecrets() -> None:
    proc = run_process(["render", "--plane", "DataPlane/acme/production", str(QUICKSTART)])
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all(proc.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("ExternalSecret", "dockerhub-creds"), ("ExternalSecret", "orders-db")]
    assert all(d["spec"]["secretStoreRef"] == {"name": "vault-backend", "kind": "SecretStore"} for d in docs)


def test_render_reads_stdin_and_config_file(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  defaultRefreshInterval: 5m\n")
    stream = b"\n---\n".join((QUICKSTART / f).read_bytes() for f in ("planes.yaml", "environments.yaml", "secretreferences.yaml",
                                                                      "deployment.yaml"))
    proc = run_process(["render", "--config", str(config), "-"], stream)
    assert proc.returncode == 0, proc.stderr
    es = [d for d in yaml.safe_load_all(proc.stdout) if d["kind"] == "ExternalSecret"]
    assert [e["spec"]["refreshInterval"] for e in es] == ["5m0s"]


def _quickstart_with(tmp_path, file: str, old: str, new: str):
    """A copy of the quickstart package with one edit in one file."""
    pkg = tmp_path / "pkg"
    shutil.copytree(QUICKSTART, pkg)
    path = pkg / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return pkg


def test_render_errors_go_to_stderr_with_file_and_nothing_to_stdout(tmp_path) -> None:
    pkg = _quickstart_with(tmp_path, "deployment.yaml", "key: password", "key: pasword")
    proc = run_process(["render", str(pkg)])
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert proc.stderr.decode().splitlines() == [
        "error: Deployment acme/orders spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: "
        'key "pasword" not found in SecretReference "orders-db"; available keys: [password] (in deployment.yaml)']


def test_render_bad_plane_option_is_a_usage_error() -> None:
    proc = run_process(["render", "--plane", "DataPlane/production", str(QUICKSTART)])
    assert proc.returncode == 2
    assert b"namespaced" in proc.stderr and b"Traceback" not in proc.stderr


def test_render_missing_path() -> None:
    proc = run_process(["render", "/nonexistent/folder"])
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "error: /nonexistent/folder: no such file or directory"


def test_render_plane_option_tolerates_surrounding_blanks() -> None:
    proc = run_process(["render", "--plane", " DataPlane/acme/production ", str(QUICKSTART)])
    assert proc.returncode == 0, proc.stderr
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(proc.stdout)] == ["dockerhub-creds", "orders-db"]


def test_render_reports_a_secretfanout_of_another_version(tmp_path) -> None:
    pkg = _quickstart_with(tmp_path, "secretfanout.yaml", "fn.openchoreo.dev/v1alpha1", "fn.openchoreo.dev/v1beta1")
    proc = run_process(["render", str(pkg)])
    assert proc.returncode == 1 and proc.stdout == b""
    assert "unsupported function config fn.openchoreo.dev/v1beta1/SecretFanout" in proc.stderr.decode()


def test_schema_out_that_cannot_be_written_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    proc = run_process(["schema", "--out", str(blocker / "sub")])
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(f"error: {blocker / 'sub'}:") and b"Traceback" not in proc.stderr


def test_schema_check_of_a_missing_folder_says_so(tmp_path) -> None:
    proc = run_process(["schema", "--check", "--out", str(tmp_path / "none")])
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        f"error: {tmp_path / 'none'}: no such folder; run: secretref-fn schema --out {tmp_path / 'none'}"]


def test_function_mode_does_not_import_the_command_line_library() -> None:
    """Orchestrators run the command without arguments: click (and the commands) are not imported then."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "krm_fn"], input=_rl("seed-build-credentials"),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0 and b"kind: ExternalSecret" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line}
    assert "krm_fn.pipeline" in imported  # (what importtime lists)
    assert "click" not in imported and "krm_fn.cli" not in imported
    help_ = run_process(["--help"])  # with arguments: the commands
    assert help_.returncode == 0 and b"render" in help_.stdout


def test_function_mode_can_be_profiled(tmp_path) -> None:
    """The command ends its process at once when done, except under a profiler: its report is written
    (README "Performance": the profiling commands)."""
    import subprocess
    import sys

    out = tmp_path / "profile.out"
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "krm_fn"],
                          input=_rl("seed-build-credentials"), capture_output=True, timeout=60)
    assert proc.returncode == 0 and b"kind: ExternalSecret" in proc.stdout
    assert out.stat().st_size > 0


def test_function_mode_turns_the_cyclic_collector_back_on(monkeypatch) -> None:
    """Function mode runs without the cyclic garbage collector (speed) and restores it for in-process callers."""
    import gc

    from krm_fn import function

    seen = []
    monkeypatch.setattr(function, "_run", lambda: seen.append(gc.isenabled()) or 0)
    assert gc.isenabled()
    assert function.run() == 0
    assert seen == [False] and gc.isenabled()


def test_render_unknown_plane_option_blames_the_option_not_the_config() -> None:
    proc = run_process(["render", "--plane", "DataPlane/acme/nope", str(QUICKSTART)])
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode().splitlines() == ["error: plane DataPlane/acme/nope is not in the input"]


def test_render_reads_a_pipe_path_like_process_substitution() -> None:
    stream = b"\n---\n".join((QUICKSTART / f).read_bytes() for f in ("planes.yaml", "secretreferences.yaml",
                                                                      "build.yaml"))
    proc = run_process(["render", "--plane", "BuildPlane/acme/ci", "/dev/stdin"], stream)
    assert proc.returncode == 0, proc.stderr
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(proc.stdout)] == ["orders-api-git-secret"]


def test_render_points_a_resourcelist_file_to_function_mode() -> None:
    path = TESTDATA / "seed-build-credentials" / "input.yaml"
    for command in ("render", "lint", "explain"):
        proc = run_process([command, str(path)])
        assert proc.returncode == 1 and proc.stdout == b"", command
        assert proc.stderr.decode().splitlines() == [
            f"error: {path}: a ResourceList is the function's input: run secretref-fn < {path} "
            "(or give this command the files its items come from)"], command
    proc = run_process(["render", "-"], stdin=path.read_bytes())
    assert proc.stderr.decode().splitlines() == [
        "error: -: a ResourceList is the function's input: pipe it to secretref-fn "
        "(or give this command the files its items come from)"]


def test_render_says_where_it_reads_a_kpt_package_otherwise_than_kpt(tmp_path) -> None:
    """render skips names starting with a dot and does not apply .krmignore; kpt reads the one and applies
    the other: in a kpt package each such place is a warning (README, "Argo CD"). Outside one, silence."""
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
    for name in ("a.yaml", ".hidden.yaml", ".secrets/s.yaml", "fixtures/f.yaml", ".git/HEAD.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(config_map.format(name.strip("./").split(".")[0].replace("/", "-").lower()))
    (tmp_path / ".krmignore").write_text("fixtures/\n")
    (tmp_path / "fixtures" / ".krmignore").write_text("f.yaml\n")  # not a package root: kpt does not read it
    proc = run_process(["render", str(tmp_path)])
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr  # not a kpt package
    (tmp_path / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n")
    for path in (str(tmp_path), str(tmp_path) + "/"):
        proc = run_process(["render", path])
        assert proc.returncode == 0, proc.stderr
        assert sorted(proc.stderr.decode().splitlines()) == [
            "warning: .hidden.yaml: skipped, as every name starting with a dot (kpt reads it)",
            "warning: .krmignore: not applied here (kpt applies it): the files it lists are read, pass this "
            "command the folders to read instead",
            "warning: .secrets/: skipped, as every name starting with a dot (kpt reads YAML files there)"]
