"""JSON Schemas for editors: generated from the models, committed, and agreeing with the CRD."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from conftest import ROOT, TESTDATA, run_process
from krm_fn import models, schemas

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = ROOT / "schemas"
CRD = SCHEMAS / "crds" / "openchoreo.dev_secretreferences.yaml"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def _validator(schema: dict):
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _docs(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _input_items(kind: str) -> list[dict]:
    """``kind`` objects from the testdata inputs of cases that are not errors."""
    out = []
    for case in sorted(TESTDATA.iterdir()):
        if case.name.startswith("error-") or not (case / "input.yaml").is_file():
            continue
        out.extend(i for i in yaml.safe_load((case / "input.yaml").read_text())["items"]
                   if isinstance(i, dict) and i.get("kind") == kind and
                   i.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/managed-by") != "secretref-fn")
    return out


# --- generated, committed, up to date --------------------------------------------------


def test_committed_schemas_match_the_models() -> None:
    assert schemas.stale(str(SCHEMAS)) == [], "run: secretref-fn schema"
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(schemas.documents())


def test_schema_check_fails_on_drift(tmp_path) -> None:
    out = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, out)
    assert run_process(["schema", "--check", "--out", str(out)]).returncode == 0
    drifted = out / "secretreference.json"
    drifted.write_text(drifted.read_text().replace('"minItems": 1', '"minItems": 0'))
    proc = run_process(["schema", "--check", "--out", str(out)])
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == (f"error: {out}/secretreference.json differs from the models; "
                                           f"run: secretref-fn schema --out {out}")
    proc = run_process(["schema", "--out", str(out)])
    assert proc.returncode == 0 and schemas.stale(str(out)) == []
    assert proc.stderr.decode().strip() == f"wrote {out}/secretreference.json"  # only what changed
    proc = run_process(["schema", "--out", str(out)])
    assert proc.stderr.decode().strip() == f"{out}: every schema is up to date"


@pytest.mark.parametrize("name", sorted(schemas.documents()))
def test_schemas_are_valid_draft_07(name: str) -> None:
    schema = _schema(name)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    _validator(schema)

    def walk(node) -> None:  # draft-07 ignores keywords beside $ref, so there must be none
        if isinstance(node, dict):
            assert "$defs" not in node and ("$ref" not in node or len(node) == 1), node
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)
    walk(schema)


# --- they accept what the function accepts, and refuse typos -----------------------------


def test_secretreference_schema_accepts_the_examples_and_testdata() -> None:
    validator = _validator(_schema("secretreference.json"))
    refs = _docs(ROOT / "examples" / "quickstart" / "secretreferences.yaml") + _input_items("SecretReference")
    assert len(refs) > 20
    for ref in refs:
        assert not list(validator.iter_errors(ref)), ref["metadata"]["name"]


def test_plane_schemas_accept_the_examples_and_testdata() -> None:
    planes = _docs(ROOT / "examples" / "quickstart" / "planes.yaml")
    planes += [p for kind in models.PLANE_KINDS for p in _input_items(kind)]
    assert {p["kind"] for p in planes} >= {"DataPlane", "ClusterDataPlane", "BuildPlane", "ClusterWorkflowPlane"}
    for plane in planes:
        errors = list(_validator(_schema(f"{plane['kind'].lower()}.json")).iter_errors(plane))
        assert not errors, (plane["metadata"]["name"], errors)


def test_secretfanout_schema_accepts_the_bundled_configs() -> None:
    validator = _validator(_schema("secretfanout.json"))
    for path in (ROOT / "fn-config" / "secretfanout.yaml", ROOT / "examples" / "quickstart" / "secretfanout.yaml"):
        for doc in _docs(path):
            assert not list(validator.iter_errors(doc)), path


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["spec"].update(refreshIntervall="1h"), "Additional properties are not allowed"),
    (lambda s: s["spec"]["template"].update(type="Secret"), "is not one of"),
    (lambda s: s["spec"].update(data=[]), "should be non-empty"),
    (lambda s: s["spec"]["data"][0]["remoteRef"].pop("key"), "'key' is a required property"),
    (lambda s: s["spec"].update(targetPlane={"kind": "Cluster", "name": "x"}), "is not valid under any of"),
    (lambda s: s.update(kind="SecretRef"), "'SecretReference' was expected"),
])
def test_secretreference_schema_refuses_mistakes(edit, message) -> None:
    ref = _docs(ROOT / "examples" / "quickstart" / "secretreferences.yaml")[0]
    edit(ref)
    errors = [e.message for e in _validator(_schema("secretreference.json")).iter_errors(ref)]
    assert any(message in e for e in errors), errors


def test_secretfanout_schema_knows_every_field_and_mode() -> None:
    spec = _schema("secretfanout.json")["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["mode"]["enum"] == ["render", "validate"]


# --- editors: the modeline in the examples ---------------------------------------------


def test_examples_carry_a_modeline_that_resolves() -> None:
    found = 0
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for target in MODELINE.findall(path.read_text()):
            schema_path = (path.parent / target).resolve()
            assert schema_path.is_file(), (path, target)
            validator = _validator(json.loads(schema_path.read_text()))
            for doc in _docs(path):
                assert not list(validator.iter_errors(doc)), path
            found += 1
    assert found >= 2
    assert "# yaml-language-server: $schema=" in (ROOT / "README.md").read_text()


# --- the CRD: upstream's fields, the same as the model's --------------------------------


def _crd_schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == "secretreferences.openchoreo.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    [version] = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    return version["schema"]["openAPIV3Schema"]


def _resolve(node: dict, root: dict) -> dict:
    """Follow $ref (bare or in a one-element allOf) and the Optional[...] anyOf (model | null)."""
    if "allOf" in node:
        [node] = node["allOf"]
    if "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        [node] = [n for n in node["anyOf"] if n.get("type") != "null"]
        return _resolve(node, root)
    return node


def _fields(node: dict, root: dict, prefix: str = "") -> dict[str, dict]:
    """Dotted field path -> {required, enum, type} for every field under ``node``."""
    node = _resolve(node, root)
    out = {}
    if node.get("type") == "array":
        return _fields(node["items"], root, prefix + "[]")
    for name, child in node.get("properties", {}).items():
        child_resolved = _resolve(child, root)
        path = f"{prefix}.{name}" if prefix else name
        out[path] = {"required": name in node.get("required", []), "enum": child_resolved.get("enum"),
                     "type": child_resolved.get("type")}
        out.update(_fields(child_resolved, root, path))
    return out


def test_crd_has_the_models_fields() -> None:
    model = _schema("secretreference.json")
    crd = _fields(_crd_schema()["properties"]["spec"], {})
    ours = _fields(model["properties"]["spec"], model)
    assert set(crd) == set(ours)
    for path, facts in crd.items():
        assert facts["required"] == ours[path]["required"], path
        assert facts["type"] == ours[path]["type"] or path.endswith("metadata"), path
    assert crd["template.type"]["enum"] == list(models.SECRET_TYPES) == ours["template.type"]["enum"]
    # Upstream's targetPlane kinds (v1.1.0); the function also reads the v0.x build plane kinds.
    assert crd["targetPlane.kind"]["enum"] == ["WorkflowPlane", "ClusterWorkflowPlane", "DataPlane",
                                              "ClusterDataPlane"]
    assert set(crd["targetPlane.kind"]["enum"]) < set(ours["targetPlane.kind"]["enum"])


def test_crd_accepts_upstream_samples_and_the_examples(shared_dir) -> None:
    validator = jsonschema.Draft7Validator(_crd_schema())
    sample = shared_dir / "samples" / "openchoreo" / \
        "internal__pipeline__component__testdata__configurations-and-secrets__secret-references.yaml"
    refs = yaml.safe_load(sample.read_text()) + _docs(ROOT / "examples" / "quickstart" / "secretreferences.yaml")
    assert len(refs) > 3
    for ref in refs:
        assert not list(validator.iter_errors(ref)), ref["metadata"]["name"]
    broken = {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "SecretReference", "metadata": {"name": "x"},
              "spec": {"template": {}, "data": []}}
    assert list(validator.iter_errors(broken))
