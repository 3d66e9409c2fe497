"""plan.Planned: how needs that land on one ExternalSecret merge, and when they conflict."""
from __future__ import annotations

from krm_fn import models
from krm_fn.inventory import PlaneId, SecretRef, Store, plain_spec
from krm_fn.plan import Planned
from krm_fn.render import Entry, Target


def _ref(name: str, *keys: str) -> SecretRef:
    spec = models.SecretReferenceSpec.model_validate(
        {"template": {}, "data": [{"secretKey": k, "remoteRef": {"key": f"{name}/{k}"}} for k in keys]})
    return SecretRef({"metadata": {"name": name, "namespace": "ns"}}, "ns", name, plain_spec(spec, "ns"))


TARGET = Target(PlaneId("ClusterDataPlane", "", "default"), Store("vault", "ClusterSecretStore"), "dp", "es")


def _whole(ref: SecretRef) -> list[Entry]:
    return [Entry(i.secret_key, ref, i) for i in ref.spec.data]


def _pick(ref: SecretRef, key: str, as_key: str) -> list[Entry]:
    return [Entry(as_key, ref, next(i for i in ref.spec.data if i.secret_key == key))]


def test_whole_copies_of_one_secretreference_merge() -> None:
    a = _ref("a", "x")
    planned = Planned(TARGET, a, _whole(a))
    assert planned.conflict(a, _whole(a)) is None
    assert [e.secret_key for e in planned.entries] == ["x"]


def test_whole_copies_of_two_secretreferences_conflict() -> None:
    a, b = _ref("a", "x"), _ref("b", "y")
    assert Planned(TARGET, a, _whole(a)).conflict(b, _whole(b)) == "two SecretReferences: ns/a"


def test_picked_entries_gather_and_identical_ones_are_kept_once() -> None:
    a, b = _ref("a", "x"), _ref("b", "y")
    planned = Planned(TARGET, None, _pick(a, "x", "X"))
    assert planned.conflict(None, _pick(b, "y", "Y")) is None
    assert planned.conflict(None, _pick(a, "x", "X")) is None
    assert [(e.secret_key, e.ref.name) for e in planned.entries] == [("X", "a"), ("Y", "b")]
    assert planned.source == "ns/a,ns/b"


def test_one_key_from_two_places_conflicts() -> None:
    a, b = _ref("a", "x"), _ref("b", "x")
    planned = Planned(TARGET, None, _pick(a, "x", "X"))
    assert planned.conflict(None, _pick(b, "x", "X")) == "two sources for key 'X': ns/a"
    assert len(planned.entries) == 1


def test_whole_copy_and_picked_entries_conflict() -> None:
    a = _ref("a", "x")
    assert Planned(TARGET, a, _whole(a)).conflict(None, _pick(a, "x", "X")) == \
        "both a whole SecretReference and single entries picked under new keys: ns/a"
