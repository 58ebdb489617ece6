"""Refresh the catalog from ``GET /v1/models``, with a disk cache and safe fallbacks.

Order: a fresh cache file (no request) -> fetch (then cache it atomically) -> on any fetch
or parse failure the stale cache -> the bundled snapshot. A warning is logged on
``logging.getLogger("blockrun")`` whenever a fallback is used. The sync and async loaders
share everything but the HTTP call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockrun_core._home import blockrun_home
from blockrun_core._json import loads_untrusted

from .catalog import Catalog

if TYPE_CHECKING:
    import httpx

__all__ = ["aload_catalog", "default_cache_dir", "load_catalog", "models_url"]

logger = logging.getLogger("blockrun")

_TIMEOUT_SECONDS = 10.0
_CONNECT_TIMEOUT_SECONDS = 5.0
_HEADERS = {"Accept": "application/json"}


def models_url(api_url: str) -> str:
    """The ``/v1/models`` URL for a gateway base URL (with or without a trailing ``/v1``)."""
    base = api_url.rstrip("/")
    return f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"


def default_cache_dir() -> Path:
    """``$BLOCKRUN_HOME/cache``, else ``~/.blockrun/cache``."""
    return blockrun_home() / "cache"


def load_catalog(
    api_url: str,
    *,
    client: httpx.Client | None = None,
    cache_dir: Path | None = None,
    ttl_seconds: float = 3600,
    refresh: bool = False,
) -> Catalog:
    """The gateway's catalog: cached for ``ttl_seconds``, never failing (see module doc)."""
    import httpx

    job = _Job.start(api_url, cache_dir, ttl_seconds, refresh)
    if job.fresh is not None:
        return job.fresh
    try:
        if client is None:
            with httpx.Client(timeout=_timeout()) as own:
                payload = _json(own.get(job.url, headers=_HEADERS))
        else:
            payload = _json(client.get(job.url, headers=_HEADERS))
        return job.succeed(payload)
    except (httpx.HTTPError, ValueError) as exc:
        return job.fail(exc)


async def aload_catalog(
    api_url: str,
    *,
    client: httpx.AsyncClient | None = None,
    cache_dir: Path | None = None,
    ttl_seconds: float = 3600,
    refresh: bool = False,
) -> Catalog:
    """Async twin of :func:`load_catalog` (the cache file I/O is small and synchronous)."""
    import httpx

    job = _Job.start(api_url, cache_dir, ttl_seconds, refresh)
    if job.fresh is not None:
        return job.fresh
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=_timeout()) as own:
                payload = _json(await own.get(job.url, headers=_HEADERS))
        else:
            payload = _json(await client.get(job.url, headers=_HEADERS))
        return job.succeed(payload)
    except (httpx.HTTPError, ValueError) as exc:
        return job.fail(exc)


@dataclass
class _Job:
    """One load: what the cache holds, and what to do with a fetch's outcome."""

    url: str
    path: Path
    fresh: Catalog | None
    stale: Catalog | None

    @classmethod
    def start(cls, api_url: str, cache_dir: Path | None, ttl: float, refresh: bool) -> _Job:
        url = models_url(api_url)
        directory = cache_dir if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        path = directory / f"models-{digest}.json"
        cached = _read_cache(path, url)
        if cached is None:
            return cls(url, path, None, None)
        fetched_at, payload = cached
        fresh = not refresh and 0 <= time.time() - fetched_at < ttl
        try:
            catalog = Catalog.from_models_response(
                payload, source="cache" if fresh else "stale-cache"
            )
        except ValueError:
            return cls(url, path, None, None)
        return cls(url, path, catalog, None) if fresh else cls(url, path, None, catalog)

    def succeed(self, payload: Any) -> Catalog:
        catalog = Catalog.from_models_response(payload, source="live")
        _write_cache(self.path, self.url, payload)
        return catalog

    def fail(self, exc: Exception) -> Catalog:
        reason = f"{type(exc).__name__}: {exc}"
        if self.stale is not None:
            logger.warning(
                "Could not refresh the model catalog from %s (%s); using the cached copy.",
                self.url,
                reason,
            )
            return self.stale
        logger.warning(
            "Could not fetch the model catalog from %s (%s); using the bundled snapshot.",
            self.url,
            reason,
        )
        return Catalog.bundled()


def _timeout() -> httpx.Timeout:
    import httpx

    return httpx.Timeout(_TIMEOUT_SECONDS, connect=_CONNECT_TIMEOUT_SECONDS)


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return loads_untrusted(response.content)


def _read_cache(path: Path, url: str) -> tuple[float, Any] | None:
    """``(fetched_at, payload)`` from the cache file, or ``None`` if absent or unusable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("url") != url:
        return None
    fetched_at = record.get("fetched_at")
    if isinstance(fetched_at, bool) or not isinstance(fetched_at, (int, float)):
        return None
    return float(fetched_at), record.get("payload")


def _write_cache(path: Path, url: str, payload: Any) -> None:
    record = {"fetched_at": time.time(), "url": url, "payload": payload}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp.write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.debug("Could not write the catalog cache %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
