"""No value from an input Secret ever reaches stdout or stderr."""
from __future__ import annotations

import base64

import pytest

from conftest import run_process

FAKE = "FAKE-value-4f1c9e-not-a-real-secret"


@pytest.mark.parametrize("policy", ["error", "warning", "allow"])
def test_secret_values_never_echoed(policy: str) -> None:
    encoded = base64.b64encode(FAKE.encode()).decode()
    stdin = f"""apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Secret
  metadata: {{name: leaked, namespace: acme}}
  data: {{password: {encoded}}}
  stringData: {{token: {FAKE}}}
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata: {{name: c}}
  data: {{plaintextSecrets: {policy}}}
""".encode()
    proc = run_process([], stdin)
    # The Secret itself passes through (we never drop input) but nothing we write quotes it.
    results = proc.stdout.decode().split("\nresults:\n", 1)[-1] if b"results:" in proc.stdout else ""
    assert FAKE not in results and encoded not in results
    assert FAKE.encode() not in proc.stderr and encoded.encode() not in proc.stderr
    assert proc.returncode == (1 if policy == "error" else 0)


def test_render_error_does_not_print_the_plaintext(tmp_path) -> None:
    (tmp_path / "s.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: a}}\n"
                                     f"stringData: {{k: {FAKE}}}\n")
    proc = run_process(["render", str(tmp_path)])
    assert proc.returncode == 1 and proc.stdout == b""
    assert FAKE.encode() not in proc.stderr
