"""OpenChoreo's workflow-plane consumption path: git credentials of builds.

A ``WorkflowRun`` (or a ``Component``) passes a SecretReference name as a
workflow parameter: the one the workflow's parameter schema marks
``x-openchoreo-component-parameter-repository-secret-ref: true`` (v1.x), or
the ``secretRef`` entry of its ``openchoreo.dev/component-workflow-parameters``
annotation (v0.17); ``repository.secretRef`` (the stock workflows' parameter)
when the workflow marks none or is not in the input.  OpenChoreo's stock
workflows then render ``<WorkflowRun>-git-secret`` in ``workflows-<namespace>``
on the workflow plane, copying the SecretReference's data and ``template.type``.

Plane: the ``Workflow`` / ``ClusterWorkflow`` named by ``spec.workflow``
(``kind`` defaults to ``ClusterWorkflow``) -> its ``workflowPlaneRef`` (or
v0.17's ``buildPlaneRef``); absent (or the Workflow is not in the input):
the CRD default ``ClusterWorkflowPlane default``, then ``WorkflowPlane
default`` in the namespace (then the legacy ``BuildPlane default`` and
``ClusterBuildPlane default``).

A ``Component`` whose runs are not in the input gets ``<component>-git-secret``
(same namespace and plane): the credentials are in place before the first
run.  Once a WorkflowRun labelled ``openchoreo.dev/component: <component>``
is in the input, the run's secret replaces the component's.
"""
from __future__ import annotations

import re
from typing import Iterator

from . import krm, models
from .consumers import Need, get, is_openchoreo, check_labels, text
from .inventory import Inventory, PlaneId
from .openchoreo_naming import git_secret_name, workflows_namespace
from .render import UPSTREAM_WORKFLOW

SECRET_REF_PARAMETER = ("repository", "secretRef")  # the stock workflows' parameter
SECRET_REF_MARKER = "x-openchoreo-component-parameter-repository-secret-ref"
PARAMETERS_ANNOTATION = "openchoreo.dev/component-workflow-parameters"
COMPONENT_LABEL = "openchoreo.dev/component"
_DEFAULT_CHAIN = (("ClusterWorkflowPlane", False), ("WorkflowPlane", True), ("BuildPlane", True),
                  ("ClusterBuildPlane", False))


Workflows = dict[tuple[str, str, str], dict]  # (kind, namespace or "", name) -> Workflow / ClusterWorkflow


def _workflow(owner: dict, workflows: Workflows) -> tuple[str, str, dict | None]:
    """(kind, name, the object if it is in the input) of the workflow ``spec.workflow`` names."""
    kind = text(get(owner, "spec", "workflow", "kind")) or "ClusterWorkflow"
    name = text(get(owner, "spec", "workflow", "name"))
    return kind, name, workflows.get((kind, "" if kind == "ClusterWorkflow" else krm.namespace(owner), name))


def secret_ref_parameter(workflow: dict | None, results: krm.Results) -> tuple[str, ...] | None:
    """The parameter a workflow takes its git SecretReference name from, as OpenChoreo finds it: the
    property its parameter schema marks (v1.x), the ``secretRef`` entry of its parameters annotation
    (v0.17), else ``repository.secretRef``.  None (an error result) when the schema marks several."""
    if workflow is None:
        return SECRET_REF_PARAMETER
    marked = list(_marked(get(workflow, "spec", "parameters", "openAPIV3Schema"), ()))
    if len(marked) > 1:
        listed = ", ".join(".".join(path) for path in marked)
        results.error(f"{len(marked)} parameters are marked {SECRET_REF_MARKER}: {listed}; OpenChoreo takes the "
                      "git credentials from exactly one", workflow, "spec.parameters.openAPIV3Schema")
        return None
    return marked[0] if marked else _annotated(krm.annotations(workflow).get(PARAMETERS_ANNOTATION))


def _marked(schema, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The paths of the properties carrying the secret-ref marker (depth first, in order)."""
    if not isinstance(schema, dict):
        return
    if path and schema.get(SECRET_REF_MARKER) is True:
        yield path
    properties = schema.get("properties")
    for name, sub in properties.items() if isinstance(properties, dict) else ():
        if isinstance(name, str) and name:
            yield from _marked(sub, path + (name,))


def _annotated(mapping) -> tuple[str, ...]:
    """The ``secretRef`` entry of v0.17's parameters annotation (``key: parameters.<path>`` pairs, a line
    each or separated by commas; a ``#`` comment or quotes around the path allowed), else the stock one."""
    for pair in re.split(r"[\n,]", mapping) if isinstance(mapping, str) else ():
        key, _, value = pair.partition(":")
        parts = value.split("#", 1)[0].strip().strip("'\"").split(".")
        if key.strip().strip("'\"") == "secretRef" and len(parts) > 1 and parts[0] == "parameters" and all(parts):
            return tuple(parts[1:])
    return SECRET_REF_PARAMETER


# The plane kinds a workflow may name (OpenChoreo's CRDs; a ClusterWorkflow only the cluster-scoped one).
_PLANE_REF_KINDS = {"workflowPlaneRef": ("WorkflowPlane", "ClusterWorkflowPlane"),
                    "buildPlaneRef": ("BuildPlane", "ClusterBuildPlane")}


def workflow_plane(owner: dict, named: tuple[str, str, dict | None], inv: Inventory,
                   results: krm.Results) -> PlaneId | None:
    """The workflow plane a Component's or WorkflowRun's workflow (:func:`_workflow`) runs on, as OpenChoreo
    picks it."""
    ns = krm.namespace(owner)
    kind, name, workflow = named
    if workflow is not None:
        for field in ("workflowPlaneRef", "buildPlaneRef"):
            ref = get(workflow, "spec", field)
            if isinstance(ref, dict) and text(ref.get("name")):
                plane_kind = text(ref.get("kind")) or "ClusterWorkflowPlane"  # (workflowPlaneRef's CRD default)
                allowed = _PLANE_REF_KINDS[field]
                if workflow.get("kind") == "ClusterWorkflow":
                    allowed = tuple(k for k in allowed if k in models.CLUSTER_PLANE_KINDS)
                if field == "buildPlaneRef" and not text(ref.get("kind")):  # (required, no default: v0.17 CRD)
                    results.error(f"spec.buildPlaneRef has no kind: the plane a {kind} runs on must be named as a "
                                  f"{' or '.join(allowed)}", workflow, f"spec.{field}")
                    return None
                if text(ref.get("kind")) and plane_kind not in allowed:  # (a DataPlane would get git credentials)
                    results.error(f"the plane a {kind} runs on must be a {' or '.join(allowed)}, found "
                                  f"{plane_kind!r}", workflow, f"spec.{field}.kind")
                    return None
                plane = PlaneId(plane_kind, "" if plane_kind in models.CLUSTER_PLANE_KINDS else ns, ref["name"])
                if plane not in inv.planes:
                    results.error(f"{kind} {name} runs on {plane}, which is not in the input", workflow,
                                  f"spec.{field}")
                    return None
                return plane
    default = inv.first_plane(PlaneId(plane_kind, ns if namespaced else "", "default")
                              for plane_kind, namespaced in _DEFAULT_CHAIN)
    if default is not None:
        return default
    results.error(f"no workflow plane for {kind} {name or '(unnamed)'}: neither ClusterWorkflowPlane default nor "
                  f"WorkflowPlane {ns}/default is in the input", owner, "spec.workflow")
    return None


def _need(obj: dict, target: str, labels: dict, workflows: Workflows, inv: Inventory,
          results: krm.Results) -> Iterator[Need]:
    workflow = _workflow(obj, workflows)
    parameter = secret_ref_parameter(workflow[2], results)
    if parameter is None:
        return
    field = "spec.workflow.parameters." + ".".join(parameter)
    value = get(obj, "spec", "workflow", "parameters", *parameter)
    if value is not None and not isinstance(value, str):
        results.error(f"expected the name of a SecretReference, found a {krm.type_name(value)}", obj, field)
        return
    secret = text(value)
    if not secret:
        return  # upstream skips the git secret when the parameter is empty
    if not krm.has_namespace(obj, results):
        return
    if not check_labels(labels, obj, {"openchoreo.dev/namespace": "metadata.namespace",
                                      "openchoreo.dev/workflowrun-namespace": "metadata.namespace",
                                      "openchoreo.dev/project": "spec.owner.projectName"}, results):
        return
    plane = workflow_plane(obj, workflow, inv, results)
    if plane is None:
        return
    ns = krm.namespace(obj)
    yield Need(obj, field, secret, ns, "build", workflows_namespace(ns), target, plane=plane, labels=labels,
               upstream=UPSTREAM_WORKFLOW, made_up=True)


def find(items: list, inv: Inventory, results: krm.Results) -> list[Need]:
    """Needs of every WorkflowRun, then of every Component without a run in the input."""
    live = [obj for i, obj in enumerate(items) if i not in inv.owned]
    workflows = {(obj["kind"], krm.namespace(obj) if obj["kind"] == "Workflow" else "", krm.name(obj)): obj
                 for obj in live if is_openchoreo(obj, "Workflow") or is_openchoreo(obj, "ClusterWorkflow")}
    runs = [obj for obj in live if is_openchoreo(obj, "WorkflowRun")]
    with_runs = {(krm.namespace(r), text(krm.labels(r).get(COMPONENT_LABEL))) for r in runs}
    needs: list[Need] = []
    for run in runs:
        ns, name = krm.namespace(run), krm.name(run)
        labels = {"openchoreo.dev/workflowrun": name, "openchoreo.dev/workflowrun-namespace": ns}
        needs.extend(_need(run, git_secret_name(name), labels, workflows, inv, results))
    for component in live:
        if not is_openchoreo(component, "Component"):
            continue
        ns, name = krm.namespace(component), krm.name(component)
        if (ns, name) in with_runs:
            continue
        labels = {"openchoreo.dev/namespace": ns, COMPONENT_LABEL: name}
        project = text(get(component, "spec", "owner", "projectName"))
        if project:
            labels["openchoreo.dev/project"] = project
        needs.extend(_need(component, git_secret_name(name), labels, workflows, inv, results))
    return needs
