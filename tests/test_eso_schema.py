"""Every ExternalSecret we generate is valid for ESO: schema, webhook rules, no GitOps drift."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import TESTDATA, run_process, ROOT

EXPECTED = sorted(TESTDATA.glob("*/expected.yaml"))
# compatibility: upstream reproduces OpenChoreo's output, which leaves ESO's defaults out on purpose
UPSTREAM_COMPAT = "compat-upstream-"


def _generated(upstream_compat: bool | None = None) -> list[dict]:
    """Generated ExternalSecrets of every case (None), or only of the compat-upstream cases (True) or others."""
    out = []
    for path in EXPECTED:
        if upstream_compat is not None and path.parent.name.startswith(UPSTREAM_COMPAT) != upstream_compat:
            continue
        for item in yaml.safe_load(path.read_text())["items"]:
            if isinstance(item, dict) and item.get("kind") == "ExternalSecret" and \
                    item["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "secretref-fn":
                out.append(item)
    return out


def test_generated_externalsecrets_match_esos_json_schema(shared_dir) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    objects = _generated()
    assert len(objects) > 30
    for obj in objects:
        version = obj["apiVersion"].split("/")[1]
        schema = json.loads((shared_dir / "eso" / "schemas" / f"externalsecret-{version}.json").read_text())
        jsonschema.validate(obj, schema)


@pytest.mark.parametrize("release", ["v0.16.2", "v0.20.4", "v1.3.2", "v2.8.0", "latest"])
def test_validate_eso_gitops_lint_and_roundtrip(shared_dir, tmp_path, release) -> None:
    """The reference validator: webhook rules, canonical durations, nothing any release would default."""
    v1 = [o for o in _generated(upstream_compat=False) if o["apiVersion"] == "external-secrets.io/v1"]
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(v1))
    proc = subprocess.run([sys.executable, str(shared_dir / "tools" / "validate_eso.py"), "--gitops-lint",
                           "--roundtrip", release, str(rendered)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_upstream_compatibility_output_is_valid_but_not_drift_free(shared_dir, tmp_path) -> None:
    """compatibility: upstream passes ESO's schema and webhook rules; the GitOps lint flags the omitted
    defaults, exactly as it would flag OpenChoreo's own ExternalSecrets (the documented trade-off)."""
    objects = _generated(upstream_compat=True)
    assert objects
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(objects))
    tool = str(shared_dir / "tools" / "validate_eso.py")
    proc = subprocess.run([sys.executable, tool, str(rendered)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lint = subprocess.run([sys.executable, tool, "--gitops-lint", str(rendered)], capture_output=True, text=True)
    assert lint.returncode != 0 and "conversionStrategy omitted" in lint.stdout + lint.stderr


def test_quickstart_render_validates(shared_dir, tmp_path) -> None:
    proc = run_process(["render", str(ROOT / "examples" / "quickstart")])
    assert proc.returncode == 0
    rendered = tmp_path / "out.yaml"
    rendered.write_bytes(proc.stdout)
    check = subprocess.run([sys.executable, str(shared_dir / "tools" / "validate_eso.py"), "--gitops-lint",
                            str(rendered)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "4 ESO object(s) checked, 0 invalid" in check.stderr
