"""OpenChoreo's workflow-plane consumption path: git credentials of builds.

A ``WorkflowRun`` (or a ``Component``) passes a SecretReference name as the
workflow parameter ``repository.secretRef``.  OpenChoreo's stock workflows
then render ``<WorkflowRun>-git-secret`` in ``workflows-<namespace>`` on the
workflow plane, copying the SecretReference's data and ``template.type``.

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

from typing import Iterator

from . import krm, models
from .consumers import Need, get, is_openchoreo, check_labels, text
from .inventory import Inventory, PlaneId
from .openchoreo_naming import git_secret_name, workflows_namespace
from .render import UPSTREAM_WORKFLOW

SECRET_REF_FIELD = "spec.workflow.parameters.repository.secretRef"
COMPONENT_LABEL = "openchoreo.dev/component"
_DEFAULT_CHAIN = (("ClusterWorkflowPlane", False), ("WorkflowPlane", True), ("BuildPlane", True),
                  ("ClusterBuildPlane", False))


def workflow_plane(owner: dict, workflows: dict[tuple[str, str, str], dict], inv: Inventory,
                   results: krm.Results) -> PlaneId | None:
    """The workflow plane a Component's or WorkflowRun's workflow runs on, as OpenChoreo picks it."""
    ns = krm.namespace(owner)
    kind = text(get(owner, "spec", "workflow", "kind")) or "ClusterWorkflow"
    name = text(get(owner, "spec", "workflow", "name"))
    workflow = workflows.get((kind, "" if kind == "ClusterWorkflow" else ns, name))
    if workflow is not None:
        for field in ("workflowPlaneRef", "buildPlaneRef"):
            ref = get(workflow, "spec", field)
            if isinstance(ref, dict) and text(ref.get("name")):
                plane_kind = text(ref.get("kind")) or "ClusterWorkflowPlane"
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


def _need(obj: dict, target: str, labels: dict, workflows, inv: Inventory, results: krm.Results) -> Iterator[Need]:
    secret = text(get(obj, *SECRET_REF_FIELD.split(".")))
    if not secret:
        return  # upstream skips the git secret when the parameter is empty
    if not check_labels(labels, obj, {"openchoreo.dev/namespace": "metadata.namespace",
                                      "openchoreo.dev/workflowrun-namespace": "metadata.namespace",
                                      "openchoreo.dev/project": "spec.owner.projectName"}, results):
        return
    plane = workflow_plane(obj, workflows, inv, results)
    if plane is None:
        return
    ns = krm.namespace(obj)
    yield Need(obj, SECRET_REF_FIELD, secret, ns, "build", workflows_namespace(ns), target, plane=plane,
               labels=labels, upstream=UPSTREAM_WORKFLOW)


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
