"""Where a scan says it looked: the artifact and target names each scanner writes.

Every finding keeps them in ``reported_in``, beside the scan file's own path, so that it can
be placed with the service it is about (a service's name in an image, a lockfile's folder,
a repository). What each tool names:

- **Trivy**: ``ArtifactName`` (the image, directory or repository scanned) and each
  result's ``Target`` (the image with its distribution, a lockfile, a binary).
- **Grype**: ``source.target``: an image's ``userInput`` and ``tags``, or the path of a
  directory or file scan; for a directory or file scan, the matched file's path too (a
  lockfile in the directory). Paths inside an image are not kept: they name the image's
  own layout, not a service.
- **SARIF**: each result's artifact location (the lockfile or image), the run's
  ``automationDetails.id`` and the image a run names in its properties (``imageName``,
  ``repoTags``, as Trivy writes them).
- **osv-scanner**: each result's ``source.path``.
- **Dependabot**: the repository of an organisation's alert (``repository.full_name``) and
  the manifest path.

pip-audit and npm audit name no target: their findings are placed by the scan file's path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from opsledger.readers.scan_common import as_dict, as_list, texts

# Grype source types whose match locations are paths in a scanned folder, not in an image.
FILE_SOURCES = frozenset({"directory", "dir", "file"})


def trivy_artifact(data: Any) -> list[str]:
    """Return what a Trivy report scanned (``ArtifactName``)."""
    return texts([as_dict(data).get("ArtifactName")])


def grype_source(data: Any) -> tuple[list[str], bool]:
    """Return what a Grype report scanned, and whether its match locations are paths in a
    scanned folder (a directory or file scan) rather than in an image."""
    source = as_dict(as_dict(data).get("source"))
    target = source.get("target")
    names = [target] if isinstance(target, str) else []
    target = as_dict(target)
    names += texts([target.get("userInput"), *as_list(target.get("tags"))])
    names += texts([source.get("name")])
    kind = str(source.get("type") or "").lower()
    return names, kind in FILE_SOURCES


def sarif_run(run: dict[str, Any]) -> list[str]:
    """Return what a SARIF run names as scanned: its automation id and the image its
    properties name."""
    properties = as_dict(run.get("properties"))
    tags = properties.get("repoTags")
    return texts([
        as_dict(run.get("automationDetails")).get("id"),
        properties.get("imageName"),
        *(tags if isinstance(tags, list) else []),
    ])


def sarif_result(item: dict[str, Any], artifacts: list[dict[str, Any]]) -> list[str]:
    """Return the artifact locations a SARIF result points at (its own ``uri`` and the
    run's artifact it indexes)."""
    found: list[Any] = []
    for location in map(as_dict, as_list(item.get("locations"))):
        artifact = as_dict(as_dict(location.get("physicalLocation")).get("artifactLocation"))
        found.append(artifact.get("uri"))
        index = artifact.get("index")
        if isinstance(index, int) and 0 <= index < len(artifacts):
            found.append(as_dict(as_dict(artifacts[index]).get("location")).get("uri"))
    return [unquote(uri) for uri in texts(found)]
