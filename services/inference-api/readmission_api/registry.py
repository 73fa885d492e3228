"""The model registry as the API needs it: MLflow's REST API over plain HTTP.

The API reads an alias, a version, a run and their artifacts: four REST calls. Importing the
``mlflow`` client for them would cost the serving process ~40 MB before the first model (and
more while loading), a third of its memory budget (docs/performance.md). The tracking server
proxies artifacts (``--serve-artifacts``, both in the chart and in ``make up``), so artifacts come
over the same HTTP connection and the API needs no S3 credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class RegistryError(RuntimeError):
    """The registry answered with an error, or could not be reached."""


class NotFound(RegistryError):
    """The model, version or alias does not exist (yet)."""


def _artifact_path(uri: str) -> str:
    """The server-relative path of a proxied artifact URI (``mlflow-artifacts:/<path>``)."""
    parts = urlsplit(uri)
    if parts.scheme != "mlflow-artifacts":
        raise RegistryError(
            f"artifact URI {uri!r} is not served by the tracking server: run it with "
            "--serve-artifacts so clients fetch artifacts through it"
        )
    return parts.path.strip("/")


class Registry:
    """A small client of one MLflow tracking server (timeouts short: polls must not pile up)."""

    def __init__(self, tracking_uri: str, timeout: float = 10.0):
        self.uri = tracking_uri.rstrip("/")
        transport = httpx.HTTPTransport(retries=1)  # one retry of a failed connection
        self._http = httpx.Client(base_url=self.uri, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _get(self, endpoint: str, /, **params: str) -> httpx.Response:
        try:
            response = self._http.get(endpoint, params=params)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.uri} unreachable: {exc}") from exc
        if response.status_code == 404 or _error_code(response) in _ABSENT:
            raise NotFound(_message(response))
        if response.is_error:
            raise RegistryError(f"{endpoint}: HTTP {response.status_code}: {_message(response)}")
        return response

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any]:
        """The model version ``alias`` points at (raises NotFound when it points nowhere)."""
        answer = self._get(f"{API}/registered-models/alias", name=name, alias=alias).json()
        return answer["model_version"]

    def version(self, name: str, version: str) -> dict[str, Any]:
        answer = self._get(f"{API}/model-versions/get", name=name, version=version).json()
        return answer["model_version"]

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of ``name`` (at most 200; tags as a dict)."""
        query = {"filter": f"name = '{name}'", "max_results": "200"}
        found = self._get(f"{API}/model-versions/search", **query).json().get("model_versions", [])
        return [{**v, "tags": tags(v)} for v in found]

    def aliases(self, name: str) -> dict[str, list[str]]:
        """Version → the aliases pointing at it."""
        model = self._get(f"{API}/registered-models/get", name=name).json()["registered_model"]
        out: dict[str, list[str]] = {}
        for entry in model.get("aliases", []):
            out.setdefault(str(entry["version"]), []).append(entry["alias"])
        return out

    def run(self, run_id: str) -> dict[str, Any]:
        return self._get(f"{API}/runs/get", run_id=run_id).json()["run"]

    def download_model(self, name: str, version: str, folder: Path) -> Path:
        """Every file of a registered version's model, under ``folder``."""
        answer = self._get(f"{API}/model-versions/get-download-uri", name=name, version=version)
        self.download_tree(_artifact_path(answer.json()["artifact_uri"]), folder)
        return folder

    def download_tree(self, path: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for entry in self._get(ARTIFACTS, path=path).json().get("files", []):
            child = f"{path}/{entry['path']}"
            if entry.get("is_dir"):
                self.download_tree(child, folder / entry["path"])
            else:
                self._save(child, folder / entry["path"])

    def _save(self, path: str, target: Path) -> None:
        """Stream one artifact to a file (a model is ~150 MB: never all of it in memory)."""
        try:
            with self._http.stream("GET", f"{ARTIFACTS}/{quote(path)}") as response:
                if response.is_error:
                    response.read()
                    message = _message(response)
                    raise RegistryError(f"{path}: HTTP {response.status_code}: {message}")
                with open(target, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.uri} unreachable: {exc}") from exc

    def read(self, path: str) -> bytes:
        """One artifact's bytes, by its server-relative path."""
        return self._get(f"{ARTIFACTS}/{quote(path)}").content

    def run_artifact(self, run: dict[str, Any], relative: str) -> bytes:
        """A file logged with a run (``relative`` to the run's artifact root)."""
        return self.read(f"{_artifact_path(run['info']['artifact_uri'])}/{relative}")


def tags(entity: dict[str, Any]) -> dict[str, str]:
    """An entity's tags (a list of key/value objects in REST answers) as a dict."""
    return {t["key"]: t["value"] for t in entity.get("tags", [])}


_ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def _error_code(response: httpx.Response) -> str | None:
    if not response.is_error:
        return None
    try:
        return response.json().get("error_code")
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        return response.json().get("message") or response.text[:300]
    except ValueError:
        return response.text[:300]
