"""docs/migration.md is what scripts/gen_migration.py generates from the registry
today, and every name it marks as mapped resolves to a built-in activation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import polyact as pa

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gen():
    try:  # the generator imports polyact.compat.echo, which registers _echo_aria2
        pa.get_spec("_echo_aria2")
        registered = True
    except pa.UnknownActivationError:
        registered = False
    spec = importlib.util.spec_from_file_location("gen_migration", ROOT / "scripts" / "gen_migration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    if not registered:  # later test modules see the built-ins only
        try:
            pa.unregister_activation("_echo_aria2")
        except pa.UnknownActivationError:
            pass


@pytest.fixture(scope="module")
def rows(gen):
    return gen.rows()


def test_committed_guide_is_up_to_date(gen):
    committed = (ROOT / "docs" / "migration.md").read_text()
    assert committed == gen.render(), "docs/migration.md is stale: run python scripts/gen_migration.py"


def test_every_source_has_rows(gen, rows):
    assert {r.source for r in rows} == set(gen.SOURCES)


def test_mapped_names_resolve(gen, rows):
    mapped = [r for r in rows if r.polyact is not None]
    assert mapped
    for r in mapped:
        spec = pa.get_spec(r.polyact)
        assert spec.name == r.polyact and gen.builtin_spec(r.polyact) is spec, r
        assert r.same != gen.NOT_YET, r
        if r.resolves == "yes":  # the library's own name gives the same activation
            key = r.name.split("(")[0].split(" ")[0]
            if key.startswith("ACT2FN["):
                key = key[len("ACT2FN['") : -2]
            assert pa.get_spec(key.split(".")[-1]).name == r.polyact, r


def test_unmapped_names_do_not_resolve(gen, rows):
    entries = {
        e.name: e for source in (gen.ZETA, gen.TIMM, gen.TRANSFORMERS, gen.JAX, gen.KERAS) for e in source
    }
    entries.update({e.name: e for e, _ in gen._echo_entries()})
    for r in rows:
        if r.polyact is None:
            assert r.same == gen.NOT_YET, r
            assert gen.builtin_spec(entries[r.name].means) is None, r


def test_library_parameters_fit_polyact(gen):
    # the parameters that reproduce each library's defaults are valid polyact parameters
    for source in (gen.ZETA, gen.TIMM, gen.TRANSFORMERS, gen.JAX, gen.KERAS):
        for e in source:
            spec = gen.builtin_spec(e.means)
            if spec is not None:
                spec.bind(e.params, partial=True)


def test_echo_rows_follow_the_facade_plans(gen, rows):
    classes = gen._facade_classes()
    echo = [r for r in rows if r.source == "Echo"]
    for (entry, plan), row in zip(gen._echo_entries(), echo):
        assert row.name == entry.name
        if row.polyact is not None:
            target = pa.get_spec(plan.name)
            assert (target.name == row.polyact) == (not row.same.startswith("no:")), row
        for facade in row.facade.split(", "):
            if facade != "-":
                mod, cls = facade.strip("`").split(".")
                assert mod in classes[cls], row
    assert "Aria2" in classes and "FReLU" in classes and "Funnel" in classes
