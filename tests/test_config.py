"""The function config: both bundled forms load, and mean the same."""
from __future__ import annotations

import pytest
import yaml

from conftest import ROOT
from krm_fn import config as fnconfig
from krm_fn.krm import Results


def _load(name: str):
    results = Results()
    loaded = fnconfig.load(yaml.safe_load((ROOT / "fn-config" / name).read_text()), results)
    assert not results, [r.line() for r in results]
    return loaded


def test_bundled_configs_are_the_defaults() -> None:
    assert _load("secretfanout.yaml") == _load("configmap.yaml") == fnconfig.FunctionConfig()


def test_policy_combinations_esos_webhook_rejects() -> None:
    results = Results()
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "data": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}}
    assert fnconfig.load(cfg, results) is None
    assert [r.message for r in results] == [
        "invalid function config: deletionPolicy Delete needs creationPolicy Owner (ESO rejects it otherwise)"]


def test_unsupported_config_kind() -> None:
    results = Results()
    assert fnconfig.load({"apiVersion": "example.com/v1", "kind": "Other", "metadata": {"name": "x"}}, results) is None
    assert "unsupported function config example.com/v1/Other" in results[0].message


def test_mode_accepts_render_and_validate_only() -> None:
    for mode in ("render", "validate"):
        results = Results()
        cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": mode}}
        assert fnconfig.load(cfg, results).mode == mode and not results
    results = Results()
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": "check"}}
    assert fnconfig.load(cfg, results) is None
    assert [(r.field_path, r.message) for r in results] == [
        ("data[mode]", "invalid function config: Input should be 'render' or 'validate'")]


def test_output_dir_folder_names_fit_a_file_system() -> None:
    from krm_fn import names

    assert names.output_dir_problem("planes/" + "a" * 255) is None
    assert names.output_dir_problem("planes/" + "a" * 256) == "a folder name must be at most 255 characters"


def test_output_generated_is_refused_on_input_from_kpt_unless_validating() -> None:
    """kpt deletes the file of every object a function does not return; validate mode returns them all."""
    from krm_fn import krm, pipeline

    item = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {krm.SEQINDENT: "compact", krm.PATH: "c.yaml"}}}
    for mode, errors in (("render", ["data[output]"]), ("validate", [])):
        cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"},
               "data": {"output": "generated", "mode": mode}}
        out = pipeline.analyze(krm.ResourceList([item], cfg))
        assert [r.field_path for r in out.results if r.severity == "error"] == errors, mode
        assert out.items == [item], mode


def test_an_environment_twice_is_an_error_only_for_different_planes() -> None:
    """dataPlaneRef: default and no dataPlaneRef resolve alike when DataPlane default exists (README)."""
    from krm_fn import krm, pipeline

    def env(ref: dict) -> dict:
        return {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "Environment",
                "metadata": {"name": "dev", "namespace": "acme"}, "spec": ref}

    plane = {"apiVersion": "openchoreo.dev/v1alpha1", "kind": "DataPlane",
             "metadata": {"name": "default", "namespace": "acme"}, "spec": {"secretStoreRef": {"name": "vault"}}}
    alike = pipeline.analyze(krm.ResourceList([env({"dataPlaneRef": "default"}), env({}), plane]))
    assert not alike.results.has_errors, [r.line() for r in alike.results]
    other = pipeline.analyze(krm.ResourceList([env({"dataPlaneRef": "other"}), env({}), plane]))
    assert [r.line() for r in other.results if r.severity == "error"] == [
        "error: Environment acme/dev spec.dataPlaneRef: Environment acme/dev is defined more than once, for "
        "different planes (DataPlane/acme/other, DataPlane/acme/default)"]


@pytest.mark.parametrize(("value", "folder"), [("./planes", "planes"), ("planes/", "planes"),
                                               ("././gen/planes/", "gen/planes")])
def test_output_dir_is_cleaned_as_kpt_cleans_paths(value: str, folder: str) -> None:
    results = Results()
    cfg = fnconfig.load({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                         "data": {"outputDir": value}}, results)
    assert cfg is not None and cfg.outputDir == folder and not list(results)
