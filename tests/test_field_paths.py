"""Field paths in results: map keys in brackets, as Kubernetes writes them (README, "Exit codes and errors")."""
from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from krm_fn import config, krm, models
from krm_fn.krm import Results
from krm_fn.yamlio import INT, RawScalar


def test_a_map_key_goes_in_brackets_as_yaml_wrote_it() -> None:
    assert krm.field_key("metadata.annotations", "a.b/c") == "metadata.annotations[a.b/c]"
    assert krm.field_key("spec.containers", RawScalar(INT, "1")) == "spec.containers[1]"
    assert krm.field_key("spec.containers", True) == "spec.containers[true]"
    assert krm.field_key("spec.containers", None) == "spec.containers[null]"


@pytest.mark.parametrize(("loc", "keyed", "path"), [
    (("data", 0, "remoteRef", "key"), False, "spec.data[0].remoteRef.key"),
    (("template", "metadata", "labels", "app.kubernetes.io/name"), False,
     "spec.template.metadata.labels[app.kubernetes.io/name]"),
    # a key's own error: pydantic adds "[key]" after the key
    (("template", "metadata", "annotations", "bad key", "[key]"), False, "spec.template.metadata.annotations[bad key]"),
    # a key that looks like one of pydantic's own loc markers is still a key
    (("template", "metadata", "labels", "str"), False, "spec.template.metadata.labels[str]"),
    (("template", "metadata", "labels"), False, "spec.template.metadata.labels"),
    # a field whose name merely starts like a loc marker is a field (an unknown `stringData`)
    (("stringData",), False, "spec.stringData"),
    (("dataPlaneRef", "str"), False, "spec.dataPlaneRef"),
    (("dataPlaneRef", "DataPlaneRef", "name"), False, "spec.dataPlaneRef.name"),
    (("strategy", "union[a,b]", "function-after[x]", "x"), False, "spec.strategy.x"),
    (("planes", 0), True, "data[planes][0]"),
])
def test_pydantic_locations(loc: tuple, keyed: bool, path: str) -> None:
    assert models.field_path(loc, "data" if keyed else "spec", keyed) == path


def _fields(model: type[BaseModel]) -> typing.Iterator[tuple[str, typing.Any]]:
    """(name, annotation) of every field of ``model`` and of the models its fields hold."""
    seen: set[type] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            yield name, info.annotation
            stack = [info.annotation]
            while stack:
                tp = stack.pop()
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    todo.append(tp)
                stack.extend(typing.get_args(tp))


def _is_map(annotation: typing.Any) -> bool:
    stack = [annotation]
    while stack:
        tp = stack.pop()
        if typing.get_origin(tp) is dict or tp is dict:
            return True
        if typing.get_origin(tp) in (typing.Union, typing.Annotated) or str(typing.get_origin(tp)) == "types.UnionType":
            stack.extend(typing.get_args(tp))
    return False


def test_map_fields_are_exactly_the_models_maps() -> None:
    roots = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    roots.append(config.FunctionConfig)
    fields = [(name, annotation) for root in roots for name, annotation in _fields(root)]
    assert fields, "no model fields found"
    maps = {name for name, annotation in fields if _is_map(annotation)}
    assert maps == models.MAP_FIELDS
    assert not [name for name, annotation in fields if name in models.MAP_FIELDS and not _is_map(annotation)]


def test_configmap_and_secretfanout_settings() -> None:
    assert config.setting_path({"kind": "ConfigMap"}, "planes") == "data[planes]"
    assert config.setting_path({"kind": "SecretFanout"}, "planes") == "spec.planes"
    results = Results()
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a.b": "x"}}
    assert config.load(cfg, results) is None
    assert [r.field_path for r in results] == ["data[a.b]"]


def test_a_key_yaml_read_as_another_type_is_written_as_the_input_has_it() -> None:
    """pydantic's loc holds such a key's repr (1 for true): the path shows the key as YAML wrote it."""
    labels = {RawScalar(INT, "1"): "v", True: "v", None: "v", "ok": "v"}
    data = {"template": {"metadata": {"labels": labels}}}
    locs = [("template", "metadata", "labels", repr(RawScalar(INT, "1")), "[key]"),
            ("template", "metadata", "labels", 1, "[key]"), ("template", "metadata", "labels", "None", "[key]"),
            ("template", "metadata", "labels", "ok")]
    assert [models.field_path(loc, data=data) for loc in locs] == [
        "spec.template.metadata.labels[1]", "spec.template.metadata.labels[true]",
        "spec.template.metadata.labels[null]", "spec.template.metadata.labels[ok]"]
    results = Results()
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "data": {RawScalar(INT, "1"): "x", True: "y"}}
    assert config.load(cfg, results) is None
    assert [r.field_path for r in results] == ["data[1]", "data[true]"]


def test_only_the_union_branch_the_input_is_shaped_for_is_reported() -> None:
    from pydantic import ValidationError

    for value, expected in (({"kind": "DataPlane"}, ["spec.dataPlaneRef.name"]), (5, ["spec.dataPlaneRef"])):
        data = {"dataPlaneRef": value}
        try:
            models.EnvironmentSpec.model_validate(data)
        except ValidationError as exc:
            assert [path for path, _ in models.validation_problems(exc, data=data)] == expected, value
        else:
            raise AssertionError(f"{value!r} validated")


def test_a_field_name_yaml_read_as_another_type_is_shown_as_written() -> None:
    """In a model (not a map) pydantic reports such a key by its repr ("RawScalar('1')", 1 for true, "None")."""
    from pydantic import ValidationError

    data = {"secretStoreRef": {"name": "s", RawScalar(INT, "1"): "x", True: "y", None: "z"}}
    with pytest.raises(ValidationError) as caught:
        models.PlaneSpec.model_validate(data)
    problems = models.validation_problems(caught.value, data=data)
    assert [path for path, _ in problems] == ["spec.secretStoreRef[1]", "spec.secretStoreRef[true]",
                                              "spec.secretStoreRef[null]"]
    assert all(message.startswith("a field name must be a string") for _, message in problems)


def test_a_map_key_named_str_is_a_key_not_a_union_branch() -> None:
    """pydantic names a union's str branch "str" in loc: a label key "str" must not be taken for one (its error
    was dropped as the 'other branch', or called a string-or-mapping field)."""
    from pydantic import ValidationError

    data = {"template": {"metadata": {"labels": {"str": [1], "other": [1]}}}, "data": []}
    with pytest.raises(ValidationError) as caught:
        models.SecretReferenceSpec.model_validate(data)
    problems = dict(models.validation_problems(caught.value, data=data))
    assert problems["spec.template.metadata.labels[str]"] == "expected a string, found a list"
    assert problems["spec.template.metadata.labels[other]"] == "expected a string, found a list"
