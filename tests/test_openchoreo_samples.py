"""OpenChoreo's own resources through the function: the ExternalSecrets it would create.

Inputs are upstream's samples and golden renderer fixtures from
``../shared/samples/openchoreo`` (INDEX.md says where each came from),
combined into packages here: a component's Workload and SecretReferences,
the Environments, the planes.  Every secret reference a sample's workload
makes must come out as the ExternalSecret upstream renders: name, namespace,
store and data.
"""
from __future__ import annotations

import copy

import pytest
import yaml

from krm_fn import krm, pipeline
from krm_fn.openchoreo_naming import Remote, dataplane_namespace, env_secrets_name, file_secret_name

SAMPLES = "samples/openchoreo"
FIXTURE = "internal__pipeline__component__testdata__configurations-and-secrets__"
MANAGED = {"app.kubernetes.io/managed-by": "secretref-fn"}


def _docs(shared, name: str) -> list[dict]:
    docs = []
    for doc in yaml.safe_load_all((shared / SAMPLES / name).read_text()):
        docs.extend(doc if isinstance(doc, list) else [doc] if doc else [])
    return docs


def _run(items: list[dict], compatibility: str | None = None) -> list[dict]:
    config = None
    if compatibility:
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                  "data": {"compatibility": compatibility}}
    out = pipeline.run(krm.ResourceList(copy.deepcopy(items), config))
    assert not out.results.has_errors, [r.line() for r in out.results]
    return [o for o in out.items if o.get("kind") == "ExternalSecret"]


def _binding(name: str, component: str, env: str, project: str = "default", ns: str = "default",
             overrides: dict | None = None) -> dict:
    spec: dict = {"owner": {"projectName": project, "componentName": component}, "environment": env}
    if overrides:
        spec["workloadOverrides"] = overrides
    return {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "ReleaseBinding",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _summary(es: dict) -> tuple:
    spec = es["spec"]
    data = [(d["secretKey"], d["remoteRef"]["key"], d["remoteRef"].get("property")) for d in spec["data"]]
    return (es["metadata"]["namespace"], es["metadata"]["name"], spec["secretStoreRef"]["name"],
            spec["secretStoreRef"]["kind"], data)


# --- upstream's golden renderer fixture ---------------------------------------------------------------


def _fixture_package(shared) -> list[dict]:
    """test-app in namespace test-namespace, project test-project, environment dev (store dev-vault-store)."""
    ns = "test-namespace"
    refs = _docs(shared, FIXTURE + "secret-references.yaml")
    for ref in refs:
        ref["metadata"]["namespace"] = ns
    snapshot = _docs(shared, FIXTURE + "snapshot-with-config-helpers.yaml")[0]["spec"]
    settings = _docs(shared, FIXTURE + "settings.yaml")[0]
    workload = {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "Workload",
                "metadata": {"name": "test-app-workload", "namespace": ns},
                "spec": {"owner": {"projectName": "test-project", "componentName": "test-app"},
                         **snapshot["workload"]["spec"]}}
    binding = _binding("test-app-dev", "test-app", snapshot["environment"], "test-project", ns,
                       settings["spec"]["workloadOverrides"])
    env = {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "dev", "namespace": ns},
           "spec": {"dataPlaneRef": {"kind": "DataPlane", "name": "dev"}}}
    plane = {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "DataPlane", "metadata": {"name": "dev", "namespace": ns},
             "spec": {"secretStoreRef": {"name": "dev-vault-store"}}}
    return [*refs, workload, binding, env, plane]


def _fixture_expected(shared) -> list[dict]:
    return [o for o in _docs(shared, FIXTURE + "expected-resources-with-config-helpers.yaml")
            if o["kind"] == "ExternalSecret"]


def test_fixture_upstream_compatibility_is_field_for_field(shared_dir) -> None:
    """compatibility: upstream writes exactly upstream's spec, name and openchoreo.dev labels."""
    got = {es["metadata"]["name"]: es for es in _run(_fixture_package(shared_dir), "upstream")}
    expected = _fixture_expected(shared_dir)
    assert sorted(got) == sorted(e["metadata"]["name"] for e in expected)
    dp_ns = dataplane_namespace("test-namespace", "test-project", "dev")
    for exp in expected:
        es = got[exp["metadata"]["name"]]
        assert es["apiVersion"] == exp["apiVersion"]
        assert es["spec"] == exp["spec"]
        # upstream's fixture renders into the control-plane namespace; the live pipeline into dp-...
        assert es["metadata"]["namespace"] == dp_ns
        uid_free = {k: v for k, v in exp["metadata"]["labels"].items() if not k.endswith("-uid")}
        assert es["metadata"]["labels"] == {**uid_free, **MANAGED}


def test_fixture_native_keeps_names_and_data(shared_dir) -> None:
    """The default mode renames nothing: same names, keys and remote refs, plus ESO's defaults."""
    got = {es["metadata"]["name"]: es for es in _run(_fixture_package(shared_dir))}
    for exp in _fixture_expected(shared_dir):
        es = got[exp["metadata"]["name"]]
        assert _summary(es)[1:] == (exp["metadata"]["name"], "dev-vault-store", "ClusterSecretStore",
                                    _summary(exp)[4])
        assert es["spec"]["target"]["template"] == {"type": "Opaque", "engineVersion": "v2", "mergePolicy": "Replace"}
        assert es["spec"]["refreshInterval"] == "1h0m0s"  # the CRD default; upstream ignores it


# --- samples ----------------------------------------------------------------------------------------------


def _platform(shared) -> list[dict]:
    """The getting-started Environments (all on ClusterDataPlane default) and the e2e planes."""
    return [*_docs(shared, "samples__getting-started__environments.yaml"),
            *_docs(shared, "test__e2e__k3d__dataplane.yaml"),
            *_docs(shared, "test__e2e__k3d__clusterworkflowplane.yaml")]


DP_DEV = "dp-default-default-development-f8e58905"


def test_greeter_service_v1(shared_dir) -> None:
    """secretKeyRef in Workload.spec.container.env; autoDeploy's binding to development added."""
    items = [*_docs(shared_dir, "samples__from-image__go-greeter-service__greeter-service.yaml"),
             *_platform(shared_dir), _binding("greeter-service-development", "greeter-service", "development")]
    name = env_secrets_name("greeter-service", "development", [("GITHUB_TOKEN", Remote("github-pat"))])
    assert [_summary(es) for es in _run(items, "upstream")] == [
        (DP_DEV, name, "default", "ClusterSecretStore", [("GITHUB_TOKEN", "github-pat", None)])]
    native, = _run(items)
    assert native["spec"]["target"]["template"]["metadata"] == {"labels": {"app": "greeter-service"}}


def test_greeter_service_v0_4_legacy_forms(shared_dir) -> None:
    """v0.4.0: the containers map and valueFrom.secretRef (its ComponentDeployment became a ReleaseBinding)."""
    items = [*_docs(shared_dir, "v0.4.0__samples__from-image__go-greeter-service__greeter-service.yaml"),
             *_platform(shared_dir), _binding("greeter-service-development", "greeter-service", "development")]
    name = env_secrets_name("greeter-service", "development", [("GITHUB_TOKEN", Remote("github-pat"))])
    assert [_summary(es) for es in _run(items, "upstream")] == [
        (DP_DEV, name, "default", "ClusterSecretStore", [("GITHUB_TOKEN", "github-pat", None)])]


def test_component_with_configs(shared_dir) -> None:
    """An env var and a file from two SecretReferences; the binding overrides only plain values."""
    items = [*_docs(shared_dir, "samples__component-types__component-with-configs__component-with-configs.yaml"),
             *_platform(shared_dir)]
    env = env_secrets_name("demo-app", "development", [("DATABASE_PASSWORD", Remote("password", "value"))])
    file = file_secret_name("demo-app", "development", "gitPAT", Remote("github-pat", "value"))
    assert sorted(_summary(es) for es in _run(items, "upstream")) == sorted([
        (DP_DEV, env, "default", "ClusterSecretStore", [("DATABASE_PASSWORD", "password", "value")]),
        (DP_DEV, file, "default", "ClusterSecretStore", [("gitPAT", "github-pat", "value")]),
    ])


def _component(workflow_kind: str, workflow: str, secret: str) -> dict:
    return {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "Component",
            "metadata": {"name": "builder-app", "namespace": "default"},
            "spec": {"owner": {"projectName": "default"},
                     "workflow": {"kind": workflow_kind, "name": workflow,
                                  "parameters": {"repository": {"url": "https://example.com/acme/app.git",
                                                                "secretRef": secret}}}}}


def _git_ref(name: str) -> dict:
    return {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "SecretReference",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"type": "kubernetes.io/basic-auth"},
                     "data": [{"secretKey": "username", "remoteRef": {"key": "secret/default/git/x",
                                                                      "property": "username"}},
                              {"secretKey": "password", "remoteRef": {"key": "secret/default/git/x",
                                                                      "property": "password"}}]}}


@pytest.mark.parametrize("run", [False, True])
def test_dockerfile_builder_workflow_plane(shared_dir, run: bool) -> None:
    """ClusterWorkflow dockerfile-builder -> ClusterWorkflowPlane default -> <run>-git-secret in workflows-default."""
    items = [*_docs(shared_dir, "samples__getting-started__ci-workflows__dockerfile-builder.yaml"),
             *_platform(shared_dir), _git_ref("git-credentials"),
             _component("ClusterWorkflow", "dockerfile-builder", "git-credentials")]
    name = "builder-app-git-secret"
    if run:
        items.append({"apiVersion": "openchoreo.dev/v1alpha1", "kind": "WorkflowRun",
                      "metadata": {"name": "builder-app-build-1", "namespace": "default",
                                   "labels": {"openchoreo.dev/component": "builder-app"}},
                      "spec": {"workflow": items[-1]["spec"]["workflow"]}})
        name = "builder-app-build-1-git-secret"
    es, = _run(items, "upstream")
    assert _summary(es) == ("workflows-default", name, "default", "ClusterSecretStore",
                            [("username", "secret/default/git/x", "username"),
                             ("password", "secret/default/git/x", "password")])
    assert es["spec"]["target"] == {"name": name, "creationPolicy": "Owner",
                                    "template": {"type": "kubernetes.io/basic-auth"}}
    assert es["metadata"]["annotations"]["secretref-fn.openchoreo.dev/plane"] == "ClusterWorkflowPlane/default"


def test_v0_17_docker_workflow_build_plane(shared_dir) -> None:
    """v0.17: a namespaced Workflow with buildPlaneRef to BuildPlane default."""
    workflow, = [d for d in _docs(shared_dir, "v0.17.0__samples__getting-started__workflows__docker.yaml")
                 if d["kind"] == "Workflow"]
    items = [workflow, *_docs(shared_dir, "v0.17.0__test__e2e__k3d__buildplane.yaml"), _git_ref("git-credentials"),
             _component("Workflow", workflow["metadata"]["name"], "git-credentials")]
    es, = _run(items)
    assert es["metadata"]["annotations"]["secretref-fn.openchoreo.dev/plane"] == "BuildPlane/default/default"
    assert _summary(es)[:4] == ("workflows-default", "builder-app-git-secret", "default", "ClusterSecretStore")


# --- the bundled example, as a user runs it ------------------------------------------------------------

EXAMPLE_NAMES = [
    "demo-app-development-env-secrets-86508b78", "demo-app-development-secret-db-password-15a89475",
    "demo-app-production-env-secrets-a0e82637", "demo-app-production-secret-db-password-84d283e6",
    "demo-app-git-secret",
]


def _render(*args: str) -> list[dict]:
    from conftest import ROOT, run_process

    proc = run_process(["render", *args, str(ROOT / "examples" / "openchoreo")], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    return [d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "ExternalSecret"]


@pytest.mark.parametrize("config", [None, "fn-config/compatibility-upstream.yaml"])
def test_example_renders(config: str | None) -> None:
    generated = _render("--config", config) if config else _render()
    assert [d["metadata"]["name"] for d in generated] == EXAMPLE_NAMES
    assert {d["spec"]["refreshInterval"] for d in generated} == ({"15s"} if config else {"1h0m0s", "15m0s"})


def test_example_one_plane() -> None:
    """What the README's --plane command prints: only the data plane's ExternalSecrets."""
    assert [d["metadata"]["name"] for d in _render("--plane", "ClusterDataPlane/default")] == EXAMPLE_NAMES[:4]


def test_all_current_samples_in_one_package(shared_dir) -> None:
    """Every v1.x sample together (component types, traits, workflows, resource types, stores, planes):
    only the Workloads' secret references produce ExternalSecrets, and nothing is an error.
    Left out: older releases' samples (v0.*), the fixture, the config sample without a namespace and the
    e2e planes that redefine ClusterDataPlane default."""
    skip = ("config__samples__openchoreo_v1alpha1_environment.yaml", "test__e2e__k3d__multi-cluster__dataplane.yaml")
    items = [doc for path in sorted((shared_dir / SAMPLES).glob("*.yaml"))
             if not path.name.startswith(("v0.", "internal__")) and path.name not in skip
             for doc in _docs(shared_dir, path.name)]
    items.append(_binding("greeter-service-development", "greeter-service", "development"))
    got = sorted(_summary(es) for es in _run(items, "upstream"))
    assert got == sorted([
        (DP_DEV, env_secrets_name("greeter-service", "development", [("GITHUB_TOKEN", Remote("github-pat"))]),
         "default", "ClusterSecretStore", [("GITHUB_TOKEN", "github-pat", None)]),
        (DP_DEV, env_secrets_name("demo-app", "development", [("DATABASE_PASSWORD", Remote("password", "value"))]),
         "default", "ClusterSecretStore", [("DATABASE_PASSWORD", "password", "value")]),
        (DP_DEV, file_secret_name("demo-app", "development", "gitPAT", Remote("github-pat", "value")),
         "default", "ClusterSecretStore", [("gitPAT", "github-pat", "value")]),
    ])
