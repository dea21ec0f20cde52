"""The maps are read with libyaml's loader when PyYAML has it; they must read the same as with the
pure loader, and a map the loaders refuse keeps the pure loader's message."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from fhir_adapter import terminology
from fhir_adapter.errors import MappingError


def _maps() -> list[tuple[str, str]]:
    root = resources.files("fhir_adapter.mappings")
    return sorted(
        (f"mappings/{p.name}", p.read_text(encoding="utf-8"))
        for p in root.iterdir()
        if p.name.endswith(".yaml")
    )


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")
def test_the_maps_read_the_same_with_either_loader(monkeypatch):
    assert issubclass(terminology._FAST_LOADER, yaml.CSafeLoader)
    fast = [terminology.load_map_text(name, text) for name, text in _maps()]
    monkeypatch.setattr(terminology, "_FAST_LOADER", terminology._MapLoader)
    pure = [terminology.load_map_text(name, text) for name, text in _maps()]
    assert len(fast) > 5
    assert fast == pure


def test_a_map_that_is_not_yaml_keeps_the_pure_loaders_message():
    text = "domain: histology\nentries: [a, b\n"
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.safe_load(text)
    with pytest.raises(MappingError) as info:
        terminology.load_map_text("mappings/histology.yaml", text)
    assert str(info.value) == f"mappings/histology.yaml: invalid YAML: {pure.value}"
