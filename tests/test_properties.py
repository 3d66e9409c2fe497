"""Properties over random well-formed packages (hypothesis).

Packages mix SecretReferences, planes of every kind, Environments, workloads
of every kind (pods, controllers, jobs, Argo workflows, Builds,
ServiceClasses) and plaintext Secrets.  For each one:

1. the function never raises;
2. every input item it does not own comes out equal (as parsed data) and in
   the same order (Builds gain only their credentials-secret annotation);
3. running on its own output gives identical output (idempotence);
4. shuffling the input items does not change the generated objects;
5. nothing written (generated objects, results) contains a value from an
   input Secret's ``data`` or ``stringData``;
6. every generated ExternalSecret validates against ESO's JSON Schema;
7. every generated file path stays inside the package, whatever the names.

CI runs a fixed, derandomized set of examples so the suite stays fast and
repeatable; ``SECRETREF_FN_EXAMPLES=5000 pytest tests/test_properties.py``
explores more (and randomly).
"""
from __future__ import annotations

import base64
import json
import os
import posixpath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED, need
from krm_fn import krm, ownership, pipeline, yamlio
from krm_fn.constants import CREDENTIALS_SECRET_ANNOTATION, PLANE_ANNOTATION

_MORE = os.environ.get("SECRETREF_FN_EXAMPLES")
PROFILE = settings(
    max_examples=int(_MORE) if _MORE else 100,
    derandomize=not _MORE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

API = "openchoreo.dev/v1alpha1"
NAMESPACES = ["acme", "team-a", "shared"]
SECRET_TYPES = ["Opaque", "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg", "kubernetes.io/basic-auth",
                "kubernetes.io/ssh-auth", "kubernetes.io/tls"]
PLANE_KINDS = {"DataPlane": "data", "ClusterDataPlane": "data", "BuildPlane": "build", "ClusterBuildPlane": "build",
               "WorkflowPlane": "build", "ClusterWorkflowPlane": "build"}
POD_PATHS = {("v1", "Pod"): ["spec"], ("apps/v1", "Deployment"): ["spec", "template", "spec"],
             ("apps/v1", "StatefulSet"): ["spec", "template", "spec"],
             ("apps/v1", "DaemonSet"): ["spec", "template", "spec"],
             ("apps/v1", "ReplicaSet"): ["spec", "template", "spec"],
             ("batch/v1", "Job"): ["spec", "template", "spec"],
             ("batch/v1", "CronJob"): ["spec", "jobTemplate", "spec", "template", "spec"]}
ARGO = {"Workflow": ["spec"], "WorkflowTemplate": ["spec"], "ClusterWorkflowTemplate": ["spec"],
        "CronWorkflow": ["spec", "workflowSpec"]}

dns_label = st.from_regex(r"\A[a-z]([a-z0-9-]{0,10}[a-z0-9])?\Z")
secret_key = st.from_regex(r"\A[a-zA-Z0-9_][-._a-zA-Z0-9]{0,12}\Z").filter(lambda k: k not in (".", ".."))
fake_value = st.from_regex(r"\AFAKE-[0-9a-f]{16}\Z")
# Free-form text where YAML could be tempted to read something else.
tricky_text = st.sampled_from(["on", "yes", "0755", "1e3", "null", "~", "2001-12-14", "a: b", "#x", "{{ .x }}", "",
                               "caf\u00e9", "line\nbreak"]) | st.text(max_size=12)


def _meta(name: str, namespace: str | None, path: str, index: int = 0) -> dict:
    meta: dict = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["annotations"] = {krm.PATH: path, krm.INDEX: str(index)}
    return meta


@st.composite
def planes(draw) -> list[dict]:
    out, seen = [], set()
    for kind in draw(st.lists(st.sampled_from(sorted(PLANE_KINDS)), min_size=1, max_size=5)):
        cluster = kind.startswith("Cluster")
        ns = None if cluster else draw(st.sampled_from(NAMESPACES))
        name = draw(st.sampled_from(["default", "prod", "eu"]) | dns_label)
        if (kind, ns, name) in seen:
            continue
        seen.add((kind, ns, name))
        store = draw(st.sampled_from(["ref", "ref-kind", "string"]))
        spec = ({"secretStoreRef": {"name": "vault"}} if store == "ref" else
                {"secretStoreRef": {"name": "vault", "kind": draw(st.sampled_from(["SecretStore", "ClusterSecretStore"]))}}
                if store == "ref-kind" else {"secretStore": "vault-backend"})
        spec["clusterAgent"] = {"clientCA": {"value": draw(tricky_text)}}  # read by nobody: passes through
        out.append({"apiVersion": API, "kind": kind, "metadata": _meta(name, ns, "planes.yaml", len(out)), "spec": spec})
    return out


def _plane_id(plane: dict) -> str:
    ns = krm.namespace(plane)
    return f"{plane['kind']}/{ns}/{krm.name(plane)}" if ns else f"{plane['kind']}/{krm.name(plane)}"


def _visible(all_planes: list[dict], family: str, ns: str) -> list[dict]:
    return [p for p in all_planes if PLANE_KINDS[p["kind"]] == family and krm.namespace(p) in ("", ns)]


@st.composite
def secret_references(draw, all_planes: list[dict]) -> list[dict]:
    out, seen = [], set()
    for _ in range(draw(st.integers(1, 5))):
        ns = draw(st.sampled_from(NAMESPACES))
        name = draw(st.sampled_from(["db", "registry", "git"]) | dns_label)
        if (ns, name) in seen:
            continue
        seen.add((ns, name))
        stype = draw(st.sampled_from(SECRET_TYPES))
        keys = draw(st.lists(secret_key, min_size=1, max_size=3, unique=True))
        if stype == "kubernetes.io/dockerconfigjson":
            keys = sorted(set(keys) | {"username", "password"})
        data = []
        for key in keys:
            remote: dict = {"key": draw(st.sampled_from(["secret/acme/db", "path/x"]) | st.text(min_size=1, max_size=10))}
            if draw(st.booleans()):
                remote["property"] = key
            if draw(st.booleans()):
                remote["version"] = draw(st.sampled_from(["1", "3", "latest"]))
            data.append({"secretKey": key, "remoteRef": remote})
        template: dict = {}
        if draw(st.booleans()):
            template["type"] = stype
        if draw(st.booleans()):
            template["metadata"] = {"labels": {"app": draw(dns_label)},
                                    "annotations": {"note": draw(tricky_text)}}
        spec: dict = {"template": template, "data": data}
        if draw(st.booleans()):
            spec["refreshInterval"] = draw(st.sampled_from(["1h", "30m", "15s", "1h30m", "0s", "90m"]))
        targets = [p for p in all_planes if p["kind"] != "BuildPlane" and p["kind"] != "ClusterBuildPlane"
                   and krm.namespace(p) in ("", ns)]
        if targets and draw(st.booleans()):
            plane = draw(st.sampled_from(targets))
            spec["targetPlane"] = {"kind": plane["kind"], "name": krm.name(plane)}
        out.append({"apiVersion": API, "kind": "SecretReference",
                    "metadata": _meta(name, ns, f"secretreferences/{ns}.yaml", len(out)), "spec": spec})
    return out


def _refs_in(draw, refs: list[dict], ns: str) -> list[tuple[str, str | None]]:
    """(secret name, key or None) a consumer in ``ns`` reads: SecretReferences there, or other Secrets."""
    local = [r for r in refs if krm.namespace(r) == ns]
    chosen = []
    for _ in range(draw(st.integers(1, 3))):
        if local and draw(st.integers(0, 3)):
            ref = draw(st.sampled_from(local))
            keys = [d["secretKey"] for d in ref["spec"]["data"]]
            if ref["spec"]["template"].get("type") == "kubernetes.io/dockerconfigjson":
                keys = [".dockerconfigjson"]
            chosen.append((krm.name(ref), draw(st.sampled_from(keys)) if draw(st.booleans()) else None))
        else:
            chosen.append(("not-a-secretreference", None))
    return chosen


def _container(refs: list[tuple[str, str | None]]) -> dict:
    env = [{"name": f"E{i}", "valueFrom": {"secretKeyRef": {"name": n, "key": k}}}
           for i, (n, k) in enumerate(refs) if k is not None]
    env_from = [{"secretRef": {"name": n}} for n, k in refs if k is None]
    return {"name": "main", "image": "example.com/app:1", "env": env, "envFrom": env_from}


@st.composite
def consumers(draw, all_planes: list[dict], refs: list[dict]) -> list[dict]:
    out = []
    every_kind = sorted(k for _, k in POD_PATHS) + sorted(ARGO) + ["Build", "ServiceClass"]
    for index, kind in enumerate(k for k in every_kind if draw(st.booleans())):
        ns = draw(st.sampled_from(NAMESPACES))
        family = "build" if kind in ARGO or kind == "Build" else "data"
        visible = _visible(all_planes, family, ns)
        if not visible:
            continue
        name = f"c{index}-{draw(dns_label)}"
        meta = _meta(name, ns, f"consumers/{name}.yaml")
        if kind != "ServiceClass" or draw(st.booleans()):
            meta["annotations"][PLANE_ANNOTATION] = _plane_id(draw(st.sampled_from(visible)))
        used = _refs_in(draw, refs, ns)
        if kind == "Build":
            local = [r for r in refs if krm.namespace(r) == ns]
            if not local:
                continue
            obj = {"apiVersion": API, "kind": "Build", "metadata": meta,
                   "spec": {"repository": {"url": "https://example.com/x.git",
                                           "credentialsRef": krm.name(draw(st.sampled_from(local)))}}}
        elif kind == "ServiceClass":
            obj = {"apiVersion": API, "kind": kind, "metadata": meta, "spec": {"deploymentTemplate": {"template": {
                "spec": {"imagePullSecrets": [{"name": n} for n, _ in used]}}}}}
        elif kind in ARGO:
            spec = {"imagePullSecrets": [{"name": n} for n, k in used if k is None][:1],
                    "templates": [{"name": "t", "container": _container(used)}]}
            obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": meta, "spec": {}}
            _put(obj, ARGO[kind], spec)
        else:
            api = next(a for a, k in POD_PATHS if k == kind)
            obj = {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {}}
            pod = {"containers": [_container(used)],
                   "volumes": [{"name": "v", "secret": {"secretName": n}} for n, k in used if k is None]}
            _put(obj, POD_PATHS[(api, kind)], pod)
        out.append(obj)
    return out


def _put(obj: dict, path: list[str], value: dict) -> None:
    for part in path[:-1]:
        obj = obj.setdefault(part, {})
    obj[path[-1]] = value


@st.composite
def environments(draw, all_planes: list[dict]) -> list[dict]:
    out = []
    for ns in NAMESPACES:
        data_planes = _visible(all_planes, "data", ns)
        if data_planes and draw(st.booleans()):
            plane = draw(st.sampled_from(data_planes))
            out.append({"apiVersion": API, "kind": "Environment", "metadata": _meta("dev", ns, "environments.yaml"),
                        "spec": {"dataPlaneRef": {"kind": plane["kind"], "name": krm.name(plane)}}})
    return out


@st.composite
def plaintext_secrets(draw) -> list[dict]:
    out = []
    for i in range(draw(st.integers(0, 2))):
        values = draw(st.lists(fake_value, min_size=1, max_size=3, unique=True))
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(f"plain-{i}", "acme", "secrets.yaml", i),
                  "stringData": {f"k{j}": v for j, v in enumerate(values[:1])}}
        if len(values) > 1:
            secret["data"] = {f"d{j}": base64.b64encode(v.encode()).decode() for j, v in enumerate(values[1:])}
        out.append(secret)
    return out


@st.composite
def packages(draw) -> tuple[list[dict], dict]:
    all_planes = draw(planes())
    refs = draw(secret_references(all_planes))
    items = all_planes + refs + draw(environments(all_planes)) + draw(consumers(all_planes, refs))
    items += draw(plaintext_secrets())
    items += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("settings", "acme", "cm.yaml"),
               "data": {"flag": draw(tricky_text), "count": yamlio.RawScalar(yamlio.INT, "0755")}}]
    items = draw(st.permutations(items))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"},
              "data": {"plaintextSecrets": draw(st.sampled_from(["error", "warning", "allow"]))}}
    return list(items), config


# --- helpers ---------------------------------------------------------------------


def _resource_list(items: list, config: dict | None) -> str:
    rl: dict = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if config is not None:
        rl["functionConfig"] = config
    return yamlio.dump(rl)


def _run(text: str) -> tuple[str, dict]:
    out = pipeline.run(krm.parse_resource_list(text))
    dumped = yamlio.dump(out.to_dict())
    return dumped, yamlio.load_all(dumped)[0]


def _generated(out: dict) -> list[dict]:
    return [i for i in out["items"] if isinstance(i, dict) and ownership.is_owned(i)]


def _canonical(obj) -> str:
    return json.dumps(yamlio.to_json_data(obj), sort_keys=True)


def _without_build_annotation(obj: dict) -> dict:
    if obj.get("kind") != "Build" or CREDENTIALS_SECRET_ANNOTATION not in krm.annotations(obj):
        return obj
    ann = {k: v for k, v in krm.annotations(obj).items() if k != CREDENTIALS_SECRET_ANNOTATION}
    return {**obj, "metadata": {**obj["metadata"], "annotations": ann}}


def _secret_values(items: list) -> list[str]:
    values = []
    for item in items:
        if item.get("kind") == "Secret":
            values += list(item.get("stringData", {}).values()) + list(item.get("data", {}).values())
            values += [base64.b64decode(v).decode() for v in item.get("data", {}).values()]
    return values


@pytest.fixture(scope="module")
def eso_validator():
    jsonschema = pytest.importorskip("jsonschema")
    need(SHARED.is_dir(), f"{SHARED} (the shared reference folder) is not beside the checkout")
    schema = json.loads((SHARED / "eso" / "schemas" / "externalsecret-v1.json").read_text())
    return jsonschema.Draft202012Validator(schema)


# --- the properties ----------------------------------------------------------------


@PROFILE
@given(package=packages(), data=st.data())
def test_package_properties(package, data, eso_validator) -> None:
    items, config = package
    text = _resource_list(items, config)
    given_items = yamlio.load_all(text)[0]["items"]  # the input as parsed data

    first, out = _run(text)  # 1. never raises

    # 2. inputs pass through equal and in order; generated objects follow them
    passed = out["items"][:len(given_items)]
    assert [_without_build_annotation(i) for i in passed] == given_items
    assert all(ownership.is_owned(i) for i in out["items"][len(given_items):])

    # 3. idempotence
    again, _ = _run(first)
    assert again == first

    # 4. order independence of the generated objects
    shuffled = data.draw(st.permutations(items), label="shuffled")
    _, out2 = _run(_resource_list(list(shuffled), config))
    assert sorted(map(_canonical, _generated(out2))) == sorted(map(_canonical, _generated(out)))

    # 5. no Secret value in anything the function wrote
    written = _resource_list([i for i in out["items"] if i.get("kind") != "Secret"], None) + \
        yamlio.dump(out.get("results", []))
    for value in _secret_values(given_items):
        assert value not in written

    # 6. every generated ExternalSecret is valid for ESO
    for obj in _generated(out):
        errors = sorted(eso_validator.iter_errors(yamlio.to_json_data(obj)), key=str)
        assert not errors, errors[0].message


# --- paths stay inside the package, whatever the names ----------------------------

weird_name = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20) | \
    st.sampled_from(["..", ".", "../../etc", "/abs", "a/b", "a\\b", "x" * 300, "a..b", "A"])
any_name = st.one_of(dns_label, dns_label, weird_name)  # valid names often, so paths do get generated


@PROFILE
@given(plane_name=any_name, plane_ns=any_name, ref_name=any_name, ref_ns=any_name,
       output_dir=st.one_of(st.just("planes"), st.just("out/es"), weird_name), kind=st.sampled_from(sorted(PLANE_KINDS)))
def test_generated_paths_stay_inside_the_package(plane_name, plane_ns, ref_name, ref_ns, output_dir, kind) -> None:
    cluster = kind.startswith("Cluster")
    plane = {"apiVersion": API, "kind": kind, "metadata": {"name": plane_name, **({} if cluster else {"namespace": plane_ns})},
             "spec": {"secretStoreRef": {"name": "vault"}}}
    ref = {"apiVersion": API, "kind": "SecretReference", "metadata": {"name": ref_name, "namespace": ref_ns},
           "spec": {"template": {}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}],
                    "targetPlane": {"kind": kind if kind not in ("BuildPlane", "ClusterBuildPlane") else "DataPlane",
                                    "name": plane_name}}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"}, "data": {"outputDir": output_dir}}
    _, out = _run(_resource_list([plane, ref], config))
    for obj in _generated(out):
        assert krm.LEGACY_PATH not in krm.annotations(obj)  # kyaml fills it in from the internal one
        path = krm.annotations(obj)[krm.PATH]
        normal = posixpath.normpath(path)
        assert not path.startswith("/") and "\\" not in path and "\x00" not in path
        assert normal == path and not normal.startswith(".."), path
        assert path.startswith(output_dir + "/"), path
