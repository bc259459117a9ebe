"""Render a kustomization offline, for the subset of kustomize our manifests use.

No kustomize or kubectl binary can be installed here, so CI renders `deploy/kubernetes/`
with this: `resources` (files and directories), `namespace`, `labels` (metadata only),
`images`, and `patches` given as strategic-merge files (lists of objects merged by `name`, as
kustomize does for containers, env, volumes and volumeMounts). Any other field fails the
render, so a manifest can never quietly depend on a feature this does not implement.
`kubectl kustomize` remains the reference; this is the check CI can run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
CLUSTER_SCOPED = {"Namespace"}


def render(directory: Path) -> list[dict[str, Any]]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources += render(path)
        else:
            resources += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{directory}: only file patches are supported: {patch}")
        body = yaml.safe_load((directory / patch["path"]).read_text())
        target = [r for r in resources if _key(r) == _key(body)]
        if len(target) != 1:
            raise ValueError(f"{directory}: patch {patch['path']} matches {len(target)} resources")
        resources[resources.index(target[0])] = merge(target[0], body)
    for item in spec.get("labels", []):
        if item.get("includeSelectors"):
            raise ValueError("labels with includeSelectors are not supported")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(item["pairs"])
    for image in spec.get("images", []):
        for resource in resources:
            for container in _containers(resource):
                if container.get("image") == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def _key(resource: dict[str, Any]) -> tuple[str, str, str]:
    return resource["apiVersion"], resource["kind"], resource["metadata"]["name"]


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    pod = resource.get("spec", {}).get("template", {}).get("spec", {})
    return list(pod.get("containers", [])) + list(pod.get("initContainers", []))


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge, as kustomize applies it to the fields we patch."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        out = [copy.deepcopy(i) for i in base]
        names = [i["name"] for i in out]
        for item in patch:
            if item["name"] in names:
                index = names.index(item["name"])
                out[index] = merge(out[index], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)
