"""The real ``kubectl kustomize --enable-alpha-plugins`` on the container-form examples in examples/kustomize.

There is no Docker engine here, so a stand-in ``docker`` first on PATH records
the arguments kustomize passes and the ResourceList it sends, then runs the
installed function locally. Everything else (the function protocol, id
annotations, transformer matching, dropping local-config objects) is
kustomize's own. Expected build output: tests/kustomize/<example>.yaml
(``UPDATE_GOLDEN=1`` rewrites it; read every changed line).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, need_tool, tool_env

EXAMPLES = ROOT / "examples" / "kustomize"
EXPECTED = ROOT / "tests" / "kustomize"
IMAGE = "ghcr.io/openchoreo/secretref-fn:0.1.0"
INPUT_KINDS = {"SecretReference", "DataPlane", "Environment", "SecretFanout"}

STAND_IN = """#!{python}
# Stand-in for `docker run ... IMAGE`: records what kustomize asked for, runs secretref-fn locally.
import json, os, subprocess, sys
log = os.environ["DOCKER_STAND_IN_LOG"]
stdin = sys.stdin.buffer.read()
proc = subprocess.run([{function!r}], input=stdin, capture_output=True)
with open(log, "a") as f:
    f.write(json.dumps({{"args": sys.argv[1:], "stdin": stdin.decode(), "stdout": proc.stdout.decode()}}) + "\\n")
sys.stdout.buffer.write(proc.stdout)
sys.stderr.buffer.write(proc.stderr)
sys.exit(proc.returncode)
"""


def _stand_in(tmp_path: Path) -> tuple[dict, Path]:
    bin_dir = tmp_path / "stand-in-bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(STAND_IN.format(python=sys.executable, function=str(BIN / "secretref-fn")))
    docker.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"
    env = tool_env(DOCKER_STAND_IN_LOG=str(log))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env, log


def _build(path: Path, env: dict) -> subprocess.CompletedProcess:
    need_tool("kubectl")
    return subprocess.run(["kubectl", "kustomize", "--enable-alpha-plugins", str(path)], env=env,
                          capture_output=True, text=True, timeout=120)


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("example", ["production", "staging-secrets"])
def test_container_transformer_builds_the_example(example: str, tmp_path: Path) -> None:
    env, log = _stand_in(tmp_path)
    proc = _build(EXAMPLES / example, env)
    assert proc.returncode == 0, proc.stderr
    expected = EXPECTED / f"{example}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.write_text(proc.stdout)
    assert proc.stdout == expected.read_text()

    (call,) = _calls(log)
    args = call["args"]
    assert args[0] == "run" and args[-1] == IMAGE
    assert args[args.index("--network") + 1] == "none"
    assert args[args.index("--user") + 1] == "nobody"

    # kustomize's protocol: every item carries its id annotation; we hand every one back.
    sent = yaml.safe_load(call["stdin"])
    returned = yaml.safe_load(call["stdout"])
    assert sent["functionConfig"]["kind"] == "SecretFanout"
    ids_in = {i["metadata"]["annotations"]["config.k8s.io/id"] for i in sent["items"]}
    assert len(ids_in) == len(sent["items"])
    ids_out = {i["metadata"]["annotations"].get("config.k8s.io/id") for i in returned["items"]}
    ids_out.discard(None)
    assert ids_out == (set() if example == "staging-secrets" else ids_in)

    objects = list(yaml.safe_load_all(proc.stdout))
    assert objects and not {o["kind"] for o in objects} & INPUT_KINDS, "inputs must not reach the cluster"
    for obj in objects:
        for key in obj["metadata"].get("annotations", {}):
            assert not key.startswith(("internal.config.kubernetes.io/", "config.kubernetes.io/", "config.k8s.io/"))


def test_production_keeps_workloads_and_drops_local_config_inputs(tmp_path: Path) -> None:
    env, log = _stand_in(tmp_path)
    objects = list(yaml.safe_load_all(_build(EXAMPLES / "production", env).stdout))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "orders"), ("ExternalSecret", "orders-db")]
    sent = yaml.safe_load(_calls(log)[0]["stdin"])
    local = {i["kind"] for i in sent["items"]
             if i["metadata"]["annotations"].get("config.kubernetes.io/local-config") == "true"}
    assert local == {"SecretReference", "DataPlane", "Environment"}


def test_staging_secrets_outputs_only_generated_external_secrets(tmp_path: Path) -> None:
    env, _ = _stand_in(tmp_path)
    objects = list(yaml.safe_load_all(_build(EXAMPLES / "staging-secrets", env).stdout))
    assert [(o["kind"], o["metadata"]["annotations"]["secretref-fn.openchoreo.dev/plane"]) for o in objects] == [
        ("ExternalSecret", "DataPlane/acme/staging")]


def test_an_error_fails_the_build_with_the_message(tmp_path: Path) -> None:
    env, _ = _stand_in(tmp_path)
    copy = tmp_path / "kustomize"
    shutil.copytree(EXAMPLES, copy)
    orders = copy / "production" / "orders.yaml"
    orders.write_text(orders.read_text().replace("key: password", "key: pasword"))
    proc = _build(copy / "production", env)
    assert proc.returncode != 0 and proc.stdout == ""
    assert ('error: Deployment acme/orders spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: '
            'key "pasword" not found in SecretReference "orders-db"') in proc.stderr


def test_a_name_prefix_before_the_function_is_an_error_not_a_missing_externalsecret(tmp_path: Path) -> None:
    """namePrefix in the kustomization running secretref-fn renames the SecretReferences before it sees them
    (kustomize keeps the old name in internal.config.kubernetes.io/previousNames); the Deployment still reads
    the old name. Without the error the build succeeded with no ExternalSecret and a pod missing its Secret."""
    env, _ = _stand_in(tmp_path)
    copy = tmp_path / "kustomize"
    shutil.copytree(EXAMPLES, copy)
    kustomization = copy / "production" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "namePrefix: prod-\n")
    config = copy / "production" / "secretref-fn.yaml"
    text = config.read_text()
    config.write_text(text[:text.index("spec:")] + "spec: {}\n")  # (planes would be renamed too: another error)
    proc = _build(copy / "production", env)
    assert proc.returncode != 0 and proc.stdout == ""
    assert ("error: Deployment acme/prod-orders spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name: "
            "secret 'orders-db' is SecretReference acme/orders-db before kustomize renamed it to 'prod-orders-db' "
            "(a namePrefix or nameSuffix applied before secretref-fn): no ExternalSecret would create it; apply "
            "name prefixes and suffixes after secretref-fn, in a kustomization that uses the one running it"
            ) in proc.stderr, proc.stderr


def test_every_example_declares_a_strict_function_spec() -> None:
    """kyaml parses the function annotation strictly: only known keys."""
    for config in sorted(EXAMPLES.glob("*/secretref-fn.yaml")):
        obj = yaml.safe_load(config.read_text())
        spec = yaml.safe_load(obj["metadata"]["annotations"]["config.kubernetes.io/function"])
        assert spec == {"container": {"image": IMAGE}}, config
