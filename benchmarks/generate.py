#!/usr/bin/env python3
"""Write synthetic but realistic secretref-fn packages at fixed seeds and sizes.

Each size is written as a ResourceList (what a KRM function receives on stdin)
and, with ``--kpt``, as a kpt package folder (one file per object, a Kptfile
whose pipeline run.py fills in).

The shape follows a real OpenChoreo platform:

* one control-plane namespace (``acme``) holding every SecretReference,
  Environment and namespaced plane, plus cluster-scoped planes; every plane
  kind the function reads (DataPlane, ClusterDataPlane, BuildPlane,
  ClusterBuildPlane, WorkflowPlane, ClusterWorkflowPlane);
* workloads of every consumer kind (Deployment, StatefulSet, DaemonSet,
  ReplicaSet, Job, CronJob, Pod, Argo Workflow/WorkflowTemplate/
  ClusterWorkflowTemplate/CronWorkflow, Build, ServiceClass), most in app
  namespaces that point home with the ``openchoreo.dev/namespace`` label;
* every reference form (env secretKeyRef, envFrom, volumes, projected
  volumes, imagePullSecrets) and 10% of workload secret names that are not
  SecretReferences (plain Secrets the cluster already has);
* the fan-out of a real platform: a few shared SecretReferences (registry,
  telemetry, TLS) used by many workloads, most used by one or two
  (a Zipf-like draw);
* pass-through objects (Services, ConfigMaps with YAML 1.1/1.2 scalars) and
  kpt's path/index annotations on everything.

Usage: ``python benchmarks/generate.py [--sizes S,M,L] [--out DIR] [--kpt]``.
Sizes can also be given as ``refs:planes:workloads`` (for tests: ``5:2:10``).
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import yaml

SIZES = {  # SecretReferences, planes, workloads
    "S": (100, 5, 200),
    "M": (1_000, 20, 2_000),
    "L": (10_000, 50, 20_000),
}
SEEDS = {"S": 101, "M": 202, "L": 303}
HOME = "acme"
OC = "openchoreo.dev/v1alpha1"
PLANE_ANN = "secretref-fn.openchoreo.dev/plane"
DATA_KINDS = ("DataPlane", "ClusterDataPlane")
BUILD_KINDS = ("BuildPlane", "ClusterBuildPlane", "WorkflowPlane", "ClusterWorkflowPlane")
POD_KINDS = ("Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
             "CronJob", "Pod")
ARGO_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    def ignore_aliases(self, data):  # noqa: D401 - PyYAML hook
        return True


def _dump(obj) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 30)


def parse_size(size: str) -> tuple[str, tuple[int, int, int], int]:
    if size in SIZES:
        return size, SIZES[size], SEEDS[size]
    refs, planes, workloads = (int(x) for x in size.split(":"))
    return size.replace(":", "-"), (refs, planes, workloads), refs * 7 + planes * 3 + workloads


class Generator:
    def __init__(self, refs: int, planes: int, workloads: int, seed: int):
        self.rng = random.Random(seed)
        self.n_refs, self.n_planes, self.n_workloads = refs, max(planes, 2), workloads
        self.items: list[dict] = []
        self.refs: list[tuple[str, list[str]]] = []  # name, keys
        self.data_planes: list[str] = []  # Kind/name selectors (plane annotation form)
        self.build_planes: list[str] = []
        self.environments: list[str] = []
        self.app_namespaces = [f"team-{i:02d}" for i in range(max(1, workloads // 400) + 1)]

    # --- helpers -------------------------------------------------------------------
    def add(self, obj: dict, path: str) -> None:
        ann = obj["metadata"].setdefault("annotations", {})
        ann["internal.config.kubernetes.io/path"] = path
        ann["internal.config.kubernetes.io/index"] = "0"
        self.items.append(obj)

    def pick_ref(self) -> tuple[str, list[str]] | None:
        """Zipf-like: a few shared references take most uses; 10% are not references."""
        if self.rng.random() < 0.10:
            return None
        n = len(self.refs)
        index = min(int(self.rng.paretovariate(1.2)) - 1, n - 1) if self.rng.random() < 0.5 else self.rng.randrange(n)
        return self.refs[index]

    # --- control plane -------------------------------------------------------------------
    def planes(self) -> None:
        n_data = max(1, self.n_planes * 3 // 5)
        n_build = max(1, self.n_planes - n_data)
        for i in range(n_data):
            kind = DATA_KINDS[i % 2]
            name = f"dp-{i:03d}"
            meta = {"name": name} if kind.startswith("Cluster") else {"name": name, "namespace": HOME}
            spec = ({"secretStoreRef": {"name": f"vault-{i % 3}", "kind": "ClusterSecretStore"}} if i % 3
                    else {"secretStore": f"store-{i}"})
            self.add({"apiVersion": OC, "kind": kind, "metadata": meta, "spec": spec}, f"planes/{kind.lower()}-{name}.yaml")
            self.data_planes.append(f"{kind}/{name}")
            env = f"env-{i:03d}"
            ref = name if kind == "DataPlane" else {"kind": kind, "name": name}
            self.add({"apiVersion": OC, "kind": "Environment", "metadata": {"name": env, "namespace": HOME},
                      "spec": {"dataPlaneRef": ref}}, f"environments/{env}.yaml")
            self.environments.append(env)
        for i in range(n_build):
            kind = BUILD_KINDS[i % 4]
            name = f"bp-{i:03d}"
            meta = {"name": name} if kind.startswith("Cluster") else {"name": name, "namespace": HOME}
            self.add({"apiVersion": OC, "kind": kind, "metadata": meta,
                      "spec": {"secretStoreRef": {"name": "vault-ci"}}}, f"planes/{kind.lower()}-{name}.yaml")
            self.build_planes.append(f"{kind}/{name}")

    def secret_references(self) -> None:
        for i in range(self.n_refs):
            name = f"ref-{i:05d}"
            roll = i % 10
            if roll == 0:
                typ, keys = "kubernetes.io/dockerconfigjson", ["username", "password"]
            elif roll == 1:
                typ, keys = "kubernetes.io/basic-auth", ["username", "password"]
            elif roll == 2:
                typ, keys = "kubernetes.io/tls", ["tls.crt", "tls.key"]
            else:
                typ, keys = "Opaque", [f"key-{k}" for k in range(1 + i % 3)]
            spec: dict = {"template": {"type": typ}}
            if i % 4 == 0:
                spec["template"]["metadata"] = {"labels": {"app": name, "tier": "backend"}}
            spec["data"] = [{"secretKey": k, "remoteRef": {"key": f"secret/{HOME}/{name}", "property": k,
                                                           **({"version": "3"} if i % 7 == 0 else {})}}
                            for k in keys]
            if i % 5 == 0:
                spec["refreshInterval"] = ["15m", "1h", "24h"][i % 3]
            if i % 97 == 0:  # a reference that goes to a plane without a consumer
                kind, _, plane = self.data_planes[i % len(self.data_planes)].partition("/")
                spec["targetPlane"] = {"kind": kind, "name": plane}
            self.add({"apiVersion": OC, "kind": "SecretReference", "metadata": {"name": name, "namespace": HOME},
                      "spec": spec}, f"secretrefs/{name}.yaml")
            # keys a consumer may read from the Secret ESO writes
            self.refs.append((name, [".dockerconfigjson"] if roll == 0 else keys))

    # --- consumers ---------------------------------------------------------------------
    def _secret_name(self) -> tuple[str, list[str]]:
        ref = self.pick_ref()
        if ref is None:
            return f"plain-secret-{self.rng.randrange(1000):03d}", ["value"]
        return ref

    @staticmethod
    def _registry(name: str) -> str:
        """A pull secret is a registry credential: a SecretReference picked is swapped for the dockerconfigjson one
        of its ten (every tenth is one), without another random draw, so the rest of the package stays as it was."""
        if name.startswith("ref-"):
            number = int(name[4:])
            return f"ref-{number - number % 10:05d}"
        return name

    def pod_spec(self, idx: int, containers_key: str = "containers") -> dict:
        rng = self.rng
        env = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}]
        env_from = []
        volumes = [{"name": "tmp", "emptyDir": {}}]
        mounts = [{"name": "tmp", "mountPath": "/tmp"}]
        for j in range(rng.randint(1, 3)):
            name, keys = self._secret_name()
            form = rng.randrange(4)
            if form == 0:
                env.append({"name": f"SECRET_{j}", "valueFrom": {"secretKeyRef": {"name": name, "key": rng.choice(keys)}}})
            elif form == 1:
                env_from.append({"secretRef": {"name": name}})
            elif form == 2:
                volumes.append({"name": f"s{j}", "secret": {"secretName": name, "defaultMode": 0o400}})
                mounts.append({"name": f"s{j}", "mountPath": f"/etc/secrets/{j}", "readOnly": True})
            else:
                volumes.append({"name": f"s{j}", "projected": {"sources": [{"secret": {"name": name}}]}})
                mounts.append({"name": f"s{j}", "mountPath": f"/etc/projected/{j}"})
        container = {"name": "app", "image": f"registry.example.com/acme/app-{idx % 50}:1.{idx % 9}.{idx % 4}",
                     "ports": [{"containerPort": 8080}], "env": env,
                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}, "volumeMounts": mounts}
        if env_from:
            container["envFrom"] = env_from
        spec: dict = {containers_key: [container], "volumes": volumes}
        if rng.random() < 0.5:
            spec["imagePullSecrets"] = [{"name": self._registry(self._secret_name()[0])}]
        return spec

    def placement(self, family: str, idx: int) -> tuple[dict, dict]:
        """(labels, annotations) that choose a plane; data consumers mostly by environment."""
        labels = {"app.kubernetes.io/name": f"app-{idx}", "openchoreo.dev/namespace": HOME}
        annotations: dict = {}
        if family == "data" and idx % 3:
            labels["openchoreo.dev/environment"] = self.environments[idx % len(self.environments)]
        else:
            pool = self.data_planes if family == "data" else self.build_planes
            kind, _, name = pool[idx % len(pool)].partition("/")
            annotations[PLANE_ANN] = f"{kind}/{name}" if kind.startswith("Cluster") else f"{kind}/{HOME}/{name}"
        return labels, annotations

    def workload(self, idx: int) -> None:
        rng = self.rng
        ns = self.app_namespaces[idx % len(self.app_namespaces)]
        roll = rng.random()
        if roll < 0.80:
            kind = POD_KINDS[idx % len(POD_KINDS)]
            labels, ann = self.placement("data", idx)
            meta = {"name": f"svc-{idx:05d}", "namespace": ns, "labels": labels, "annotations": ann}
            pod = self.pod_spec(idx)
            template = {"metadata": {"labels": {"app": f"svc-{idx:05d}"}}, "spec": pod}
            if kind == "Pod":
                spec = pod
            elif kind == "Job":
                spec = {"backoffLimit": 3, "template": {**template, "spec": {**pod, "restartPolicy": "Never"}}}
            elif kind == "CronJob":
                spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
                    **template, "spec": {**pod, "restartPolicy": "OnFailure"}}}}}
            else:
                spec = {"replicas": 1 + idx % 3, "selector": {"matchLabels": {"app": f"svc-{idx:05d}"}},
                        "template": template}
            api = {"Pod": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
            self.add({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec},
                     f"apps/{ns}/{kind.lower()}-svc-{idx:05d}.yaml")
        elif roll < 0.92:
            kind = ARGO_KINDS[idx % len(ARGO_KINDS)]
            labels, ann = self.placement("build", idx)
            meta = {"name": f"wf-{idx:05d}", "labels": labels, "annotations": ann}
            if kind != "ClusterWorkflowTemplate":
                meta["namespace"] = ns
            pod = self.pod_spec(idx, "x")
            container = pod["x"][0]
            template = {"name": "main", ("script" if idx % 2 else "container"): container}
            wf = {"entrypoint": "main", "templates": [template], "volumes": pod["volumes"]}
            if "imagePullSecrets" in pod:
                wf["imagePullSecrets"] = pod["imagePullSecrets"]
            spec = {"schedule": "*/30 * * * *", "workflowSpec": wf} if kind == "CronWorkflow" else wf
            self.add({"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec},
                     f"workflows/{kind.lower()}-wf-{idx:05d}.yaml")
        elif roll < 0.97:
            name, _ = self.refs[self.rng.randrange(len(self.refs))]
            labels, ann = self.placement("build", idx)
            self.add({"apiVersion": OC, "kind": "Build", "metadata": {"name": f"build-{idx:05d}", "namespace": HOME,
                                                                       "annotations": ann},
                      "spec": {"repository": {"url": f"https://git.example.com/acme/app-{idx}.git",
                                              "credentialsRef": name, "revision": {"branch": "main"}}}},
                     f"builds/build-{idx:05d}.yaml")
        else:
            name = self._registry(self._secret_name()[0])
            self.add({"apiVersion": OC, "kind": "ServiceClass", "metadata": {"name": f"class-{idx:05d}",
                                                                              "namespace": HOME},
                      "spec": {"deploymentTemplate": {"template": {"spec": {"imagePullSecrets": [{"name": name}]}}}}},
                     f"classes/class-{idx:05d}.yaml")

    def pass_through(self, count: int) -> None:
        for i in range(count):
            ns = self.app_namespaces[i % len(self.app_namespaces)]
            self.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i:05d}", "namespace": ns},
                      "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": f"svc-{i:05d}"}}},
                     f"apps/{ns}/service-svc-{i:05d}.yaml")
            if i % 10 == 0:
                self.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"settings-{i:05d}",
                                                                                 "namespace": ns},
                          "data": {"enabled": "on", "mode": "0755", "ratio": "1e3", "since": "2001-12-14",
                                   "banner": "line one\nline two\n"}},
                         f"apps/{ns}/configmap-settings-{i:05d}.yaml")

    def build(self) -> list[dict]:
        self.planes()
        self.secret_references()
        for idx in range(self.n_workloads):
            self.workload(idx)
        self.pass_through(self.n_workloads // 4)
        return self.items


# The function refuses input over 16 MiB unless its config raises maxInputBytes (up to 32 MiB).
LARGE = 16 * 1024 * 1024
CONFIG = {"apiVersion": "fn.openchoreo.dev/v1alpha1", "kind": "SecretFanout", "metadata": {"name": "bench"},
          "spec": {"maxInputBytes": 32 * 1024 * 1024}}


def resource_list_text(items: list[dict]) -> str:
    text = _dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items})
    if len(text) > LARGE:
        text += _dump({"functionConfig": CONFIG})
    return text


def write_kpt_package(items: list[dict], folder: Path) -> None:
    """One file per object at its path annotation (kpt reads the annotations back)."""
    files: dict[str, list[dict]] = {}
    for obj in items:
        ann = dict(obj["metadata"]["annotations"])
        path = ann["internal.config.kubernetes.io/path"]
        for key in list(ann):
            if key.startswith(("config.kubernetes.io/", "internal.config.kubernetes.io/")):
                del ann[key]
        clean = {**obj, "metadata": {**obj["metadata"], "annotations": ann}}
        if not ann:
            del clean["metadata"]["annotations"]
        files.setdefault(path, []).append(clean)
    for path, objs in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("---\n".join(_dump(o) for o in objs))
    (folder / "Kptfile").write_text(_dump({"apiVersion": "kpt.dev/v1", "kind": "Kptfile",
                                           "metadata": {"name": folder.name,
                                                        "annotations": {"config.kubernetes.io/local-config": "true"}},
                                           "pipeline": {"mutators": []}}))


def generate(size: str, out: Path, kpt: bool = False) -> Path:
    label, (refs, planes, workloads), seed = parse_size(size)
    items = Generator(refs, planes, workloads, seed).build()
    folder = out / label
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "resource-list.yaml"
    path.write_text(resource_list_text(items))
    if kpt:
        write_kpt_package(items, folder / "pkg")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L", help="comma-separated: S, M, L or refs:planes:workloads")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    parser.add_argument("--kpt", action="store_true", help="also write each size as a kpt package (pkg/)")
    args = parser.parse_args(argv)
    for size in args.sizes.split(","):
        path = generate(size, Path(args.out), args.kpt)
        print(f"{size}: {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
