"""Upstream OpenChoreo's naming, pinned to its published test vectors.

Vectors from openchoreo-api.md section 7 (upstream fixture
``internal/pipeline/component/testdata/configurations-and-secrets/
expected-resources-with-config-helpers.yaml``, component ``test-app``,
environment ``dev``) and the data-plane namespace vectors computed there.
"""
from __future__ import annotations

import pytest

from krm_fn import names
from krm_fn.openchoreo_naming import (Remote, dataplane_namespace, env_configs_name, env_secrets_name,
                                      file_config_name, file_mount_volume, file_secret_name, fnv1a32,
                                      generate_k8s_name, git_secret_name, remote_ref_content_hash,
                                      secret_envs_content_hash, workflows_namespace)

ENVS = [("DB_PASSWORD", Remote("prod/db", "password")), ("API_KEY", Remote("dev/api", "api_key"))]


def test_env_secrets_hash_and_name() -> None:
    assert secret_envs_content_hash(ENVS) == "f3824912"
    assert generate_k8s_name(253, "f3824912", ["test-app-dev", "env-secrets"]) == "test-app-dev-env-secrets-757009dd"
    assert env_secrets_name("test-app", "dev", ENVS) == "test-app-dev-env-secrets-757009dd"


def test_env_hash_depends_on_order_and_skips_envs_without_remote() -> None:
    assert secret_envs_content_hash(list(reversed(ENVS))) != "f3824912"
    assert secret_envs_content_hash(ENVS[:1] + [("X", None)] + ENVS[1:]) == "f3824912"
    assert secret_envs_content_hash([]) == ""


@pytest.mark.parametrize("file_key, remote, ref_hash, name", [
    ("tls.crt", Remote("prod/certificates", "tls.crt"), "403eb603", "test-app-dev-secret-tls-crt-1381e562"),
    ("application.yaml", Remote("dev/config", "application.yaml"), "1898b11a",
     "test-app-dev-secret-application-yaml-07d48de3"),
])
def test_file_secret_names(file_key: str, remote: Remote, ref_hash: str, name: str) -> None:
    assert remote_ref_content_hash(remote) == ref_hash
    assert file_secret_name("test-app", "dev", file_key, remote) == name


def test_version_is_part_of_the_content_hash() -> None:
    assert remote_ref_content_hash(Remote("prod/db", "password", "3")) != remote_ref_content_hash(
        Remote("prod/db", "password"))
    assert remote_ref_content_hash(None) == fnv1a32("")


def test_config_names() -> None:
    assert env_configs_name("test-app", "dev") == "test-app-dev-env-configs-6f21fc92"
    assert file_config_name("test-app", "dev", "app.properties") == "test-app-dev-config-app-properties-ac691794"
    assert file_config_name("test-app", "dev", "config.json") == "test-app-dev-config-config-json-9aa130bc"


def test_older_fixture_without_content_hash() -> None:
    """expected-resources.yaml (no config helpers): plain oc_generate_name over the names."""
    assert generate_k8s_name(253, "", ["test-component-dev-12345678", "env-secrets"]) == \
        "test-component-dev-12345678-env-secrets-7d163eae"


@pytest.mark.parametrize("mount, file_key, volume", [
    ("/etc/tls", "tls.crt", "file-mount-9b2ef275"),
    ("/etc/config", "config.json", "file-mount-6c698306"),
    ("/etc/config", "app.properties", "file-mount-d08babc2"),
    ("/etc/config", "application.yaml", "file-mount-5953ef7b"),
])
def test_file_mount_volumes(mount: str, file_key: str, volume: str) -> None:
    assert file_mount_volume(mount, file_key) == volume


def test_dataplane_namespace() -> None:
    assert dataplane_namespace("default", "default", "development") == "dp-default-default-development-f8e58905"
    long = dataplane_namespace("my-organization-namespace", "a-very-long-project-name-for-testing",
                               "production-environment")
    assert long == "dp-my-organizati-a-very-long-p-production-e-529dfe56"
    assert len(long) <= 63 and names.dns1123_label_problem(long) is None


def test_sanitising_and_trimming() -> None:
    # hash over the original names; upper case and '_' sanitised; leading/trailing '-' '.' trimmed per part
    name = generate_k8s_name(253, "", ["-My_App.", "Dev"])
    assert name.startswith("my-app-dev-") and len(name) == len("my-app-dev-") + 8
    assert name != generate_k8s_name(253, "", ["my-app", "dev"])  # original names are hashed


def test_cuts_count_bytes() -> None:
    # 'é' is two UTF-8 bytes: a 63 limit over 4 names leaves 13/13/13/12 bytes
    name = generate_k8s_name(63, "", ["dp", "é" * 20, "p", "e"])
    assert len(name.encode("utf-8", errors="surrogateescape")) <= 63


def test_workflow_names() -> None:
    assert git_secret_name("build-42") == "build-42-git-secret"
    assert workflows_namespace("default") == "workflows-default"
