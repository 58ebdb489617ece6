"""``Catalog``: the models BlockRun sells, with aliases, redirects and bare-id lookup."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from blockrun_core.errors import ConfigurationError, UnknownModelError

from .models import ModelInfo, model_from_row

__all__ = ["Catalog", "default_catalog"]

_SNAPSHOT = Path(__file__).with_name("snapshot.json")
_MAX_HOPS = 8  # alias -> redirect -> ... chains are short; this only guards against cycles
_FREE_PREFIX = "free/"  # ClawRouter's free/<name> ids are nvidia/<name> on the gateway


class Catalog:
    """An immutable set of models, looked up by id, bare id, alias or retired id.

    Lookups are case-insensitive. Resolution order: exact id, alias, redirect (retired id
    to its live replacement), bare id (``"gpt-5.5"`` -> ``"openai/gpt-5.5"`` when only one
    provider has it), ``free/<name>`` -> ``nvidia/<name>``; repeated until an id is found.
    """

    __slots__ = (
        "_aliases",
        "_bare",
        "_by_id",
        "_models",
        "_redirects",
        "_suggestions",
        "snapshot_date",
        "source",
    )

    def __init__(
        self,
        models: Iterable[ModelInfo],
        *,
        aliases: Mapping[str, str] | None = None,
        redirects: Mapping[str, str] | None = None,
        snapshot_date: str | None = None,
        source: str = "custom",
    ) -> None:
        by_id: dict[str, ModelInfo] = {}
        for model in models:
            by_id.setdefault(model.id.lower(), model)
        self._by_id = by_id
        self._models = tuple(by_id.values())
        self._aliases = _lowered(aliases)
        self._redirects = _lowered(redirects)
        self._bare = _bare_index(by_id, self._redirects)
        self._suggestions: dict[str, tuple[str, ...]] | None = None
        self.snapshot_date = snapshot_date
        self.source = source

    @classmethod
    def bundled(cls) -> Catalog:
        """The snapshot shipped with the package (loaded once, then cached)."""
        return _bundled()

    @classmethod
    def from_models_response(
        cls,
        payload: Any,
        *,
        aliases: Mapping[str, str] | None = None,
        redirects: Mapping[str, str] | None = None,
        source: str = "live",
    ) -> Catalog:
        """Build a catalog from a ``GET /v1/models`` payload.

        Capabilities the API does not publish (tools, structured output) and long-context
        rates come from the bundled entry of the same id; unknown ids fail closed. The
        bundled aliases and redirects apply, overridden by ``aliases``/``redirects`` and by
        any the payload carries. Raises ``ValueError`` when no usable chat model is found.
        """
        bundled = _bundled()
        return _from_payload(
            payload,
            base=bundled,
            aliases={**bundled._aliases, **_payload_map(payload, "aliases"), **(aliases or {})},
            redirects={
                **bundled._redirects,
                **_payload_map(payload, "redirects"),
                **(redirects or {}),
            },
            source=source,
        )

    def resolve_id(self, name: str) -> str:
        """The catalog id ``name`` refers to; ``ConfigurationError`` with close matches if none."""
        return self._resolve(name).id

    def get(self, name: str) -> ModelInfo:
        """The model ``name`` refers to (see :meth:`resolve_id`)."""
        return self._resolve(name)

    def _resolve(self, name: str) -> ModelInfo:
        if not isinstance(name, str):
            raise ConfigurationError(f"Model id must be a string, not {type(name).__name__}.")
        key = name.strip().lower()
        model, last = self._find(key)
        if model is None:
            raise self._unknown(name, key, last)
        return model

    def _find(self, key: str) -> tuple[ModelInfo | None, str]:
        """The model ``key`` leads to, and the last name tried."""
        current = key
        for _ in range(_MAX_HOPS):
            model = self._by_id.get(current)
            if model is not None:
                return model, current
            following = (
                self._aliases.get(current)
                or self._redirects.get(current)
                or self._bare.get(current)
                or _free_to_nvidia(current)
            )
            if following is None or following == current:
                break
            current = following
        return None, current

    def models(self) -> tuple[ModelInfo, ...]:
        """Every model, in catalog order."""
        return self._models

    def free_models(self) -> tuple[ModelInfo, ...]:
        """Models served without payment."""
        return tuple(m for m in self._models if m.is_free)

    def with_capability(self, capability: str) -> tuple[ModelInfo, ...]:
        """Models with ``capability`` (``tools``, ``vision``, ... or a category)."""
        return tuple(m for m in self._models if m.supports(capability))

    @property
    def aliases(self) -> Mapping[str, str]:
        """Short names (``sonnet``) and their targets."""
        return MappingProxyType(self._aliases)

    @property
    def redirects(self) -> Mapping[str, str]:
        """Retired ids and the live ids that serve them."""
        return MappingProxyType(self._redirects)

    def to_models_response(self) -> dict[str, Any]:
        """This catalog as a ``GET /v1/models`` payload (what a local gateway would serve)."""
        return {"object": "list", "data": [m.to_api_dict() for m in self._models]}

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` resolves (aliases and retired ids included)."""
        return isinstance(name, str) and self._find(name.strip().lower())[0] is not None

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def __repr__(self) -> str:
        return (
            f"Catalog({len(self)} models, source={self.source!r}, "
            f"snapshot_date={self.snapshot_date!r})"
        )

    def _unknown(self, name: str, key: str, last: str) -> UnknownModelError:
        suggestions = self._suggest(last)
        if last != key:
            return UnknownModelError(
                f"Unknown model {name!r} (it points to {last!r}, which this catalog does not "
                "list).",
                suggestions=suggestions,
            )
        return UnknownModelError(f"Unknown model {name!r}.", suggestions=suggestions)

    def _suggest(self, key: str) -> list[str]:
        import difflib

        table = self._suggestion_table()
        # Bare ids and aliases are candidates too, so "gpt-5.55" finds "gpt-5.5".
        matches = difflib.get_close_matches(key, list(table), n=8, cutoff=0.6)
        suggestions: list[str] = []
        for match in matches:
            for model_id in table[match]:
                if model_id not in suggestions:
                    suggestions.append(model_id)
        return suggestions[:3]

    def _suggestion_table(self) -> dict[str, tuple[str, ...]]:
        if self._suggestions is None:
            table: dict[str, tuple[str, ...]] = {}
            for key, model in self._by_id.items():
                table[key] = (model.id,)
                bare = key.rsplit("/", 1)[-1]
                table[bare] = (*table.get(bare, ()), model.id) if bare != key else (model.id,)
            for alias, target in self._aliases.items():
                if target in self._by_id:
                    table.setdefault(alias, (self._by_id[target].id,))
            self._suggestions = table
        return self._suggestions


def default_catalog() -> Catalog:
    """The bundled catalog (module-level cache)."""
    return _bundled()


@functools.lru_cache(maxsize=1)
def _bundled() -> Catalog:
    payload = json.loads(_SNAPSHOT.read_text(encoding="utf-8"))
    return _from_payload(
        payload,
        base=None,
        aliases=_payload_map(payload, "aliases"),
        redirects=_payload_map(payload, "redirects"),
        source="bundled",
    )


def _from_payload(
    payload: Any,
    *,
    base: Catalog | None,
    aliases: Mapping[str, str],
    redirects: Mapping[str, str],
    source: str,
) -> Catalog:
    rows = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise ValueError("A /v1/models payload needs a 'data' list.")
    models: list[ModelInfo] = []
    for row in rows:
        row_id = row.get("id") if isinstance(row, Mapping) else None
        known = (
            base._by_id.get(row_id.strip().lower()) if base and isinstance(row_id, str) else None
        )
        model = model_from_row(row, known)
        if model is not None:
            models.append(model)
    if not models:
        raise ValueError("The /v1/models payload lists no usable chat model.")
    snapshot_date = payload.get("snapshot_date") if isinstance(payload, Mapping) else None
    return Catalog(
        models,
        aliases=aliases,
        redirects=redirects,
        snapshot_date=snapshot_date if isinstance(snapshot_date, str) else None,
        source=source,
    )


def _payload_map(payload: Any, key: str) -> dict[str, str]:
    value = payload.get(key) if isinstance(payload, Mapping) else None
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _lowered(mapping: Mapping[str, str] | None) -> dict[str, str]:
    if not mapping:
        return {}
    return {k.strip().lower(): v.strip().lower() for k, v in mapping.items()}


def _bare_index(by_id: Mapping[str, ModelInfo], redirects: Mapping[str, str]) -> dict[str, str]:
    """Bare name -> full id, for names exactly one live model (or else one retired id) has."""
    index: dict[str, str] = {}
    taken: set[str] = set(by_id)  # a bare name shadowed by a live model is never re-pointed
    for ids in (by_id, redirects):
        owners: dict[str, list[str]] = {}
        for full in ids:
            if "/" in full:
                owners.setdefault(full.rsplit("/", 1)[-1], []).append(full)
        for bare, fulls in owners.items():
            if bare not in taken and len(fulls) == 1:
                index[bare] = fulls[0]
        taken.update(owners)
    return index


def _free_to_nvidia(key: str) -> str | None:
    if key.startswith(_FREE_PREFIX) and len(key) > len(_FREE_PREFIX):
        return "nvidia/" + key[len(_FREE_PREFIX) :]
    return None
