"""casefile._count_within, the limits check every case passes, against the plain walk it replaced.

It checks the values in a mapping or list where they stand instead of putting each on a stack;
its answer (the number of keys, or None where any limit is broken) must stay the same.
"""

from __future__ import annotations

import random

from fhir_adapter.casefile import Limits, _count_within


def reference(data: object, limits: Limits) -> int | None:
    """The walk as it was: every value on the stack, counted one by one."""
    budget = limits.nodes
    keys = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        kind = type(value)
        if kind is str:
            if len(value) > limits.string:
                return None
        elif kind is dict:
            if depth > limits.depth or len(value) > limits.items:
                return None
            keys += len(value)
            for key, item in value.items():
                if type(key) is not str or len(key) > limits.string:
                    return None
                stack.append((item, depth + 1))
        elif kind is list:
            if depth > limits.depth or len(value) > limits.items:
                return None
            stack.extend((item, depth + 1) for item in value)
        elif kind is int or kind is float:
            if not -limits.number <= value <= limits.number:
                return None
        elif kind is not bool and value is not None:
            return None
        if budget < 0:
            return None
    return keys


class Text(str):
    pass


LEAVES = [
    "",
    "abc",
    "x" * 9,
    0,
    -3,
    7.5,
    1e16,
    -1e16,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    Text("t"),
    b"b",
]


def random_value(rng: random.Random, depth: int) -> object:
    roll = rng.random()
    if depth > 6 or roll < 0.45:
        return rng.choice(LEAVES)
    if roll < 0.75:
        value: dict = {}
        for _ in range(rng.randint(0, 5)):
            key = (
                rng.choice(["a", "bb", "key" * 4, 1, None, "c", "d", "e"])
                if rng.random() < 0.1
                else rng.choice("abcdefg")
            )
            value[key] = random_value(rng, depth + 1)
        return value
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def test_the_limits_walk_answers_as_the_plain_walk_did():
    rng = random.Random(5)
    limits_list = [
        Limits(),
        Limits(depth=3),
        Limits(items=3),
        Limits(string=8),
        Limits(number=100),
        Limits(nodes=0),
        Limits(nodes=1),
        Limits(nodes=12),
        Limits(depth=1, items=2, string=3, number=5, nodes=6),
    ]
    answers = set()
    for _ in range(3000):
        data = random_value(rng, 0)
        for limits in limits_list:
            expected = reference(data, limits)
            assert _count_within(data, limits) == expected, (data, limits)
            answers.add(expected is None)
    assert answers == {True, False}  # data within the limits and data beyond them were both met
    # Shared values (YAML aliases) count as copies, both ways.
    shared = {"a": list(range(5))}
    data = {"x": shared, "y": shared, "z": [shared, shared]}
    for nodes in range(20, 40):
        assert _count_within(data, Limits(nodes=nodes)) == reference(data, Limits(nodes=nodes))
