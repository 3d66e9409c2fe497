"""Step 3: resolve each need to the plane(s) its ExternalSecret goes to.

Order for one consumer (first match wins):

1. the consumer's ``secretref-fn.openchoreo.dev/plane`` annotation;
2. its ``openchoreo.dev/environment`` label or annotation -> that Environment's
   data plane (data family only);
3. a plane named ``default`` of the family in the home namespace, then a
   cluster-scoped one named ``default``;
4. the only plane of the family visible from the home namespace (namespaced
   planes there plus cluster-scoped planes).

A ServiceClass without the annotation fans out to every data plane the
Environments of its namespace point to (every DataPlane of the namespace
when it has no Environments).
"""
from __future__ import annotations

from . import krm, models
from .constants import OPENCHOREO_ENVIRONMENT, PLANE_ANNOTATION
from .consumers import Need
from .inventory import Environment, Inventory, PlaneId, data_plane_of

_FAMILY_KINDS = {
    "data": (("DataPlane",), ("ClusterDataPlane",)),
    "build": (("WorkflowPlane", "BuildPlane"), ("ClusterWorkflowPlane", "ClusterBuildPlane")),
}


class PlacementError(Exception):
    def __init__(self, message: str, field: str | None = None, obj: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.obj = obj


def _annotation_or_label(obj: dict, key: str) -> tuple[str, str, str] | None:
    """(the annotation's value, "annotation", its field path), else the label's, else None; both, with
    different values, are an error (which one was meant?)."""
    found = krm.annotation_and_label(obj, key)
    if len(found) == 2 and found[0][0] != found[1][0]:
        raise PlacementError(f"the annotation and the label {key} disagree ({found[0][0]!r}, {found[1][0]!r}): "
                             "keep one", found[0][2])
    return found[0] if found else None


def environment_plane(env: Environment, inv: Inventory) -> PlaneId:
    """An Environment's data plane, as OpenChoreo resolves it."""
    plane = data_plane_of(env, inv)
    if plane is None:
        raise PlacementError(f"Environment {env.namespace}/{env.name} has no dataPlaneRef and neither DataPlane "
                             f"{env.namespace}/default nor ClusterDataPlane default is in the input",
                             "spec.dataPlaneRef", env.obj)
    if plane not in inv.planes:  # (a default is in the input: only a named plane can be missing)
        raise PlacementError(f"Environment {env.namespace}/{env.name} points to {plane}, "
                             "which is not in the input", "spec.dataPlaneRef", env.obj)
    return plane


def _visible(inv: Inventory, family: str, home: str) -> list[PlaneId]:
    return sorted(p for p in inv.planes if p.family == family and p.namespace in ("", home))


def _single(need: Need, inv: Inventory) -> PlaneId:
    obj = need.consumer
    home = need.home_namespace
    found = _annotation_or_label(obj, PLANE_ANNOTATION)
    if found is not None:
        explicit, what, path = found
        plane = PlaneId.parse(explicit, home)
        if plane is None or plane.kind not in models.PLANE_KINDS:
            raise PlacementError(f"{what} {PLANE_ANNOTATION}: {explicit!r} is not '<Kind>/<name>' or "
                                 f"'<Kind>/<namespace>/<name>' with Kind one of {', '.join(models.PLANE_KINDS)}",
                                 path)
        if plane not in inv.planes:
            raise PlacementError(f"{what} {PLANE_ANNOTATION} names {plane}, which is not in the input", path)
        return plane
    if need.family == "data":
        found = _annotation_or_label(obj, OPENCHOREO_ENVIRONMENT)
        if found is not None:
            env_name, _, path = found
            env = inv.environments.get((home, env_name))
            if env is None:
                where = "is invalid (see its error)" if (home, env_name) in inv.invalid_environments \
                    else "is not in the input"
                raise PlacementError(f"Environment {home}/{env_name} (from {OPENCHOREO_ENVIRONMENT}) {where}", path)
            return environment_plane(env, inv)
    namespaced, cluster = _FAMILY_KINDS[need.family]
    defaults = [p for p in (PlaneId(k, home, "default") for k in namespaced) if p in inv.planes]
    if not defaults:
        defaults = [p for p in (PlaneId(k, "", "default") for k in cluster) if p in inv.planes]
    if len(defaults) == 1:
        return defaults[0]
    candidates = defaults or _visible(inv, need.family, home)
    if len(candidates) == 1:
        return candidates[0]
    family = "data" if need.family == "data" else "build/workflow"
    hint = f"set the annotation {PLANE_ANNOTATION}: <Kind>/<name> on {krm.ObjectRef.of(obj)}"
    if not candidates:
        raise PlacementError(f"no {family} plane for secret {need.secret_name!r}: none in namespace {home!r} "
                             f"and no cluster-scoped one; add a plane or {hint}", need.field)
    listed = ", ".join(str(c) for c in candidates)
    raise PlacementError(f"cannot choose a {family} plane for secret {need.secret_name!r} among {listed}; {hint}",
                         need.field)


def _fan_out(need: Need, inv: Inventory) -> list[PlaneId]:
    if _annotation_or_label(need.consumer, PLANE_ANNOTATION) is not None:
        return [_single(need, inv)]
    envs = [e for (ns, _), e in sorted(inv.environments.items()) if ns == need.home_namespace]
    if envs:
        return sorted({environment_plane(env, inv) for env in envs})
    planes = [p for p in inv.planes if p.kind == "DataPlane" and p.namespace == need.home_namespace]
    return sorted(planes) if planes else [_single(need, inv)]


def planes_for(need: Need, inv: Inventory) -> list[PlaneId]:
    """The planes ``need`` must reach; raises :class:`PlacementError`."""
    if need.plane is not None:
        if need.plane not in inv.planes:
            raise PlacementError(f"targetPlane {need.plane} is not in the input", "spec.targetPlane")
        return [need.plane]
    return _fan_out(need, inv) if need.fan_out else [_single(need, inv)]
