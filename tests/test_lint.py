"""``secretref-fn lint`` and ``mode: validate`` (a kpt ``validators:`` entry)."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT, need, run_process
from krm_fn import lint

QUICKSTART = ROOT / "examples" / "quickstart"


@pytest.fixture
def pkg(tmp_path):
    out = tmp_path / "pkg"
    shutil.copytree(QUICKSTART, out)
    return out


def _lint(path) -> subprocess.CompletedProcess:
    return run_process(["lint", str(path)])


def test_clean_package_exits_0() -> None:
    proc = _lint(QUICKSTART)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout == b""
    assert proc.stderr.decode() == "0 error(s), 0 warning(s)\n"


def test_warnings_name_the_unused_secretreference_and_the_likely_typo(pkg) -> None:
    deployment = pkg / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("name: orders-db", "name: order-db"))
    proc = _lint(pkg)
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [
        "warning: SecretReference acme/orders-db metadata.name: unused: no consumer reads this SecretReference and "
        "it has no spec.targetPlane, so no ExternalSecret is generated from it (in secretreferences.yaml)",
        'warning: Deployment acme/orders spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name: '
        'secret "order-db" is not a SecretReference in namespace "acme"; did you mean "orders-db"? '
        "(in deployment.yaml)",
    ]
    assert proc.stderr.decode() == "0 error(s), 2 warning(s)\n"


def test_errors_exit_1_and_nothing_is_written(pkg) -> None:
    deployment = pkg / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("key: password", "key: pasword"))
    before = {p.name: p.read_bytes() for p in pkg.iterdir()}
    proc = _lint(pkg)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith('error: Deployment acme/orders spec.template.spec.containers[0].env[0]'
                                           '.valueFrom.secretKeyRef.key: key "pasword" not found')
    assert proc.stderr.decode() == "1 error(s), 0 warning(s)\n"
    assert {p.name: p.read_bytes() for p in pkg.iterdir()} == before


def test_unreadable_input_exits_1() -> None:
    proc = run_process(["lint", "/nonexistent"])
    assert proc.returncode == 1 and b"no such file or directory" in proc.stderr


def test_suggestion_only_when_close() -> None:
    assert lint.suggestion("orders-dbb", ["orders-db", "github-credentials"]) == "orders-db"
    assert lint.suggestion("tls-cert", ["orders-db", "github-credentials"]) is None


def _objects(folder) -> dict:
    return {str(p.relative_to(folder)): list(yaml.safe_load_all(p.read_text())) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_kpt_validator_in_validate_mode(pkg) -> None:
    """A Kptfile validators: entry with mode: validate passes a clean package, fails a broken one, writes nothing."""
    need(shutil.which("kpt") is not None, "kpt is not on PATH")
    need(shutil.which("secretref-fn") is not None, "the secretref-fn command is not installed")
    (pkg / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: quickstart\n"
        "pipeline:\n  validators:\n  - exec: secretref-fn\n    configMap:\n      mode: validate\n")
    before = _objects(pkg)
    ok = subprocess.run(["kpt", "fn", "render", "--allow-exec", str(pkg)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert _objects(pkg) == before  # no ExternalSecrets written, nothing changed (kpt may re-indent comments)
    deployment = pkg / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("key: password", "key: pasword"))
    bad = subprocess.run(["kpt", "fn", "render", "--allow-exec", str(pkg)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0
    assert 'key "pasword" not found in SecretReference "orders-db"' in bad.stderr


def test_a_secretreference_read_by_an_auto_deployed_workload_is_not_unused() -> None:
    """OpenChoreo binds an autoDeploy Component itself: its Workload's SecretReferences are used, though no
    ReleaseBinding in the input asks for them (lint said both 'reads SecretReferences' and 'unused')."""
    from krm_fn import krm, pipeline

    text = (ROOT / "testdata" / "openchoreo-autodeploy-without-binding" / "input.yaml").read_text()
    rl = krm.parse_resource_list(text)
    rl.items[:] = [obj for obj in rl.items if obj.get("kind") != "ReleaseBinding"]  # the reader's binding too
    out = pipeline.analyze(rl, {"mode": "validate"})
    messages = [r.message for r in out.results]
    assert any(m.startswith("autoDeploy is true") for m in messages), messages
    assert not any(m.startswith("unused:") for m in messages), messages
