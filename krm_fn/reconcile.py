"""Step 5: reconcile what we generated with what was there.

Items we generated on an earlier run are dropped (so re-running is idempotent
and removed consumers prune their ExternalSecrets); everything else passes
through in input order, then the generated objects follow in plane,
namespace, name order.  A user-written ExternalSecret that holds a name we
would generate wins, with an error; so does a generated object edited by
hand (see :mod:`krm_fn.ownership`), and the first of two planes whose
objects would be written to the same file.
"""
from __future__ import annotations

from typing import Any

from . import krm, render
from .config import FunctionConfig
from .constants import CONSUMER_ANNOTATIONS
from .inventory import Inventory
from .plan import Planned


def _with_annotations(obj: dict, extra: dict[str, str]) -> dict:
    current = krm.annotations(obj)
    if all(current.get(k) == v for k, v in extra.items()):
        return obj
    out = dict(obj)
    out["metadata"] = dict(krm.metadata(obj))
    out["metadata"]["annotations"] = {**current, **extra}
    return out


def drop_clashes(planned: list[Planned], inv: Inventory, config: FunctionConfig,
                 results: krm.Results, files: bool = True) -> list[Planned]:
    """The planned ExternalSecrets, less those that clash with a user's ExternalSecret or, when the output
    is written to files by its path annotations (``files``: kpt; not ``render``'s stream), with another
    plane's file."""
    kept: list[Planned] = []
    paths: dict[str, Planned] = {}  # each file's first ExternalSecret
    for item in planned:
        target = item.target
        if render.identity(target) in inv.hand_edited:
            continue  # the edited object stays; reported by inventory
        user = inv.user_external_secrets.get((target.namespace, target.name))
        if user is not None:
            results.error(f"ExternalSecret {target.namespace}/{target.name} is not managed by secretref-fn, but "
                          f"secretref-fn would generate it from SecretReference {item.source} for {target.plane}; "
                          "rename or remove one of them", user, "metadata.name")
            continue
        if _other_creator(item, inv, config, results):
            continue
        theirs = inv.subpackage_external_secrets.get((target.namespace, target.name))
        if theirs is not None and theirs[0] in (None, str(target.plane)):
            ref = krm.FileRef.of(theirs[1])
            where = krm.annotations(theirs[1]).get(krm.PACKAGE_PATH) or (ref.path if ref else "a subpackage")
            results.error(f"ExternalSecret {target.namespace}/{target.name} for {target.plane} is also in a "
                          f"subpackage that renders its own ({where}); give the two different names, or keep their "
                          "consumers in one package", item.needs[0].consumer, item.needs[0].field)
            continue
        if not files:
            kept.append(item)
            continue
        path = render.path_of(target, config)
        other = paths.setdefault(path, item)
        held = inv.kept_files.get(path, str(target.plane))
        if other.target.plane != target.plane or held != str(target.plane):
            # (one plane's ExternalSecrets may share a file: fileLayout; two planes' never, in one run or two)
            first = other.target.plane if other.target.plane != target.plane else f"{held} (generated earlier)"
            results.error(f"ExternalSecrets for {first} and {target.plane} would both be written to {path}; "
                          "give the planes different names", item.needs[0].consumer, item.needs[0].field)
            continue
        kept.append(item)
    return kept


# The creationPolicy values with which ESO creates the Secret (and so owns it or takes it over).
CREATING = ("Owner", "Orphan", "CreateOrMerge")


def _other_creator(item: Planned, inv: Inventory, config: FunctionConfig, results: krm.Results) -> bool:
    """Whether something in the input already makes the Secret ``item`` would create (reported): a user's
    ExternalSecret of another name that creates it too (ESO: "secret is owned by another ExternalSecret"; one
    with creationPolicy Merge or None only adds to it), or a Secret itself, which the ExternalSecret written
    would take over from whatever applies it.  Nothing clashes when ours is written with Merge or None."""
    target = item.target
    key = (target.namespace, target.name)
    policy = render.creation_policy(item, config)
    if policy not in CREATING:
        return False  # ours adds to the Secret (Merge) or writes none (None): ESO expects it made elsewhere
    user = next((es for es in inv.user_secret_names.get(key, ())
                 if (krm.get_path(es, "spec.target.creationPolicy") or "Owner") in CREATING), None)
    if user is not None:
        results.error(f"ExternalSecret {krm.namespace(user)}/{krm.name(user)} is not managed by secretref-fn and "
                      f"creates Secret {target.namespace}/{target.name}, which secretref-fn would also create from "
                      f"SecretReference {item.source} for {target.plane}; two ExternalSecrets cannot own one Secret: "
                      "give yours another spec.target.name, or creationPolicy Merge to add to ours", user,
                      "spec.target.name")
        return True
    secret = inv.input_secrets.get(key)
    if secret is not None:
        results.error(f"Secret {target.namespace}/{target.name} is in the input, and secretref-fn would generate an "
                      f"ExternalSecret creating it from SecretReference {item.source} for {target.plane} "
                      f"(creationPolicy {policy} takes an existing Secret over): remove the Secret from the input"
                      + ("" if item.made_up else ", or set the config's creationPolicy: Merge to add to it"),
                      secret, "metadata.name")
        return True
    return False


def merge(items: list, inv: Inventory, generated: list, annotate: dict[int, dict[str, str]],
          config: FunctionConfig, elsewhere: set[int] = frozenset()) -> list:
    """The output items.  ``annotate``: annotations to write on consumers (by id); a consumer annotation
    not asked for is stale and removed, unless the consumer is ``elsewhere``'s (its need goes to a plane
    outside the run's ``planes``: that plane's objects, and what points at them, pass through)."""
    if config.output == "generated":
        return list(generated)

    def consumer(obj: Any) -> Any:
        extra = annotate.get(id(obj)) if isinstance(obj, dict) else None
        if extra:
            return _with_annotations(obj, extra)
        if (isinstance(obj, dict) and id(obj) not in elsewhere
                and any(k in krm.annotations(obj) for k in CONSUMER_ANNOTATIONS)):
            return krm.without_annotations(obj, CONSUMER_ANNOTATIONS.__contains__)  # its ExternalSecret is gone
        if krm.is_list(obj):  # its items are read as objects (pipeline._list_members): consumers too
            members = [consumer(member) for member in obj["items"]]
            if any(new is not old for new, old in zip(members, obj["items"])):
                return {**obj, "items": members}
        return obj

    out = []
    for index, obj in enumerate(items):
        if index in inv.owned:
            continue
        out.append(consumer(obj))
    out.extend(generated)
    return out
