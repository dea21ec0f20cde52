"""Shared output values that cannot be changed in place: a CodeableConcept made once per term.

A batch codes the same few hundred terms again and again; the mappers build each term's
CodeableConcept once (mapping/common.py) and put that one object into every resource that
needs it. A shared object must never change in place, or one resource's edit would show in
every other: `freeze` makes a dict whose nested dicts and lists are frozen too, and every
method that would change one raises TypeError. JSON writers and validators read them as the
dicts and lists they are. A copy (`copy.copy`, `copy.deepcopy`, pickling, `dict(value)`,
`{**value}`) is plain and free to change.

Because a frozen value cannot change, validate.py judges each one once: the compiled check
remembers the frozen CodeableConcepts it accepted and takes them as they are next time.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        "this value is shared between resources and cannot be changed in place;"
        " copy it (dict(value), list(value) or copy.deepcopy) and change the copy"
    )


class FrozenDict(dict):
    """A dict that refuses every change in place; made by `freeze`."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        from copy import deepcopy

        return {key: deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple:
        return (dict, (dict(self),))


class FrozenList(list):
    """A list that refuses every change in place; made by `freeze`."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict) -> list:
        from copy import deepcopy

        return [deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A frozen copy of a JSON value: dicts and lists frozen all the way down, other values as they are."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(item) for item in value])
    return value
