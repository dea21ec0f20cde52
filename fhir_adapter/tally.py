"""The terms a run kept as text only, counted once per distinct term across every case."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from hashlib import blake2b
from heapq import merge as merge_sorted

from .casefile import look_alikes, one_line
from .terminology import fold

CASES_KEPT = 20  # case names kept per term for the report (the count covers them all)
TERMS_KEPT = 5000  # distinct terms listed; the rest are counted (how many, how often), not listed

_HASH_SPACE = 2**64


def term_hash(key: tuple[str, str]) -> int:
    """A number for a (map, folded term) pair, the same in every process (unlike `hash`)."""
    digest = blake2b("\x00".join(key).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass
class TermTally:
    """Distinct (map, term) pairs with how often and in how many cases they stayed text.

    Memory stays bounded however long the run: at most TERMS_KEPT terms, and per term the count,
    the number of cases, the first CASES_KEPT case names and the distinct fields. A case is
    counted once per term, however many of its fields hold it (cases arrive one at a time).

    Each case comes with its position in the run (`order`), kept beside the term's first case,
    its kept cases and its fields, so that tallies of parts of a run merge into the tally of the
    whole whatever order the parts come in (Spark's partitions need not follow the input's order).

    The TERMS_KEPT terms kept (when there are more) are those whose `term_hash` is smallest, a
    sample fixed by the terms themselves rather than by the order they come in. So a term kept by the
    whole run is kept by every part that met it, its counts are exact, and merging parts in any
    order gives the same tally. The terms beyond it are counted: how many times exactly
    (`beyond_count`), how many distinct ones estimated from the largest kept hash
    (`beyond_terms`; exact while nothing was left out).
    """

    terms: dict[tuple[str, str], dict] = field(default_factory=dict)
    # Per term: the position of its first case, and of each kept case and field (parallel lists).
    orders: dict[tuple[str, str], dict] = field(default_factory=dict)
    beyond_count: int = 0  # times a term not kept stayed text
    limit: int = TERMS_KEPT
    # The kept terms' hashes, largest on top (negated), to find the one to let go.
    _heap: list[tuple[int, tuple[str, str]]] = field(default_factory=list, repr=False, compare=False)

    def _admit(self, key: tuple[str, str]) -> bool:
        """Whether a new term is kept; keeping it may let go of the kept term with the largest hash."""
        h = term_hash(key)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, (-h, key))
            return True
        if h >= -self._heap[0][0]:
            return False
        _, dropped = heapq.heapreplace(self._heap, (-h, key))
        self._let_go(dropped)
        return True

    def _let_go(self, key: tuple[str, str]) -> None:
        self.beyond_count += self.terms.pop(key)["count"]
        del self.orders[key]

    def _rebuild(self) -> None:
        """The heap from `terms` (after a load or a merge), letting go of terms beyond the limit."""
        self._heap = [(-term_hash(key), key) for key in self.terms]
        heapq.heapify(self._heap)
        while len(self._heap) > self.limit:
            _, dropped = heapq.heappop(self._heap)
            self._let_go(dropped)

    def add(self, case: str, uncoded: list[tuple[str, str, str, str]], order: int = 0) -> None:
        counted: set[tuple[str, str]] = set()
        for map_file, term, field_path, reason in uncoded:
            key = (map_file, fold(term))  # the terms the maps would take for one are counted as one
            entry = self.terms.get(key)
            if entry is None:
                if not self._admit(key):
                    self.beyond_count += 1
                    continue
                entry = self.terms[key] = {
                    "term": term,
                    "map": map_file,
                    "reason": reason,
                    "count": 0,
                    "case_count": 0,
                    "cases": [],
                    "fields": [],
                }
                self.orders[key] = {"first": order, "cases": [], "fields": []}
            orders = self.orders[key]
            entry["count"] += 1
            if key not in counted:
                counted.add(key)
                entry["case_count"] += 1
                if len(entry["cases"]) < CASES_KEPT:
                    entry["cases"].append(case)
                    orders["cases"].append(order)
            if field_path not in entry["fields"]:
                entry["fields"].append(field_path)
                orders["fields"].append(order)

    def merge(self, other: TermTally) -> None:
        """Add another tally's counts (another part of the run, earlier or later) to this one."""
        self._merge_terms(other)
        self.beyond_count += other.beyond_count
        self._rebuild()

    def _merge_terms(self, other: TermTally) -> None:
        for key, theirs in other.terms.items():
            their_orders = other.orders[key]
            entry = self.terms.get(key)
            if entry is None:
                self.terms[key] = {**theirs, "cases": list(theirs["cases"]), "fields": list(theirs["fields"])}
                self.orders[key] = {
                    "first": their_orders["first"],
                    "cases": list(their_orders["cases"]),
                    "fields": list(their_orders["fields"]),
                }
                continue
            orders = self.orders[key]
            if their_orders["first"] < orders["first"]:
                # The term as the run's first case wrote it.
                entry["term"], entry["reason"] = theirs["term"], theirs["reason"]
                orders["first"] = their_orders["first"]
            entry["count"] += theirs["count"]
            entry["case_count"] += theirs["case_count"]
            # Both lists are in run order; a stable merge keeps ours first among equal positions.
            kept = list(
                merge_sorted(
                    zip(orders["cases"], entry["cases"], strict=True),
                    zip(their_orders["cases"], theirs["cases"], strict=True),
                    key=lambda pair: pair[0],
                )
            )[:CASES_KEPT]
            orders["cases"], entry["cases"] = [o for o, _ in kept], [c for _, c in kept]
            # Each field where the run first met it: by position in the run, then (within one case,
            # or when no positions were given) ours before theirs, each in the order it met them.
            first_met: dict[str, tuple[int, int, int]] = {}
            for rank, (names, at) in enumerate(
                ((entry["fields"], orders["fields"]), (theirs["fields"], their_orders["fields"]))
            ):
                for position, (name, order) in enumerate(zip(names, at, strict=True)):
                    if name not in first_met or (order, rank, position) < first_met[name]:
                        first_met[name] = (order, rank, position)
            fields = sorted(first_met, key=first_met.__getitem__)
            entry["fields"], orders["fields"] = fields, [first_met[name][0] for name in fields]

    @property
    def beyond_terms(self) -> int:
        """How many distinct terms were counted but not kept: 0 when none was left out, else an
        estimate from the largest kept hash (the k-th smallest of all the run's terms)."""
        if not self.beyond_count or not self._heap:
            return self.beyond_count and 1
        largest = -self._heap[0][0]
        estimate = round((len(self._heap) - 1) * _HASH_SPACE / max(largest, 1)) - len(self._heap)
        return min(self.beyond_count, max(1, estimate))

    def beyond_line(self) -> str | None:
        """What the listed terms leave out, or None when they are all the terms."""
        if not self.beyond_count:
            return None
        return (
            f"... and about {self.beyond_terms:,} more distinct term(s) kept as text"
            f" ({self.beyond_count:,} time(s)) not listed"
        )

    def dump(self) -> dict:
        """The tally as plain data (JSON), to carry a partition's tally to the driver."""
        rows = [[list(key), entry, self.orders[key]] for key, entry in self.terms.items()]
        return {"terms": rows, "beyond_count": self.beyond_count}

    @classmethod
    def load(cls, data: dict) -> TermTally:
        tally = cls()
        tally.terms = {tuple(key): entry for key, entry, _ in data["terms"]}
        tally.orders = {tuple(key): orders for key, _, orders in data["terms"]}
        tally.beyond_count = data["beyond_count"]
        tally._rebuild()
        return tally

    def lines(self, max_cases: int = 5) -> list[str]:
        """One line per distinct term, most frequent first."""
        out = []
        for entry in self.report():
            cases = entry["cases"][:max_cases]
            more = entry["case_count"] - len(cases)
            where = ", ".join(cases) + (f" and {more} more" if more else "")
            why = "not in" if entry["reason"] == "not in the map" else "has no verified code in"
            term = one_line(entry["term"])
            line = f"'{term}' ({why} {entry['map']}): {entry['count']} time(s), in {where}"
            alike = look_alikes(entry["term"])
            if alike:  # it reads as a term the maps hold; say why it was not found
                line += f"; it holds letters of another script that look like Latin ones: {', '.join(alike)}; retype them"
            out.append(line)
        return out

    def report(self) -> list[dict]:
        return sorted(self.terms.values(), key=lambda e: (-e["count"], e["map"], e["term"].lower()))
