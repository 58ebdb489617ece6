"""The API reference: every public name has a docstring and a place in the built docs.

The public API is every name in ``__all__`` of the modules below (and of any module a docs
page renders). Docstrings are read the way mkdocstrings reads them, statically with griffe,
so constants and type aliases count only when they carry an attribute docstring. The last
test builds the site with ``mkdocs build --strict``, which fails on any warning.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import griffe
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE_PATHS = (
    ROOT / "libs/blockrun-core/src",
    ROOT / "libs/langchain-blockrun/src",
    ROOT / "libs/llama-index-llms-blockrun/src",
)
PUBLIC_MODULES = (
    "blockrun_core",
    "blockrun_core.budget",
    "blockrun_core.ledger",
    "blockrun_core.router",
    "blockrun_core.testing",
    "blockrun_core.x402",
    "blockrun_core.catalog",
    "blockrun_core.wire",
    "langchain_blockrun",
    "llama_index.llms.blockrun",
)
OUR_PACKAGES = ("blockrun_core", "langchain_blockrun", "llama_index.llms.blockrun")
# `::: identifier` followed by an indented YAML block of options, as mkdocstrings reads it.
PRIVATE = re.compile(r"^_[^_]")  # mkdocs.yml's `filters`
AUTODOC = re.compile(r"^::: *(?P<identifier>\S+)\n(?P<options>(?:[ \t]+\S.*\n?)*)", re.MULTILINE)


@cache
def loader() -> griffe.GriffeLoader:
    """One static view of all three distributions, as the docs build sees them."""
    found = griffe.GriffeLoader(search_paths=[str(path) for path in SOURCE_PATHS])
    for package in OUR_PACKAGES:
        found.load(package)
    found.resolve_aliases(implicit=False, external=False)
    return found


def static(path: str) -> griffe.Object:
    """The object a dotted path names, following re-exports to where it is defined."""
    obj = loader().modules_collection[path]
    return obj.final_target if obj.is_alias else obj


def autodoc_blocks() -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Every ``::: identifier`` of the docs pages, with its options."""
    for page in sorted(DOCS.rglob("*.md")):
        for match in AUTODOC.finditer(page.read_text(encoding="utf-8")):
            config = yaml.safe_load(match["options"]) or {}
            yield page, match["identifier"], config.get("options") or {}


def documented_modules() -> tuple[str, ...]:
    """The required public modules plus every module a docs page renders whole."""
    rendered = [name for _, name, _ in autodoc_blocks() if static(name).is_module]
    return tuple(dict.fromkeys([*PUBLIC_MODULES, *rendered]))


def public_names(module: str) -> list[str]:
    exported = importlib.import_module(module).__dict__.get("__all__")
    assert exported, f"{module} must list its public API in __all__"
    return list(exported)


def is_ours(obj: griffe.Object) -> bool:
    return obj.path.startswith(OUR_PACKAGES)


def has_docstring(obj: griffe.Object) -> bool:
    return bool(obj.docstring and obj.docstring.value.strip())


@cache
def public_protocols() -> tuple[type, ...]:
    """Our public protocols: a class that satisfies one shares its method docstrings."""
    found = []
    for module in documented_modules():
        for name in public_names(module):
            value = getattr(importlib.import_module(module), name)
            if isinstance(value, type) and getattr(value, "_is_protocol", False):
                found.append(value)
    return tuple(found)


def documented_by_protocol(owner: type, member: str) -> bool:
    """Whether ``member`` implements a documented method of a protocol ``owner`` satisfies."""
    for protocol in public_protocols():
        try:
            satisfied = issubclass(owner, protocol)
        except TypeError:  # not runtime-checkable, or has data members
            continue
        method = protocol.__dict__.get(member)
        if satisfied and method is not None and (method.__doc__ or "").strip():
            return True
    return False


def undocumented_members(cls: griffe.Class, runtime: type) -> list[str]:
    """Public methods and properties of ours (own or inherited) without a docstring."""
    missing = []
    for name, member in cls.all_members.items():
        if name.startswith("_") or member.is_alias or not is_ours(member):
            continue
        if not (member.is_function or "property" in member.labels):
            continue
        if not has_docstring(member) and not documented_by_protocol(runtime, name):
            missing.append(member.path)
    return missing


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_public_names_resolve_at_runtime(module: str) -> None:
    """Lazy exports resolve: every name in ``__all__`` can be fetched from its module."""
    imported = importlib.import_module(module)
    missing = [name for name in public_names(module) if not hasattr(imported, name)]
    assert missing == []


@pytest.mark.parametrize("module", documented_modules())
def test_every_public_name_has_a_docstring(module: str) -> None:
    imported = importlib.import_module(module)
    missing: list[str] = []
    for name in public_names(module):
        target = static(f"{module}.{name}")
        if not has_docstring(target):
            missing.append(f"{module}.{name}")
        if target.is_class:
            missing += undocumented_members(target, getattr(imported, name))
    assert missing == []


def rendered(identifier: str, options: dict[str, Any]) -> list[griffe.Object]:
    """What one ``:::`` block shows, as mkdocstrings decides it with our mkdocs.yml.

    A module shows the objects it defines and the re-exports listed in its ``__all__``,
    minus private names (``filters``); only documented objects are shown
    (``show_if_no_docstring: false``), so an undocumented one does not count as present.
    """
    target = static(identifier)
    if not target.is_module:
        return [target] if has_docstring(target) else []
    names = options.get("members")
    if not isinstance(names, list):
        exported = set(public_names(identifier))
        names = [
            name
            for name, member in target.members.items()
            if (name in exported or not member.is_alias) and not PRIVATE.match(name)
        ]
    shown = [static(f"{identifier}.{name}") for name in names]
    return [obj for obj in shown if not obj.is_module and has_docstring(obj)]


def covered_paths() -> set[str]:
    """Where each object the docs show is defined."""
    return {
        obj.path
        for _, identifier, options in autodoc_blocks()
        for obj in rendered(identifier, options)
    }


def test_docs_pages_render_only_existing_objects() -> None:
    blocks = list(autodoc_blocks())
    assert blocks, "no ::: blocks found under docs/"
    for page, identifier, options in blocks:
        assert rendered(identifier, options), f"{page.name}: {identifier} shows nothing"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_in_the_docs(module: str) -> None:
    covered = covered_paths()
    absent = [
        f"{module}.{name}"
        for name in public_names(module)
        if static(f"{module}.{name}").path not in covered
    ]
    assert absent == []


def test_every_docs_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = set(re.findall(r"[\w/.-]+\.md", str(config["nav"])))
    pages = {page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md")}
    assert pages == listed


def test_docs_build_strict_without_warnings(tmp_path: Path) -> None:
    """The same build CI runs; strict mode turns every warning into a failure."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = built.stdout + built.stderr
    assert built.returncode == 0, log
    assert "WARNING" not in log
    reference = (site / "langchain" / "index.html").read_text(encoding="utf-8")
    assert 'id="langchain_blockrun.ChatBlockRun"' in reference
