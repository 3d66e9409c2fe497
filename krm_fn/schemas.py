"""JSON Schemas for editors, generated from the pydantic models (the one source of truth).

``secretref-fn schema`` writes one schema per document kind into
``schemas/``: the whole object (apiVersion, kind, metadata) with ``spec``
from the model the function validates with.  Draft-07, the newest draft the
YAML language server (VS Code's YAML extension) fully supports.
"""
from __future__ import annotations

import json
import os

from pydantic import BaseModel

from . import models
from .config import CONFIG_API_VERSION, CONFIG_KIND, FunctionConfig

DRAFT = "http://json-schema.org/draft-07/schema#"


def _relocate(value):
    """pydantic's 2020-12 output -> draft-07: ``$defs`` -> ``definitions`` (references included), and a
    ``$ref`` with sibling keywords (draft-07 ignores those) wrapped in ``allOf``."""
    if isinstance(value, dict):
        out = {("definitions" if k == "$defs" else k): _relocate(v) for k, v in value.items()}
        if "$ref" in out and len(out) > 1:
            out["allOf"] = [{"$ref": out.pop("$ref")}]
        return out
    if isinstance(value, list):
        return [_relocate(v) for v in value]
    if isinstance(value, str) and value.startswith("#/$defs/"):
        return "#/definitions/" + value[len("#/$defs/"):]
    return value


def _metadata(namespaced: bool) -> dict:
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    out = {
        "type": "object",
        "required": ["name", "namespace"] if namespaced else ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "namespace": {"type": "string", "minLength": 1},
            "labels": string_map,
            "annotations": string_map,
        },
    }
    return out


def _document(title: str, api_version: str, kind: str, spec_model: type[BaseModel], namespaced: bool,
              description: str, spec_required: bool = True) -> dict:
    spec = _relocate(spec_model.model_json_schema(ref_template="#/$defs/{model}"))
    definitions = spec.pop("definitions", {})
    spec.pop("title", None)
    doc = {
        "$schema": DRAFT,
        "title": title,
        "description": description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"] + (["spec"] if spec_required else []),
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _metadata(namespaced),
            "spec": spec,
        },
    }
    if definitions:
        doc["definitions"] = definitions
    return doc


def documents() -> dict[str, dict]:
    """File name -> schema, for every document kind an editor may open."""
    api = f"{models.GROUP}/v1alpha1"
    out = {
        "secretreference.json": _document(
            "SecretReference", api, "SecretReference", models.SecretReferenceSpec, True,
            "An OpenChoreo SecretReference: a pointer into the secret store (no values)."),
    }
    for kind in models.PLANE_KINDS:
        out[f"{kind.lower()}.json"] = _document(
            kind, api, kind, models.PlaneSpec, kind not in models.CLUSTER_PLANE_KINDS,
            f"The secret-store fields of an OpenChoreo {kind} that secretref-fn reads; other fields are allowed.",
            spec_required=False)
    out["secretfanout.json"] = _document(
        CONFIG_KIND, CONFIG_API_VERSION, CONFIG_KIND, FunctionConfig, False,
        "The function config of secretref-fn.", spec_required=False)
    return out


def _text(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def _outdated(out_dir: str) -> dict[str, str]:
    """File name -> text, of the files in ``out_dir`` that are missing or differ from what the models generate."""
    out = {}
    for name, schema in documents().items():
        text = _text(schema)
        try:
            with open(os.path.join(out_dir, name), encoding="utf-8") as handle:
                current = handle.read()
        except OSError:
            current = None
        if current != text:
            out[name] = text
    return out


def stale(out_dir: str) -> list[str]:
    """Files in ``out_dir`` that are missing or differ from what the models generate."""
    return list(_outdated(out_dir))


def write(out_dir: str) -> list[str]:
    """Write the schemas that are missing or out of date; returns the files written."""
    os.makedirs(out_dir, exist_ok=True)
    outdated = _outdated(out_dir)
    for name, text in outdated.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return list(outdated)
