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


TAG_LIKE = "!" + FAKE  # an unquoted password starting with "!" is a YAML tag


@pytest.mark.parametrize("value", [TAG_LIKE, "!!" + FAKE, f"!<{FAKE}>"])
def test_an_unquoted_value_read_as_a_tag_is_not_quoted(tmp_path, value: str) -> None:
    secret = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: a}}\nstringData:\n  k: {value}\n"
    (tmp_path / "s.yaml").write_text(secret)
    stdin = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- "
             + secret.replace("\n", "\n  ").rstrip() + "\n").encode()
    for proc in (run_process([], stdin), run_process(["render", str(tmp_path)]),
                 run_process(["lint", str(tmp_path)])):
        assert proc.returncode == 1, proc.stderr
        assert b"unknown tag" in proc.stdout + proc.stderr
        assert FAKE.encode() not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("text", "quoted"), [
    (f"a: *{FAKE}\n", FAKE),  # an alias's name
    (f"a: !{FAKE}!x y\n", FAKE),  # a tag handle
    (f'a: "\\q{FAKE}"\n', "'q'"),  # a character of the value, after a backslash
    (f"a: !!binary {FAKE}é\n", "\\xe9"),  # a character of the value that is not base64
])
def test_yaml_errors_quote_no_value_without_libyaml_either(text: str, quoted: str) -> None:
    # The pure-Python reader (PyYAML without libyaml) quotes aliases, tag handles and characters.
    import yaml

    from krm_fn import yamlio

    class PureLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                     yamlio._Loader):  # yamlio's constructors and resolver, PyYAML's Python reader
        def __init__(self, stream):
            for base in (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                         yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
                base.__init__(self, *([stream] if base is yaml.reader.Reader else []))

    with pytest.raises(yaml.YAMLError) as caught:
        list(yaml.load_all(text, PureLoader))
    message = str(yamlio._yaml_error(caught.value))
    assert "invalid YAML" in message and quoted not in message and "FAKE" not in message
