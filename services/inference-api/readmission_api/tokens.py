"""OAuth2 access tokens (JWT) from the user's identity provider, checked with PyJWT.

The signing keys come from the issuer's JWKS (``AUTH_JWKS_URL``, or the ``jwks_uri`` of the
issuer's OpenID discovery document); the issuer, the audience and the expiry are required. A
verified token is remembered until it expires (at most ``cache_seconds``), so a client that
reuses its token costs one dictionary lookup per request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import jwt


class TokenInvalid(Exception):
    """The token is refused (401); the message says why."""


class IdentityProviderDown(Exception):
    """The issuer's keys could not be fetched (503)."""


@dataclass(frozen=True)
class TokenClaims:
    client: str  # azp / client_id / sub: the metrics' credential name
    scopes: frozenset[str]
    expires: float


class JwtVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        algorithms: tuple[str, ...] = ("RS256", "ES256"),
        scope_prefix: str = "",
        leeway: float = 30.0,
        cache_seconds: float = 300.0,
    ):
        self.issuer, self.audience, self.algorithms = issuer, audience, list(algorithms)
        self.scope_prefix, self.leeway, self.cache_seconds = scope_prefix, leeway, cache_seconds
        self._jwks_url, self._client = jwks_url, None
        self._cache: dict[str, TokenClaims] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> TokenClaims | None:
        claims = self._cache.get(token)
        return claims if claims and claims.expires > time.time() else None

    def verify(self, token: str) -> TokenClaims:
        """Check signature, issuer, audience and expiry; blocking (the JWKS): call off the loop."""
        try:
            key = self._keys().get_signing_key_from_jwt(token)
            payload = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise IdentityProviderDown(
                f"the identity provider's keys are unreachable: {exc}"
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"invalid access token: {exc}") from None
        claims = TokenClaims(
            str(payload.get("azp") or payload.get("client_id") or payload.get("sub") or "jwt"),
            self._scopes(payload),
            min(float(payload["exp"]) + self.leeway, time.time() + self.cache_seconds),
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = claims
        return claims

    def _scopes(self, payload: dict) -> frozenset[str]:
        """``scope`` (RFC 9068: space-separated) or ``scp`` (a list), the prefix removed."""
        raw = payload.get("scope", payload.get("scp", ""))
        names = raw.split() if isinstance(raw, str) else [str(s) for s in raw]
        prefix = self.scope_prefix
        return frozenset(n.removeprefix(prefix) for n in names if n.startswith(prefix))

    def _keys(self) -> jwt.PyJWKClient:
        if self._client is None:
            url = self._jwks_url or self._discover()
            self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=10)
        return self._client

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            return response.json()["jwks_uri"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise IdentityProviderDown(f"no jwks_uri from {url}: {exc}") from None
