"""A budget store in Redis, shared by a fleet of machines.

Each operation is one Lua script run atomically by the server (EVALSHA, loaded on first
use), so reserving on a whole chain of budgets is all-or-nothing across every client.
Per budget the store keeps five keys under ``prefix`` + budget key:

- ``:state``: hash with the running ``spent`` (inside the window) and ``reserved`` totals;
- ``:held``: hash, reservation id -> micros; ``:expiries``: sorted set of ids by expiry;
- ``:commits``: sorted set of committed ids by time (makes a repeated commit a no-op);
- ``:spends``: sorted set of ``"micros:id"`` by time, for budgets with a rolling window.

A budget key's window must not change over its life. For Redis Cluster, give the prefix a hash
tag (``prefix="{blockrun:budget}:"``) so that every budget of a chain lives in one slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from blockrun_core.errors import ConfigurationError

from ._retention import commit_retention
from .store import BudgetKey, Refusal, Usage

if TYPE_CHECKING:
    import redis as redis_sync
    import redis.asyncio as redis_async

__all__ = ["RedisStore"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_SUFFIXES = (":state", ":held", ":expiries", ":commits", ":spends")
_PER_BUDGET = len(_SUFFIXES)

_PRELUDE = """
local function int(x) return string.format('%d', x) end
local function usage(b)
  local v = redis.call('HMGET', KEYS[b], 'spent', 'reserved')
  return tonumber(v[1]) or 0, tonumber(v[2]) or 0
end
-- Drop expired reservations and spend that left the window from the running totals.
local function prune(b, now, window)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[b + 2], '-inf', now)
  if #expired > 0 then
    local freed = 0
    for _, id in ipairs(expired) do
      freed = freed + (tonumber(redis.call('HGET', KEYS[b + 1], id)) or 0)
      redis.call('HDEL', KEYS[b + 1], id)
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[b + 2], '-inf', now)
    redis.call('HINCRBY', KEYS[b], 'reserved', int(-freed))
  end
  if window ~= '' then
    local cut = now - tonumber(window)
    local old = redis.call('ZRANGEBYSCORE', KEYS[b + 4], '-inf', cut)
    if #old > 0 then
      local gone = 0
      for _, entry in ipairs(old) do gone = gone + tonumber(string.match(entry, '^%d+')) end
      redis.call('ZREMRANGEBYSCORE', KEYS[b + 4], '-inf', cut)
      redis.call('HINCRBY', KEYS[b], 'spent', int(-gone))
    end
  end
end
local function unhold(b, id)
  local held = tonumber(redis.call('HGET', KEYS[b + 1], id))
  if held then
    redis.call('HDEL', KEYS[b + 1], id)
    redis.call('ZREM', KEYS[b + 2], id)
    redis.call('HINCRBY', KEYS[b], 'reserved', int(-held))
  end
end
"""

# ARGV: id, micros, now, expires, then (limit, window) per budget.
_RESERVE = """
local id, micros, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local budgets = #KEYS / 5
for i = 0, budgets - 1 do
  local b = 5 * i + 1
  prune(b, now, ARGV[6 + 2 * i])
  local spent, reserved = usage(b)
  if spent + reserved + micros > tonumber(ARGV[5 + 2 * i]) then return {i, spent, reserved} end
end
for i = 0, budgets - 1 do
  local b = 5 * i + 1
  unhold(b, id)
  redis.call('HSET', KEYS[b + 1], id, ARGV[2])
  redis.call('ZADD', KEYS[b + 2], ARGV[4], id)
  redis.call('HINCRBY', KEYS[b], 'reserved', ARGV[2])
end
return false
"""

# ARGV: id, micros, now, then (window, seconds to remember committed ids) per budget.
_COMMIT = """
local id, micros, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 0, #KEYS / 5 - 1 do
  local b = 5 * i + 1
  unhold(b, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[b + 3], '-inf', now - tonumber(ARGV[5 + 2 * i]))
  if redis.call('ZADD', KEYS[b + 3], 'NX', ARGV[3], id) == 1 then
    redis.call('HINCRBY', KEYS[b], 'spent', micros)
    if ARGV[4 + 2 * i] ~= '' then redis.call('ZADD', KEYS[b + 4], ARGV[3], micros .. ':' .. id) end
  end
end
return false
"""

# ARGV: id.
_RELEASE = """
for i = 0, #KEYS / 5 - 1 do unhold(5 * i + 1, ARGV[1]) end
return false
"""

# ARGV: now, window. One budget.
_USAGE = """
prune(1, tonumber(ARGV[1]), ARGV[2])
local spent, reserved = usage(1)
return {spent, reserved}
"""

_Scripts = dict[str, Any]  # script name -> redis-py Script (EVALSHA, loading it when missing)

_SCRIPTS = {
    name: _PRELUDE + body
    for name, body in (
        ("reserve", _RESERVE),
        ("commit", _COMMIT),
        ("release", _RELEASE),
        ("usage", _USAGE),
    )
}


class RedisStore:
    """Budgets in Redis, shared by every process and machine that uses the same server.

    ``url`` is a ``redis://``, ``rediss://`` or ``unix://`` URL, or an existing client: a
    ``redis.Redis`` (async methods then run it on a worker thread) or a
    ``redis.asyncio.Redis`` (async methods only). Clients made from a URL are created on first
    use and closed by :meth:`close`; a client passed in is left open. A server that cannot be
    reached raises :class:`~blockrun_core.errors.ConfigurationError` within
    ``connect_timeout`` seconds (plus one retry). Needs the ``blockrun-core[redis]`` extra.
    """

    def __init__(
        self,
        url: str | redis_sync.Redis | redis_async.Redis = DEFAULT_URL,
        *,
        prefix: str = "blockrun:budget:",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
        max_connections: int = 32,
    ) -> None:
        redis = _import_redis()
        self.prefix = prefix
        self._lock = threading.Lock()
        self._unreachable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        # Once connected: (client, scripts); async clients also remember their event loop.
        self._sync: tuple[Any, _Scripts] | None = None
        self._async: tuple[asyncio.AbstractEventLoop | None, Any, _Scripts] | None = None
        self._options: dict[str, Any] = {}
        if isinstance(url, str):
            self._source = "url"
            self._where = _mask(url)
            self._options = {
                "url": url,
                "max_connections": max_connections,
                "socket_connect_timeout": connect_timeout,
                "socket_timeout": timeout,
            }
            try:  # parse now, so a malformed URL fails here rather than on first use
                redis.connection.parse_url(url)
            except ValueError as exc:
                raise ConfigurationError(f"Bad Redis URL {self._where!r}: {exc}") from exc
        elif isinstance(url, redis.asyncio.Redis):
            self._source = "async client"
            self._where = _describe(url)
            self._async = (None, url, _register(url))
        elif isinstance(url, redis.Redis):
            self._source = "sync client"
            self._where = _describe(url)
            self._sync = (url, _register(url))
        else:
            raise ConfigurationError(
                f"RedisStore takes a Redis URL or a redis client, not {type(url).__name__}."
            )

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self.prefix!r})"

    def reserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        args = _reserve_args(chain, reservation_id, micros, now, ttl_seconds)
        return _refusal(chain, self._run("reserve", self._keys(chain), args))

    def commit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        self._run("commit", self._keys(chain), _commit_args(chain, reservation_id, micros, now))

    def release(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        self._run("release", self._keys(chain), [reservation_id])

    def usage(self, budget: BudgetKey, *, now: float) -> Usage:
        return _usage(self._run("usage", self._keys((budget,)), _usage_args(budget, now)))

    async def areserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        args = _reserve_args(chain, reservation_id, micros, now, ttl_seconds)
        return _refusal(chain, await self._arun("reserve", self._keys(chain), args))

    async def acommit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        args = _commit_args(chain, reservation_id, micros, now)
        await self._arun("commit", self._keys(chain), args)

    async def arelease(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        await self._arun("release", self._keys(chain), [reservation_id])

    async def ausage(self, budget: BudgetKey, *, now: float) -> Usage:
        return _usage(await self._arun("usage", self._keys((budget,)), _usage_args(budget, now)))

    def close(self) -> None:
        """Close the clients this store created (an async one only if its loop allows it)."""
        if self._source != "url":
            return  # the caller's client: the caller closes it
        with self._lock:
            sync, self._sync = self._sync, None
            current, self._async = self._async, None
        if sync is not None:
            sync[0].close()
        if current is not None:
            loop, client, _ = current
            if loop is not None and not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(client.aclose())

    async def aclose(self) -> None:
        """Close the clients this store created."""
        if self._source != "url":
            return
        with self._lock:
            sync, self._sync = self._sync, None
            current, self._async = self._async, None
        if sync is not None:
            sync[0].close()
        if current is not None and current[0] is asyncio.get_running_loop():
            await current[1].aclose()

    def _keys(self, chain: Sequence[BudgetKey]) -> list[str]:
        return [f"{self.prefix}{budget.key}{suffix}" for budget in chain for suffix in _SUFFIXES]

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        scripts = self._sync_scripts()
        try:
            return scripts[script](keys=keys, args=args)
        except self._unreachable as exc:
            raise self._unreachable_error(exc) from exc

    async def _arun(self, script: str, keys: list[str], args: list[Any]) -> Any:
        if self._source == "sync client":
            return await asyncio.to_thread(self._run, script, keys, args)
        scripts = self._async_scripts()
        try:
            return await scripts[script](keys=keys, args=args)
        except self._unreachable as exc:
            raise self._unreachable_error(exc) from exc

    def _unreachable_error(self, exc: Exception) -> ConfigurationError:
        return ConfigurationError(f"Cannot reach the Redis budget store at {self._where}: {exc}")

    def _sync_scripts(self) -> _Scripts:
        current = self._sync
        if current is not None:
            return current[1]
        if self._source == "async client":
            raise ConfigurationError(
                "This RedisStore was given a redis.asyncio client, so it serves only the "
                "async methods; pass a URL or a redis.Redis to use it synchronously."
            )
        with self._lock:
            if self._sync is None:
                redis = _import_redis()
                pool = redis.BlockingConnectionPool.from_url(
                    retry=_retry(redis.retry.Retry, redis.backoff), **self._options
                )
                client = redis.Redis.from_pool(pool)
                self._sync = (client, _register(client))
            return self._sync[1]

    def _async_scripts(self) -> _Scripts:
        current = self._async
        if self._source == "async client" and current is not None:
            return current[2]
        loop = asyncio.get_running_loop()
        if current is None or current[0] is not loop:
            # redis.asyncio connections belong to the loop that opened them: one client per loop.
            redis = _import_redis()
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                retry=_retry(redis.asyncio.retry.Retry, redis.backoff), **self._options
            )
            client = redis.asyncio.Redis.from_pool(pool)
            current = (loop, client, _register(client))
            with self._lock:
                self._async = current
        return current[2]


def _import_redis() -> Any:
    try:
        import redis
        import redis.asyncio
        import redis.backoff
        import redis.retry
    except ImportError as exc:
        raise ConfigurationError(
            "RedisStore needs the redis package: pip install 'blockrun-core[redis]'."
        ) from exc
    return redis


def _retry(retry_class: Any, backoff: Any) -> Any:
    """One quick retry: every script is idempotent, and a dead server must fail fast."""
    return retry_class(backoff.ExponentialBackoff(cap=0.05, base=0.01), retries=1)


def _register(client: Any) -> _Scripts:
    return {name: client.register_script(source) for name, source in _SCRIPTS.items()}


def _window(budget: BudgetKey) -> str:
    return "" if budget.window_seconds is None else repr(float(budget.window_seconds))


def _reserve_args(
    chain: Sequence[BudgetKey], reservation_id: str, micros: int, now: float, ttl: float
) -> list[Any]:
    args: list[Any] = [reservation_id, micros, repr(now), repr(now + ttl)]
    for budget in chain:
        args += (budget.limit_micros, _window(budget))
    return args


def _commit_args(
    chain: Sequence[BudgetKey], reservation_id: str, micros: int, now: float
) -> list[Any]:
    args: list[Any] = [reservation_id, micros, repr(now)]
    for budget in chain:
        args += (_window(budget), repr(commit_retention(budget.window_seconds)))
    return args


def _usage_args(budget: BudgetKey, now: float) -> list[Any]:
    return [repr(now), _window(budget)]


def _refusal(chain: Sequence[BudgetKey], reply: Any) -> Refusal | None:
    if reply is None:
        return None
    index, spent, reserved = reply
    return Refusal(chain[index], Usage(spent, reserved))


def _usage(reply: Any) -> Usage:
    spent, reserved = reply
    return Usage(spent, reserved)


def _mask(url: str) -> str:
    """The URL without its password and query (which may carry one): safe to show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable Redis URL>"
    user = f"{parts.username}:***@" if parts.password else ""
    if parts.username and not parts.password:
        user = f"{parts.username}@"
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def _describe(client: Any) -> str:
    """Where a client points, from its pool's settings (never its password)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
