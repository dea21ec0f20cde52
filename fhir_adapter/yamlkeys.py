"""YAML loading that refuses a key given twice in one mapping (case files and user maps alike)."""

from __future__ import annotations

import yaml


class DuplicateKey(Exception):
    """A mapping that names one key twice (raised while constructing the data)."""

    def __init__(self, key: object, first: int | None, second: int | None):
        super().__init__(str(key))
        self.key = key
        self.first = first
        self.second = second


class NoDuplicateKeys:
    """Constructor mix-in: a key given twice in one mapping is an error naming both lines.

    PyYAML keeps the last value silently, which loses the first without a word (an entry of a map
    with `terms` twice lost its first terms). Merge keys (`<<: *anchor`) keep their documented rule:
    the mapping's own keys override merged ones.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise DuplicateKey(key_node.value, seen[key_node.value], line)
                seen[key_node.value] = line
        return super().construct_mapping(node, deep)
