"""argocd/plugin.yaml run the way Argo CD's cmp-server runs it, and the sidecar component built by kustomize.

The cmp-server runs ``discover.find.command`` and ``generate`` with the
working directory at the Application's source path, and an environment of
the sidecar's own variables, ``ARGOCD_APP_*``, the plugin env prefixed
``ARGOCD_ENV_``, the parameters as JSON in ``ARGOCD_APP_PARAMETERS`` and one
``PARAM_<NAME>`` each. :func:`_cmp_env` builds exactly that.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, need_tool, tool_env

PLUGIN = yaml.safe_load((ROOT / "argocd" / "plugin.yaml").read_text())
APPLICATION = yaml.safe_load((ROOT / "examples" / "argocd" / "application.yaml").read_text())
EXPECTED = ROOT / "tests" / "argocd"


def _param_vars(params: list[dict]) -> dict[str, str]:
    """Argo CD's PARAM_* variables: upper-cased names, [^A-Z0-9_] -> _, arrays _<i>, maps _<KEY>."""
    def name(*parts: str) -> str:
        return re.sub(r"[^A-Z0-9_]", "_", "_".join(("PARAM", *parts)).upper())

    out = {}
    for p in params:
        if "string" in p:
            out[name(p["name"])] = p["string"]
        for i, value in enumerate(p.get("array", [])):
            out[name(p["name"], str(i))] = value
        for key, value in p.get("map", {}).items():
            out[name(p["name"], key)] = value
    return out


def _cmp_env(source_path: str, params: list[dict] | None = None, plugin_env: dict | None = None) -> dict[str, str]:
    env = {
        # the sidecar's own environment: the image's PATH, no HOME assumptions
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "ARGOCD_APP_NAME": "acme-secrets-production", "ARGOCD_APP_NAMESPACE": "acme",
        "ARGOCD_APP_PROJECT_NAME": "default", "ARGOCD_APP_REVISION": "0" * 40,
        "ARGOCD_APP_REVISION_SHORT": "0" * 7, "ARGOCD_APP_REVISION_SHORT_8": "0" * 8,
        "ARGOCD_APP_SOURCE_PATH": source_path, "ARGOCD_APP_SOURCE_REPO_URL": "https://github.com/acme/platform.git",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main", "KUBE_VERSION": "1.32.4", "KUBE_API_VERSIONS": "v1,apps/v1",
    }
    env.update({f"ARGOCD_ENV_{k}": v for k, v in (plugin_env or {}).items()})
    if params:
        env["ARGOCD_APP_PARAMETERS"] = json.dumps(params)
        env.update(_param_vars(params))
    return env


def _run(command: dict, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*command["command"], *command.get("args", [])], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout of the application repository (the examples), as the repo-server has it."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def _generate(repo: Path, source_path: str, params=None, plugin_env=None) -> subprocess.CompletedProcess:
    return _run(PLUGIN["spec"]["generate"], repo / source_path, _cmp_env(source_path, params, plugin_env))


def _plane(value: str) -> list[dict]:
    return [{"name": "plane", "string": value}]


def test_the_example_application_uses_this_plugin() -> None:
    plugin = APPLICATION["spec"]["source"]["plugin"]
    assert plugin["name"] == PLUGIN["metadata"]["name"]
    announced = {p["name"] for p in PLUGIN["spec"]["parameters"]["static"]}
    assert {p["name"] for p in plugin["parameters"]} <= announced


def test_generate_prints_the_planes_external_secrets_as_a_plain_stream(repo: Path) -> None:
    source = APPLICATION["spec"]["source"]
    proc = _generate(repo, source["path"], source["plugin"]["parameters"])
    assert proc.returncode == 0, proc.stderr
    expected = EXPECTED / "generate-production.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.write_text(proc.stdout)
    assert proc.stdout == expected.read_text()
    objects = list(yaml.safe_load_all(proc.stdout))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ExternalSecret", "orders-db"), ("ExternalSecret", "reports-smtp")]
    for obj in objects:
        assert "items" not in obj
        annotations = obj["metadata"]["annotations"]
        assert annotations["secretref-fn.openchoreo.dev/plane"] == "DataPlane/acme/production"
        assert not [k for k in annotations if k.startswith(("internal.config.kubernetes.io/", "config.kubernetes.io/",
                                                            "config.k8s.io/"))]


def test_generate_on_a_package_kpt_has_rendered_gives_the_same(repo: Path) -> None:
    """The kpt package with its planes/ files committed: they are ours, so they are regenerated, not doubled."""
    need_tool("kpt")
    package = repo / "examples" / "kpt"
    subprocess.run(["kpt", "fn", "render", "--allow-exec", str(package)], env=tool_env(), check=True,
                   capture_output=True, timeout=120)
    assert list(package.glob("planes/*/*/*/*.yaml"))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (EXPECTED / "generate-production.yaml").read_text()


MUTATOR = "    - name: secretref-fn\n      exec: secretref-fn\n      configPath: secretfanout.yaml\n"
SETTINGS = {"creationPolicy": "Merge", "deletionPolicy": "Merge"}


@pytest.mark.parametrize("form", ["configMap", "configPath to a ConfigMap", "mutator and validator configs",
                                  "no config, a stray SecretFanout"])
def test_generate_uses_the_config_kpt_passes(repo: Path, form: str) -> None:
    """In a kpt package the plugin renders with the function config the Kptfile gives secretref-fn, as kpt
    does, whatever its form; the rendered spec is the one kpt writes (so the one reviewers saw in Git)."""
    need_tool("kpt")
    package = repo / "examples" / "kpt"
    kptfile = (package / "Kptfile").read_text()
    assert MUTATOR in kptfile
    fanout = package / "secretfanout.yaml"
    if form == "configMap":
        fanout.unlink()
        entry = "    - name: secretref-fn\n      exec: secretref-fn\n      configMap:\n" + "".join(
            f"        {k}: {v}\n" for k, v in SETTINGS.items())
    elif form == "configPath to a ConfigMap":
        fanout.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fn-config\n  annotations:\n"
                          "    config.kubernetes.io/local-config: 'true'\ndata:\n"
                          + "".join(f"  {k}: {v}\n" for k, v in SETTINGS.items()))
        entry = MUTATOR
    elif form == "mutator and validator configs":
        text = fanout.read_text()
        fanout.write_text(text.replace("spec:\n", "spec:\n" + "".join(f"  {k}: {v}\n" for k, v in SETTINGS.items()), 1))
        (package / "validate.yaml").write_text(text.replace("spec:\n", "spec:\n  mode: validate\n", 1))
        entry = MUTATOR + "  validators:\n    - name: secretref-fn-check\n      exec: secretref-fn\n" \
                          "      configPath: validate.yaml\n"
    else:  # kpt passes no config: the SecretFanout file is only an item, and the defaults apply
        fanout.write_text(fanout.read_text().replace("spec:\n", "spec:\n" + "".join(
            f"  {k}: {v}\n" for k, v in SETTINGS.items()), 1))
        entry = "    - name: secretref-fn\n      exec: secretref-fn\n"
    (package / "Kptfile").write_text(kptfile.replace(MUTATOR, entry))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 0, proc.stderr
    subprocess.run(["kpt", "fn", "render", "--allow-exec", str(package)], env=tool_env(), check=True,
                   capture_output=True, timeout=120)
    written = [doc for path in sorted(package.glob("planes/dataplane/production/*/*.yaml"))
               for doc in yaml.safe_load_all(path.read_text())]
    generated = list(yaml.safe_load_all(proc.stdout))
    assert [o["spec"] for o in generated] == [o["spec"] for o in written] and len(generated) == 2
    applied = {o["spec"]["target"]["creationPolicy"] for o in generated}
    assert applied == ({"Owner"} if form.startswith("no config") else {"Merge"})


def test_readme_kptfile_config_command_runs(tmp_path: Path) -> None:
    """README, "FunctionConfig": the pasted commands render with the Kptfile's configMap."""
    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```sh\n(.+?)\n *```", readme, re.S) if "acme-cfg" in b]
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.replace("/tmp/acme-cfg", str(tmp_path / "cfg"))],
                          cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["creationPolicy:", "Merge", "deletionPolicy:", "Merge", "--",
                                   "creationPolicy:", "Merge", "deletionPolicy:", "Merge"]


def test_a_kptfile_config_that_cannot_be_read_is_reported(repo: Path) -> None:
    package = repo / "examples" / "kpt"
    kptfile = (package / "Kptfile").read_text()
    (package / "Kptfile").write_text(kptfile.replace("configPath: secretfanout.yaml", "configPath: missing.yaml"))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["error: ./Kptfile: configPath missing.yaml: no such file in the package"]
    (package / "Kptfile").write_text(kptfile.replace(
        "configPath: secretfanout.yaml", "configMap:\n        planes: [DataPlane/acme/production]"))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        "error: ./Kptfile: configMap value of planes is a list: kpt takes only strings there (use configPath for a "
        "list or mapping)"]
    for entry, message in [
        ("configPath: secretfanout.yaml\n      configMap: {outputDir: planes}",
         "secretref-fn's entry sets both configPath and configMap; kpt takes one"),
        ("configMap: hello", "configMap must be a mapping of strings, found a string"),
        ("configPath: 5", "configPath must be a file name, found a number"),
        ('configPath: ""', "configPath must be a file name, found an empty string"),
        ("configPath: ../secretfanout.yaml", "configPath ../secretfanout.yaml is outside the package"),
    ]:
        (package / "Kptfile").write_text(kptfile.replace("configPath: secretfanout.yaml", entry))
        proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
        assert proc.returncode == 1 and proc.stderr.splitlines() == [f"error: ./Kptfile: {message}"], entry


def test_a_config_file_whose_name_starts_with_two_dots_is_in_the_package(repo: Path) -> None:
    package = repo / "examples" / "kpt"
    (package / "secretfanout.yaml").rename(package / "..secretfanout.yaml")
    kptfile = (package / "Kptfile").read_text()
    (package / "Kptfile").write_text(kptfile.replace("configPath: secretfanout.yaml",
                                                     "configPath: ..secretfanout.yaml"))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 0 and "kind: ExternalSecret" in proc.stdout, proc.stderr


def test_plane_from_plugin_env_and_parameter_wins(repo: Path) -> None:
    by_env = _generate(repo, "examples/kpt", plugin_env={"PLANE": "DataPlane/acme/staging"})
    assert by_env.returncode == 0, by_env.stderr
    assert [o["metadata"]["annotations"]["secretref-fn.openchoreo.dev/plane"]
            for o in yaml.safe_load_all(by_env.stdout)] == ["DataPlane/acme/staging"]
    both = _generate(repo, "examples/kpt", _plane("BuildPlane/acme/ci"), {"PLANE": "DataPlane/acme/staging"})
    assert [o["metadata"]["name"] for o in yaml.safe_load_all(both.stdout)] == ["orders-api-git-secret"]


@pytest.mark.parametrize(("params", "message"), [
    (None, "error: set the plugin parameter 'plane'"),
    (_plane("DataPlane/acme/nope"), "error: plane DataPlane/acme/nope is not in the input"),
    (_plane("$(touch pwned)"), "Invalid value for --plane: expected 'Kind/name' or 'Kind/namespace/name'"),
])
def test_generate_errors_exit_non_zero_with_stderr_and_no_stdout(repo: Path, params, message: str) -> None:
    proc = _generate(repo, "examples/kpt", params)
    assert proc.returncode != 0 and proc.stdout == ""
    assert message in proc.stderr
    assert not list(repo.rglob("pwned")), "parameters are data, never shell code"


def test_a_render_error_fails_generation(repo: Path) -> None:
    orders = repo / "examples" / "kpt" / "workloads" / "orders.yaml"
    orders.write_text(orders.read_text().replace("key: password", "key: pasword", 1))
    proc = _generate(repo, "examples/kpt", _plane("DataPlane/acme/production"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert ('error: Deployment acme/orders spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: key '
            '"pasword" not found in SecretReference "orders-db"; available keys: [password] (in workloads/orders.yaml)'
            ) in proc.stderr


def test_empty_output_is_refused_unless_allowed(repo: Path) -> None:
    (repo / "examples" / "kpt" / "workloads" / "build.yaml").unlink()  # the build plane's only consumer
    refused = _generate(repo, "examples/kpt", _plane("BuildPlane/acme/ci"))
    assert refused.returncode == 1 and refused.stdout == ""
    assert "refusing to print an empty manifest set" in refused.stderr
    allowed = _generate(repo, "examples/kpt", [*_plane("BuildPlane/acme/ci"), {"name": "allow-empty", "string": "true"}])
    assert allowed.returncode == 0 and allowed.stdout == "", allowed.stderr


@pytest.mark.parametrize(("path", "matches"), [
    ("examples/kpt", True), ("examples/kustomize/platform", True), ("examples/quickstart", True),
    ("examples/kustomize/production", False), ("examples/argocd", False),
])
def test_discover_matches_folders_holding_secret_references(repo: Path, path: str, matches: bool) -> None:
    proc = _run(PLUGIN["spec"]["discover"]["find"], repo / path, _cmp_env(path))
    # cmp-server: a match is exit 0 with output on stdout
    assert (proc.returncode == 0 and proc.stdout.strip() != "") == matches, proc


API = "apiVersion: openchoreo.dev/v1alpha1\n"


@pytest.mark.parametrize(("text", "matches"), [
    (API.replace("\n", "\r\n") + "kind: SecretReference\r\n", True),
    ('{"apiVersion": "openchoreo.dev/v1alpha1", "kind": "SecretReference", "metadata": {"name": "db"}}', True),
    (API + "kind: SecretReference # pointer into Vault\n", True),
    (API + "kind: SecretReferenceList\n", False),
    (API + "kind: 'SecretReference'\n", True),
    (API + "kind: \"SecretReference\"\n", True),
    ("kind: SecretReference\n", False),  # no apiVersion: not OpenChoreo's (render passes it through)
    ("apiVersion: example.com/v1\nkind: SecretReference\n", False),
    # a List's items, however indented, and JSON as kubectl writes it
    ("kind: List\nitems:\n- " + API + "  kind: SecretReference\n", True),
    ("kind: List\nitems:\n    - " + API + "      kind: SecretReference\n", True),
    ('{\n    "apiVersion": "openchoreo.dev/v1alpha1",\n    "metadata": {},\n    "kind": "SecretReference"\n}\n', True),
    ("{apiVersion: openchoreo.dev/v1alpha1, kind: SecretReference, metadata: {name: db}}\n", True),
    ("---\napiVersion: v1\nkind: ConfigMap\n---\n" + API + "kind: SecretReference\n", True),
    # a reference nested in another object is not a SecretReference to render, in any style
    ("kind: ClusterWorkflow\nspec:\n  externalRefs:\n    - id: git-secret-reference\n"
     "      apiVersion: openchoreo.dev/v1alpha1\n      kind: SecretReference\n      name: x\n", False),
    ('{"kind": "ClusterWorkflow", "spec": {"externalRefs": [{"apiVersion": "openchoreo.dev/v1alpha1", '
     '"kind": "SecretReference", "name": "x"}]}}', False),
    ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\npatches:\n"
     "- target: {group: openchoreo.dev, kind: SecretReference}\n  patch: '[]'\n", False),
    # a file render cannot read: claimed if it mentions SecretReference (generate then reports the problem)
    ("kind: [unclosed\n", False),
    ("- " + API + "  kind: SecretReference\n", True),  # a bare list: render refuses the file
    (API + "kind: SecretReference\n---\nkind: [unclosed\n", True),
])
def test_discover_pattern(tmp_path: Path, text: str, matches: bool) -> None:
    (tmp_path / "x.yaml").write_text(text)
    assert (_run(PLUGIN["spec"]["discover"]["find"], tmp_path, _cmp_env(".")).stdout != "") == matches


def test_discover_passes_over_files_that_cannot_hold_one(tmp_path: Path) -> None:
    """Files without the word are not parsed (a large repository is not parsed for nothing); a FIFO would
    block and is skipped."""
    (tmp_path / "a.yaml").write_text("kind: [unclosed\n")
    os.mkfifo(tmp_path / "f.yaml")
    (tmp_path / "b.yaml").write_text(API + "kind: SecretReference\nmetadata: {name: db, namespace: acme}\n")
    proc = _run(PLUGIN["spec"]["discover"]["find"], tmp_path, _cmp_env("."))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "./b.yaml\n", "")


def test_a_claimed_folder_with_an_unreadable_file_gets_the_error_from_generate(tmp_path: Path) -> None:
    (tmp_path / "refs.yaml").write_text(API + "kind: SecretReference\nmetadata: {name: db, namespace: acme}\n"
                                        "---\nkind: [unclosed\n")
    assert _run(PLUGIN["spec"]["discover"]["find"], tmp_path, _cmp_env(".")).stdout == "./refs.yaml\n"
    proc = _run(PLUGIN["spec"]["generate"], tmp_path, _cmp_env(".", _plane("DataPlane/acme/production")))
    assert proc.returncode == 1 and proc.stdout == "" and "refs.yaml" in proc.stderr


def test_discover_ignores_hidden_folders(repo: Path) -> None:
    app = repo / "app"
    (app / ".git").mkdir(parents=True)
    shutil.copy(repo / "examples" / "kpt" / "platform" / "secretreferences.yaml", app / ".git" / "x.yaml")
    shutil.copy(repo / "examples" / "kpt" / "platform" / "secretreferences.yaml", app / ".secretreferences.yaml")
    assert _run(PLUGIN["spec"]["discover"]["find"], app, _cmp_env("app")).stdout == ""  # render skips them too


def test_discover_follows_symbolic_links_to_files_as_render_does(repo: Path) -> None:
    app = repo / "app"
    app.mkdir()
    (app / "refs.yaml").symlink_to(repo / "examples" / "kpt" / "platform" / "secretreferences.yaml")
    assert _run(PLUGIN["spec"]["discover"]["find"], app, _cmp_env("app")).stdout != ""


def test_discover_and_render_do_not_follow_links_to_folders(repo: Path) -> None:
    """As kpt reads a package: render warns, and discover does not claim a folder render finds empty."""
    app = repo / "app"
    app.mkdir()
    (app / "platform").symlink_to(repo / "examples" / "kpt" / "platform", target_is_directory=True)
    assert _run(PLUGIN["spec"]["discover"]["find"], app, _cmp_env("app")).stdout == ""
    proc = subprocess.run([str(BIN / "secretref-fn"), "render", "."], cwd=app, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "warning: platform/: a symbolic link to a folder, not followed (nor by kpt): pass the folder itself to read it"]


def test_discover_skips_the_stock_workflows(repo: Path, shared_dir: Path) -> None:
    """A folder of OpenChoreo's ClusterWorkflows (each names a SecretReference in its externalRefs) holds no
    SecretReference to render."""
    samples = shared_dir / "samples" / "openchoreo"
    app = repo / "workflows"
    app.mkdir()
    for sample in samples.glob("*ci-workflows*"):
        shutil.copy(sample, app)
    assert len(list(app.iterdir())) >= 1
    assert _run(PLUGIN["spec"]["discover"]["find"], app, _cmp_env("workflows")).stdout == ""


def test_sidecar_component_adds_the_cmp_container(tmp_path: Path) -> None:
    need_tool("kubectl")
    shutil.copytree(ROOT / "argocd", tmp_path / "secretref-fn")
    install = tmp_path / "argocd-install"
    install.mkdir()
    (install / "repo-server.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-repo-server"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "argocd-repo-server", "image": "quay.io/argoproj/argocd:v2.14.0"}],
            "volumes": [{"name": "var-files", "emptyDir": {}}, {"name": "plugins", "emptyDir": {}}]}}}}))
    (install / "kustomization.yaml").write_text(
        "resources: [repo-server.yaml]\ncomponents: [../secretref-fn]\n")
    proc = subprocess.run(["kubectl", "kustomize", str(install)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    objects = {o["kind"]: o for o in yaml.safe_load_all(proc.stdout)}
    assert objects["ConfigMap"]["metadata"]["name"] == "secretref-fn-cmp"
    assert objects["ConfigMap"]["data"]["plugin.yaml"] == (ROOT / "argocd" / "plugin.yaml").read_text()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "secretref-fn")
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsUser"] == 999 and sidecar["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert mounts["/home/argocd/cmp-server/config/plugin.yaml"] == {
        "mountPath": "/home/argocd/cmp-server/config/plugin.yaml", "subPath": "plugin.yaml", "name": "secretref-fn-cmp"}
    assert {"/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp"} <= set(mounts)
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in sidecar["volumeMounts"]} <= volumes


def test_plugin_yaml_uses_only_sidecar_fields() -> None:
    assert PLUGIN["apiVersion"] == "argoproj.io/v1alpha1" and PLUGIN["kind"] == "ConfigManagementPlugin"
    assert set(PLUGIN["spec"]) <= {"version", "init", "generate", "discover", "parameters", "preserveFileMode",
                                   "provideGitCreds"}
    static_fields = {"name", "title", "tooltip", "required", "itemType", "collectionType", "string", "array", "map"}
    for param in PLUGIN["spec"]["parameters"]["static"]:
        assert set(param) <= static_fields, param
