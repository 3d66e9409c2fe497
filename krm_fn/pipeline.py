"""The data flow of one run, start to end.

read -> type (inventory) -> find consumers -> place on planes (plan)
-> render ExternalSecrets -> reconcile with the input -> ResourceList out.

:func:`analyze` runs every step and keeps the intermediate data (for
``explain`` and ``lint``); :func:`run` is the KRM function itself.

With ``mode: validate`` the items pass through unchanged (nothing is
generated, pruned or annotated) and the results gain the lint warnings of
:mod:`krm_fn.lint`: what a kpt ``validators:`` entry and ``secretref-fn lint``
report.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import config as fnconfig
from . import consumers, inventory, krm, limits, lint, ownership, plan, reconcile, releasebindings, render, workflowruns


@dataclass
class Analysis:
    """Everything one run learned: what ``run`` writes, and how it got there."""

    items: list  # the output items; generated ExternalSecrets are render.Pending until written
    function_config: dict | None
    results: krm.Results
    config: fnconfig.FunctionConfig | None = None
    inventory: inventory.Inventory | None = None
    needs: list[consumers.Need] = field(default_factory=list)
    planned: list[plan.Planned] = field(default_factory=list)  # checked and kept, in output order
    file_indexes: list[int] = field(default_factory=list)  # each one's position in its file

    @property
    def generated(self) -> list[dict]:
        """The generated ExternalSecrets, rendered (same order as ``planned``)."""
        return [render.external_secret(p, self.config, i) for p, i in zip(self.planned, self.file_indexes)]

    def resource_list(self, deferred: bool = False) -> krm.ResourceList:
        """The output; with ``deferred``, generated objects are rendered only as they are written."""
        return krm.ResourceList(self.items if deferred else krm.built(self.items), self.function_config,
                                self.results)


def analyze(rl: krm.ResourceList, overrides: dict | None = None, files: bool = True) -> Analysis:
    """Process one ResourceList. Never raises for bad input: problems become results.

    ``overrides`` replaces function-config fields (the CLI's ``--plane``).  ``files``: the output is
    written to files by its path annotations (kpt; ``lint`` and ``explain`` check for it); False for
    ``render``, whose stream carries no paths, so two planes' objects cannot clash in a file.
    """
    results = krm.Results()
    items = rl.items
    krm.check_items(items, results)
    config = fnconfig.load(rl.function_config, results)
    if config is not None and overrides:
        config = config.model_copy(update=overrides)
    if config is not None and config.output == "generated" and config.mode != "validate" and _from_kpt(items):
        results.error("output: generated returns only the generated ExternalSecrets, and kpt deletes the files of "
                      "every object a function does not return (these items come from kpt): use output: all "
                      "with kpt", rl.function_config, fnconfig.setting_path(rl.function_config or {}, "output"))
        config = None
    if config is None:
        return Analysis(list(items), rl.function_config, results)
    every = items  # what passes through; ``items`` below: what this run reads
    from_kpt = _from_kpt(items)
    items = _without_subpackages_of_their_own(items) if from_kpt else items
    subpackages = items is not every
    items = items + _list_members(items, results)
    inv = inventory.build(items, config, results, files=from_kpt)
    if subpackages:
        inventory.note_subpackage_objects((o for o, mine in zip(every, items) if mine is None and isinstance(o, dict)),
                                          inv)
    needs = (consumers.find(items, inv, results) + releasebindings.find(items, inv, results)
             + workflowruns.find(items, inv, results) + list(consumers.target_plane_needs(inv)))
    # `planes` set by the caller (render --plane) is not the config's to be blamed for.
    planes_source = None if overrides and "planes" in overrides else rl.function_config
    elsewhere: set[int] = set()  # consumers with needs on planes outside `planes`
    planned = plan.build(needs, inv, config, results, planes_source, elsewhere)
    renderable: list[plan.Planned] = []
    for item in planned:
        try:
            render.check(item, config)
        except render.RenderError as exc:
            results.error(exc.message, item.sources[0].obj, exc.field)
            continue
        renderable.append(item)
    kept = reconcile.drop_clashes(renderable, inv, config, results, files)
    staying = (obj for index, obj in enumerate(items) if isinstance(obj, dict) and index not in inv.owned)
    indexes = render.file_indexes(kept, config, staying)
    if config.mode == "validate":
        lint.check(items, inv, needs, kept, results)
        out = list(every)
    else:
        annotate = consumers.consumer_annotations([n for p in kept for n in p.needs])
        out = reconcile.merge(every, inv, [render.Pending(p, config, i) for p, i in zip(kept, indexes)], annotate,
                              config, elsewhere)
    if config.externalSecretAPIVersion.endswith("v1beta1"):
        results.warning("externalSecretAPIVersion external-secrets.io/v1beta1 is not served by External Secrets "
                        "Operator 0.17 and later; use it only for ESO 0.16 and older", rl.function_config,
                        fnconfig.setting_path(rl.function_config or {}, "externalSecretAPIVersion"))
        if any(render.syncs_on_change_only(p, config) for p in kept):
            results.warning("refreshInterval 0 is written with refreshPolicy: OnChange, which ESO before 0.16 "
                            "does not know: there, depending on the version, such an ExternalSecret may never be "
                            "refreshed again once synced", rl.function_config)
    return Analysis(out, rl.function_config, _dedupe(results), config, inv, needs, kept, indexes)


def _list_members(items: list, results: krm.Results) -> list:
    """The objects inside the ``List`` items (a List's in a List too), read after the items (which pass
    through as they are).

    kpt passes a ``List`` in a package file as one object; kubectl, kustomize, Argo CD and ``render``
    read its items as objects.  *Decision:* the function reads them too, so kpt and the Argo CD plugin
    fan out the same SecretReferences.  An ExternalSecret this function generated is not read from a
    List (a warning: it is regenerated as an object of its own); a member that is no object is an error.
    """
    members = []
    lists = [obj for obj in items if krm.is_list(obj)]
    while lists:
        obj = lists.pop(0)
        named = f"{krm.namespace(obj) + '/' if krm.namespace(obj) else ''}{krm.name(obj)}"
        where = f"List {named}" if named else "a List without a name"
        for position, member in enumerate(obj["items"]):
            if not isinstance(member, dict):
                results.error(f"{where}: item {position + 1} is a {krm.type_name(member)}, not a Kubernetes object",
                              obj, f"items[{position}]")
                continue
            results.containers[id(member)] = (obj, position)  # (results on it name the List and its file)
            if krm.is_list(member):
                lists.append(member)
                continue
            krm.check_item(member, "List item", results)
            if not isinstance(member.get("metadata", {}), dict):
                continue
            if ownership.is_external_secret(member) and ownership.carries_label(member):
                results.warning(f"{where}: item {position + 1} is an ExternalSecret secretref-fn generated, not read "
                                "from a List (the function writes its own as objects of their own): remove it",
                                obj, f"items[{position}]")
                continue
            members.append(member)
    return members


def _without_subpackages_of_their_own(items: list) -> list:
    """``items`` with the objects of kpt subpackages whose own Kptfile runs secretref-fn as a mutator blanked
    out (None).

    kpt renders such a subpackage with its own pipeline first, then sends its objects (its generated
    ExternalSecrets included) to the parent's: read again here, they would be regenerated under the
    parent's paths, and each render of either package would move the files to its own.  *Decision:* a
    subpackage running secretref-fn is its own; the parent passes its objects through untouched.  (A
    subpackage running it only as a validator generates nothing itself: it stays in the parent's fan-out.)
    An item's package is the folder kpt gives it (``internal.config.kubernetes.io/package-path``, in
    ``kpt fn render``), else the deepest folder of a Kptfile above its path (``kpt fn eval`` sends paths
    from the root and no package-path).
    """
    kptfiles = [obj for obj in items if isinstance(obj, dict) and obj.get("kind") == "Kptfile"]
    if len(kptfiles) < 2:
        return items
    by_folder = any(isinstance(krm.annotations(obj).get(krm.PACKAGE_PATH), str) for obj in kptfiles)
    folders = {_package_of(obj, by_folder): obj for obj in kptfiles}
    folders.pop(None, None)
    if len(folders) < 2:
        return items
    current = min(folders, key=len)  # the package being rendered: the others are below it
    own = tuple(folder for folder, obj in folders.items()
                if folder != current and krm.mutates_with_this_function(obj))
    if not own:
        return items

    def inside(obj) -> bool:
        folder = _package_of(obj, by_folder) if isinstance(obj, dict) else None
        return folder is not None and folder.startswith(own)

    return [None if inside(obj) else obj for obj in items]


def _package_of(obj: dict, by_folder: bool) -> str | None:
    """A folder that names ``obj``'s package, ending in "/": kpt's package-path, or (``by_folder`` False)
    the folder of its path annotation (a Kptfile's is its package; for other objects, prefixes compare)."""
    if by_folder:
        folder = krm.annotations(obj).get(krm.PACKAGE_PATH)
    else:
        ref = krm.FileRef.of(obj)
        folder = ref.path.replace("\\", "/").rpartition("/")[0] if ref is not None else None
    if not isinstance(folder, str):
        return None
    return folder.replace("\\", "/").rstrip("/") + "/"


def _from_kpt(items: list) -> bool:
    """Whether the items come from kpt: it records each file's list indentation on its items (kustomize and
    ``render`` do not)."""
    return any(isinstance(obj, dict) and krm.SEQINDENT in krm.annotations(obj) for obj in items)


def check_limits(measure: limits.Measure | None, function_config: dict | None) -> None:
    """Refuse input larger than the config's limits (raises :class:`krm.InputError`).

    Called once the stream is read (caps were enforced while reading) and
    before anything is processed or echoed back.
    """
    if measure is None:
        return
    problems = limits.exceeded(measure, fnconfig.limits_of(function_config))
    if problems:
        raise krm.InputError("; ".join(message for _, message in problems))


def run(rl: krm.ResourceList, overrides: dict | None = None, deferred: bool = False,
        files: bool = True) -> krm.ResourceList:
    """The KRM function: a ResourceList in, a ResourceList (with results) out.

    ``deferred``: generated ExternalSecrets stay :class:`render.Pending` in the output's items, rendered
    as they are written (function mode: at the L benchmark they would take 190 MB as data).  ``files``:
    see :func:`analyze`."""
    return analyze(rl, overrides, files).resource_list(deferred)


def _dedupe(results: krm.Results) -> krm.Results:
    """Same message on the same field once (a RenderError repeats per plane)."""
    seen = set()
    out = krm.Results()
    for r in results:
        key = (r.message, r.severity, r.ref, r.field_path)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
