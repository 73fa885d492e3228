"""The UI's only way to the model: HTTP calls to the inference API, with clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


class ApiError(Exception):
    """The API could not answer; ``str(error)`` is a sentence for a person."""


@dataclass
class InvalidInput(ApiError):
    """422: which fields of which patients are wrong (``loc`` as the API gives it)."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{'/'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in self.errors)


class ApiClient:
    """Thin wrapper over the API's routes, calling with the app's own credential (API_KEY)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60):
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def _call(self, method: str, path: str, **kwargs) -> Any:
        return self._send(method, path, **kwargs).json()

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"The inference API at {self.base_url} cannot be reached ({exc})."
            ) from exc
        if response.status_code == 422:
            detail = response.json().get("detail")
            raise InvalidInput(
                detail if isinstance(detail, list) else [{"loc": ["body"], "msg": str(detail)}]
            )
        if response.status_code in (401, 403):
            raise ApiError(
                f"The inference API refused this app's credential ({response.status_code}: "
                f"{response.json().get('detail')}). Check API_KEY."
            )
        if response.status_code == 429:
            raise ApiError(
                "The inference API is limiting this app's requests: try again in "
                f"{response.headers.get('Retry-After', 'a few')} s."
            )
        if response.status_code == 503:
            raise ApiError(
                f"The inference API is up but not ready: {response.json().get('detail')}"
            )
        if response.status_code >= 400:
            raise ApiError(
                f"The inference API answered {response.status_code}: {response.text[:300]}"
            )
        return response

    def model(self) -> dict[str, Any]:
        return self._call("GET", "/model")

    def data_profile(self) -> str:
        """The served version's data profile (an HTML page)."""
        return self._send("GET", "/model/data-profile").text

    def versions(self) -> list[dict[str, Any]]:
        return self._call("GET", "/model/versions")

    def predict(self, patient: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/predict", json=patient)

    def explain(self, patient: dict[str, Any], top: int = 12) -> dict[str, Any]:
        return self._call("POST", "/explain", params={"top": top}, json=patient)

    def search_icd9(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        return self._call("GET", "/vocabulary/icd9", params={"q": query, "limit": limit})

    def predict_batch(self, patients: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/predict/batch", json={"patients": patients})

    def monitoring(self) -> dict[str, Any]:
        return self._call("GET", "/monitoring")
