"""The real kpt binary on temporary git copies of example packages (cases in tests/kpt/, see its README).

Like kpt's e2e harness: each case runs twice in the same copy; after each run
``git diff`` against the starting commit must equal ``.expected/diff.patch``
and ``--results-dir`` must equal ``.expected/results.yaml``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, need_tool, tool_env

CASES_DIR = ROOT / "tests" / "kpt"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / ".expected" / "config.yaml").is_file())
UPDATE = os.environ.get("KPT_E2E_UPDATE_EXPECTED") == "true"
GIT_ENV = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.invalid", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _run(args: list[str], cwd: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc


def _git(pkg: Path, env: dict, *args: str) -> str:
    return _run(["git", *args], pkg, env).stdout


def _tree(pkg: Path) -> dict[str, bytes]:
    return {str(p.relative_to(pkg)): p.read_bytes() for p in sorted(pkg.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(pkg).parts}


def _example(tmp_path: Path, render: bool = True) -> tuple[Path, dict]:
    """A copy of examples/kpt, rendered by kpt unless ``render`` is False, and kpt's environment."""
    need_tool("kpt")
    env = tool_env(**GIT_ENV)
    package = tmp_path / "acme"
    shutil.copytree(ROOT / "examples" / "kpt", package)
    if render:
        _run(["kpt", "fn", "render", ".", "--allow-exec"], package, env)
    return package, env


def _kpt_command(config: dict, case_dir: Path, results_dir: Path) -> list[str]:
    if config["testType"] == "render":
        return ["kpt", "fn", "render", ".", "--allow-exec", "--results-dir", str(results_dir)]
    command = ["kpt", "fn", "eval", ".", "--exec", config["execPath"], "--results-dir", str(results_dir)]
    if "fnConfig" in config:
        command += ["--fn-config", str(case_dir / config["fnConfig"])]
    args = config.get("args") or {}
    if args:
        command += ["--", *(f"{k}={v}" for k, v in args.items())]
    return command


def _check(expected_file: Path, actual: str) -> None:
    if UPDATE:
        expected_file.write_text(actual)
    assert actual == expected_file.read_text(), f"{expected_file} differs"


def _prepare(case: str, tmp_path: Path, env: dict) -> tuple[dict, Path, str]:
    case_dir = CASES_DIR / case
    config = yaml.safe_load((case_dir / ".expected" / "config.yaml").read_text())
    source = ROOT / config["package"]
    pkg = tmp_path / source.name
    shutil.copytree(source, pkg, ignore=shutil.ignore_patterns(".expected"))
    _git(pkg, env, "init", "-q")
    _git(pkg, env, "add", "-A")
    _git(pkg, env, "commit", "-qm", "package as shipped")
    setup = case_dir / ".expected" / "setup.sh"
    if setup.is_file():
        _run(["bash", str(setup)], pkg, env)
    return config, pkg, _git(pkg, env, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("case", CASES)
def test_kpt_case(case: str, tmp_path: Path) -> None:
    need_tool("kpt")
    env = tool_env(**GIT_ENV)
    config, pkg, start = _prepare(case, tmp_path, env)
    expected = CASES_DIR / case / ".expected"
    before = _tree(pkg)
    first: dict[str, bytes] | None = None
    for run in (1, 2):
        results_dir = tmp_path / f"results-{run}"
        proc = _run(_kpt_command(config, CASES_DIR / case, results_dir), pkg, env, check=False)
        assert proc.returncode == config["exitCode"], proc.stdout + proc.stderr
        _git(pkg, env, "add", "-A")
        _check(expected / "diff.patch", _git(pkg, env, "diff", "--cached", "--no-color", "--full-index", start))
        _check(expected / "results.yaml", (results_dir / "results.yaml").read_text())
        tree = _tree(pkg)
        if first is None:
            first = tree
        else:
            assert tree == first, "the second run changed the package (not idempotent)"
    if config["exitCode"] != 0:
        assert first == before, "a failing render must leave the package untouched"
    _assert_comments_kept(before, first)


def _assert_comments_kept(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Every comment line of the user's files is still there, in every file kpt kept."""
    for name, data in before.items():
        if name not in after:
            continue
        kept = after[name].decode().splitlines()
        for line in data.decode().splitlines():
            if "#" in line:
                assert line in kept, f"{name}: lost {line!r}"


def test_cases_cover_render_eval_prune_and_errors() -> None:
    kinds = {yaml.safe_load((CASES_DIR / c / ".expected" / "config.yaml").read_text())["testType"] for c in CASES}
    assert kinds == {"render", "eval"}
    assert any(c.startswith("error-") for c in CASES) and "render-prune-removed-workload" in CASES


def test_example_kptfile_runs_the_installed_command() -> None:
    kptfile = yaml.safe_load((ROOT / "examples" / "kpt" / "Kptfile").read_text())
    (mutator,) = kptfile["pipeline"]["mutators"]
    assert mutator == {"name": "secretref-fn", "exec": "secretref-fn", "configPath": "secretfanout.yaml"}
    config = yaml.safe_load((ROOT / "examples" / "kpt" / "secretfanout.yaml").read_text())
    assert config["kind"] == "SecretFanout"


def test_readme_kpt_commands_run(tmp_path: Path) -> None:
    """The README's kpt commands, pasted (after the install), work on a copy of the example; on the
    rendered package each one-off run changes nothing: a run limited to one plane leaves the other
    planes' files, and the Build annotation that points at the build plane's, as they are."""
    need_tool("kpt")
    section = (ROOT / "README.md").read_text().split("\n## kpt\n", 1)[1].split("\n## ", 1)[0]
    render, one_offs = [c.replace("pip install . && ", "").replace("/tmp/acme", str(tmp_path / "acme"))
                        for c in re.findall(r"```sh\n(.+?)\n```", section, re.S)]

    def run(command: str) -> None:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=ROOT, env=tool_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, command + proc.stdout + proc.stderr

    run(render)
    planes = tmp_path / "acme" / "planes"
    assert sorted(str(p.relative_to(planes)) for p in planes.rglob("*.yaml")) == [
        "buildplane/ci/acme/externalsecrets.yaml", "dataplane/production/acme/externalsecrets.yaml",
        "dataplane/staging/acme/externalsecrets.yaml"]
    rendered = _tree(tmp_path / "acme")
    assert any(b"secretref-fn.openchoreo.dev/credentials-secret:" in data for data in rendered.values())
    lines = one_offs.splitlines()
    assert len(lines) == 2 and "planes=" in lines[0]
    for command in lines:
        run(command)
        assert _tree(tmp_path / "acme") == rendered, command


@pytest.mark.parametrize("selector", [["--match-name", "orders-db"], ["--match-kind", "ExternalSecret"]])
def test_a_selector_run_keeps_the_generated_objects_it_cannot_regenerate(selector: list[str], tmp_path: Path) -> None:
    """kpt fn eval --match-* sends only the selected objects: no planes, no consumers. The ExternalSecrets of
    planes not in the input are kept (with a warning), not pruned (kpt deleted their files, exit 0)."""
    package, env = _example(tmp_path)
    rendered = _tree(package)
    assert any(name.startswith("planes/dataplane/staging/") for name in rendered)
    proc = _run(["kpt", "fn", "eval", ".", "--exec", "secretref-fn", *selector], package, env)
    assert _tree(package) == rendered
    assert "are kept as they are: that plane is not in the input" in proc.stdout + proc.stderr


TEAM_FILES = {
    "platform/planes.yaml": "apiVersion: openchoreo.dev/v1alpha1\nkind: DataPlane\nmetadata:\n  name: team-prod\n"
                            "  namespace: acme\nspec:\n  secretStoreRef: {name: vault}\n",
    "platform/refs.yaml": "apiVersion: openchoreo.dev/v1alpha1\nkind: SecretReference\nmetadata:\n  name: team-db\n"
                          "  namespace: acme\nspec:\n  template: {}\n  data:\n  - secretKey: password\n"
                          "    remoteRef: {key: secret/team/db, property: password}\n",
    "workloads/app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: team-app\n  namespace: acme\n"
                          "  annotations:\n    secretref-fn.openchoreo.dev/plane: DataPlane/acme/team-prod\nspec:\n"
                          "  template:\n    spec:\n      containers:\n      - name: app\n        image: example.com/a:1\n"
                          "        envFrom:\n        - secretRef: {name: team-db}\n",
}


def test_a_subpackage_running_the_function_keeps_its_own_files(tmp_path: Path) -> None:
    """kpt renders a subpackage's pipeline, then sends its objects to the parent's: the parent passes them
    through, so rendering either package leaves both as they are (they moved between team/planes and
    planes on each render, a helper found)."""
    package, env = _example(tmp_path, render=False)
    team = package / "team"
    team.mkdir()
    (team / "Kptfile").write_text((package / "Kptfile").read_text().replace("name: acme-secrets", "name: team"))
    shutil.copy(package / "secretfanout.yaml", team / "secretfanout.yaml")
    for name, text in TEAM_FILES.items():
        (team / name).parent.mkdir(parents=True, exist_ok=True)
        (team / name).write_text(text)
    _run(["kpt", "fn", "render", "team", "--allow-exec"], package, env)
    _run(["kpt", "fn", "render", ".", "--allow-exec"], package, env)
    rendered = _tree(package)
    generated = sorted(name for name in rendered if "planes/" in name and name.endswith("externalsecrets.yaml"))
    assert "team/planes/dataplane/team-prod/acme/externalsecrets.yaml" in generated
    assert not any(name.startswith("planes/dataplane/team-prod/") for name in generated)
    for target in ("team", ".", "team"):
        _run(["kpt", "fn", "render", target, "--allow-exec"], package, env)
        assert _tree(package) == rendered, target
    # kpt fn eval sends paths from the root and no package-path: the subpackage is found by its Kptfile
    _run(["kpt", "fn", "eval", ".", "--exec", "secretref-fn", "--fn-config", "secretfanout.yaml"], package, env)
    assert _tree(package) == rendered


def test_a_parent_and_a_subpackage_generating_one_externalsecret_is_an_error(tmp_path: Path) -> None:
    """Both read a Secret orders-db in acme on DataPlane/acme/production: two objects of one name would reach
    one cluster namespace from two files."""
    package, env = _example(tmp_path, render=False)
    team = package / "team"
    team.mkdir()
    (team / "Kptfile").write_text((package / "Kptfile").read_text().replace("name: acme-secrets", "name: team"))
    shutil.copy(package / "secretfanout.yaml", team / "secretfanout.yaml")
    for name in ("platform/planes.yaml", "platform/environments.yaml", "platform/secretreferences.yaml"):
        (team / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / name, team / name)
    (team / "workloads").mkdir()
    orders = (package / "workloads" / "orders.yaml").read_text()
    (team / "workloads" / "orders.yaml").write_text(orders.replace("name: orders\n", "name: team-orders\n", 1))
    _run(["kpt", "fn", "render", "team", "--allow-exec"], package, env)
    proc = _run(["kpt", "fn", "render", ".", "--allow-exec"], package, env, check=False)
    assert proc.returncode != 0
    assert ("ExternalSecret acme/orders-db for DataPlane/acme/production is also in a subpackage that renders its "
            "own (") in proc.stdout + proc.stderr


def test_a_subpackage_validating_with_the_function_is_in_its_parents_fan_out(tmp_path: Path) -> None:
    """A validator generates nothing: the subpackage's consumers get their ExternalSecrets from the parent."""
    package, env = _example(tmp_path, render=False)
    team = package / "team"
    team.mkdir()
    (team / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: team\n"
                                  "  annotations:\n    config.kubernetes.io/local-config: 'true'\npipeline:\n"
                                  "  validators:\n    - exec: secretref-fn\n      configMap:\n        mode: validate\n")
    for name, text in TEAM_FILES.items():
        (team / name).parent.mkdir(parents=True, exist_ok=True)
        (team / name).write_text(text)
    _run(["kpt", "fn", "render", ".", "--allow-exec"], package, env)
    assert (package / "planes" / "dataplane" / "team-prod" / "acme" / "externalsecrets.yaml").is_file()
    assert not (team / "planes").exists()


def test_render_drops_a_removed_planes_objects_that_kpt_keeps(tmp_path: Path) -> None:
    """The objects of a plane not in the input are kept for kpt (which would delete their files), not in
    render's stream: it writes no files and reads whole folders, so the plane is really gone."""
    package, env = _example(tmp_path)
    planes = package / "platform" / "planes.yaml"
    text = planes.read_text()
    start = text.index("apiVersion: openchoreo.dev/v1alpha1\nkind: BuildPlane")
    planes.write_text(text[:start].rstrip("-\n") + "\n")
    (package / "workloads" / "build.yaml").unlink()
    proc = _run(["secretref-fn", "render", "."], package, env)
    assert "BuildPlane/acme/ci" not in proc.stdout and "kind: ExternalSecret" in proc.stdout
    assert "kept as they are" not in proc.stderr
    kpt = _run(["kpt", "fn", "render", ".", "--allow-exec"], package, env)
    assert (package / "planes" / "buildplane" / "ci" / "acme" / "externalsecrets.yaml").is_file()
    assert "ExternalSecrets generated earlier for BuildPlane/acme/ci are kept as they are" in kpt.stdout + kpt.stderr


@pytest.mark.parametrize("separator", ["/", "\\"])
def test_subpackages_are_found_with_either_path_separator(separator: str) -> None:
    from krm_fn import pipeline

    def item(kind: str, folder: str, **extra) -> dict:
        annotations = {"internal.config.kubernetes.io/package-path": folder.replace("/", separator)}
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": kind.lower(), "annotations": annotations},
                **extra}

    runs = {"pipeline": {"mutators": [{"exec": "secretref-fn"}]}}
    items = [item("Kptfile", "C:/pkg", **runs), item("Kptfile", "C:/pkg/team", **runs),
             item("Kptfile", "C:/pkg/team/inner"), item("ConfigMap", "C:/pkg/team/inner"), item("Secret", "C:/pkg")]
    out = pipeline._without_subpackages_of_their_own(items)
    assert [o is None for o in out] == [False, True, True, True, False]


def test_operator_settings_reach_an_exec_function_through_kpts_environment() -> None:
    """README, "Hostile input and limits": the exec form takes SECRETREF_FN_MAX_INPUT_BYTES from kpt's
    environment (kpt refuses ``-e`` for exec functions: that is the image's way)."""
    need_tool("kpt")

    def run(line: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=ROOT, env=tool_env(**env),
                              capture_output=True, text=True, timeout=120)

    capped = run("kpt fn eval --exec secretref-fn examples/quickstart -o stdout", SECRETREF_FN_MAX_INPUT_BYTES="100")
    assert capped.returncode != 0 and "input is larger than the hard limit of 100 bytes" in capped.stderr
    refused = run("kpt fn eval --exec secretref-fn -e SECRETREF_FN_MAX_INPUT_BYTES=100 examples/quickstart -o stdout")
    assert refused.returncode != 0 and "--env can only be used with container functions" in refused.stderr


def test_source_function_sink_writes_what_render_writes(tmp_path: Path) -> None:
    """``kpt fn source | secretref-fn | kpt fn sink``: the sink places the ExternalSecrets by their path
    annotations (the function sets kpt's internal ones; kyaml fills in the legacy copies) in the very
    files, with the very text, that ``kpt fn render`` writes."""
    need_tool("kpt")
    env = tool_env(**GIT_ENV)
    rendered = tmp_path / "rendered"
    shutil.copytree(ROOT / "examples" / "kpt", rendered)
    _run(["kpt", "fn", "render", ".", "--allow-exec"], rendered, env)
    source = tmp_path / "source"
    shutil.copytree(ROOT / "examples" / "kpt", source)
    sunk = tmp_path / "sunk"
    pipeline = (f"kpt fn source {source} --fn-config {source / 'secretfanout.yaml'}"
                f" | secretref-fn | kpt fn sink {sunk}")
    _run(["bash", "-euo", "pipefail", "-c", pipeline], tmp_path, env)
    planes = {name: data for name, data in _tree(rendered).items() if name.startswith("planes/")}
    assert len(planes) == 3, sorted(planes)
    assert {name: data for name, data in _tree(sunk).items() if name.startswith("planes/")} == planes


def test_rerender_drops_comments_written_into_generated_files(tmp_path: Path) -> None:
    """README, "Ownership, idempotency, pruning": generated objects are new objects to kpt on every
    render, so a comment written into a generated file is silently gone after the next render, and the
    file is again exactly what the first render wrote (the fixed point the benchmark's re-render rests on)."""
    pkg, env = _example(tmp_path)
    rendered = _tree(pkg)
    generated = pkg / "planes" / "dataplane" / "production" / "acme" / "externalsecrets.yaml"
    text = generated.read_text()
    assert "\n  refreshInterval: " in text
    noted = text.replace("\n  refreshInterval: ", "\n  # why 1h\n  refreshInterval: ", 1)
    generated.write_text("# a reviewer's note\n" + noted)
    _run(["kpt", "fn", "render", ".", "--allow-exec"], pkg, env)
    assert _tree(pkg) == rendered


def test_readme_validator_commands_run(tmp_path: Path) -> None:
    """README, "Lint for CI and kpt validators": the Kptfile entry, appended by the pasted command to a
    copy of the kpt example, runs the function as a validator after the mutator, and passes."""
    need_tool("kpt")
    section = (ROOT / "README.md").read_text().split("\n## Lint for CI and kpt validators\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    entry = re.search(r"```yaml\n# Kptfile\n(.+?)```", section, re.S).group(1)
    block = re.findall(r"```sh\n(.+?)\n```", section, re.S)[-1]
    command = block.replace("/tmp/acme-check", str(tmp_path / "acme-check"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=ROOT, env=tool_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kptfile = yaml.safe_load((tmp_path / "acme-check" / "Kptfile").read_text())
    documented = yaml.safe_load(entry)["pipeline"]["validators"]
    assert [{k: v for k, v in fn.items() if k != "name"} for fn in kptfile["pipeline"]["validators"]] == documented
    assert "Successfully executed 2 function(s)" in proc.stderr, proc.stderr  # the mutator and the validator
    assert (tmp_path / "acme-check" / "planes").is_dir()


def test_a_list_in_a_package_file_fans_out_as_its_items_would(tmp_path: Path) -> None:
    """kpt passes a ``v1`` List in a file as one object: the function reads its items (README, "What it
    reads"), so the package renders the ExternalSecrets of the same objects written one by one, as the
    Argo CD plugin's ``render`` (which unwraps Lists) does."""
    package, env = _example(tmp_path)
    expected = {name: data for name, data in _tree(package).items() if name.startswith("planes/")}
    assert expected
    listed, _ = _example(tmp_path / "listed", render=False)
    for path in sorted((listed / "workloads").glob("*.yaml")):
        objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {"name": path.stem},
                                        "items": objects}, sort_keys=False))
    _run(["kpt", "fn", "render", ".", "--allow-exec"], listed, env)
    assert {name: data for name, data in _tree(listed).items() if name.startswith("planes/")} == expected
    build = yaml.safe_load((listed / "workloads" / "build.yaml").read_text())["items"][0]
    assert build["metadata"]["annotations"]["secretref-fn.openchoreo.dev/credentials-secret"] == "orders-api-git-secret"
    plugin = _run(["secretref-fn", "render", "."], listed, env).stdout
    assert plugin.count("kind: ExternalSecret") == sum(data.count(b"kind: ExternalSecret")
                                                       for data in expected.values())
