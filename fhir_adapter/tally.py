"""The terms a run kept as text only, counted once per distinct term across every case."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TermTally:
    """Distinct (map, term) pairs with how often and in which cases they stayed text."""

    terms: dict[tuple[str, str], dict] = field(default_factory=dict)
    # The cases of each term as a set as well: asking the list would cost a pass over every case
    # so far, for each term of each case (quadratic in the run's length).
    _cases: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)

    def add(self, case: str, uncoded: list[tuple[str, str, str, str]]) -> None:
        for map_file, term, field_path, reason in uncoded:
            key = (map_file, term.strip().lower())
            entry = self.terms.get(key)
            if entry is None:
                entry = self.terms[key] = {
                    "term": term,
                    "map": map_file,
                    "reason": reason,
                    "count": 0,
                    "cases": [],
                    "fields": [],
                }
                self._cases[key] = set()
            entry["count"] += 1
            seen = self._cases[key]
            if case not in seen:
                seen.add(case)
                entry["cases"].append(case)
            if field_path not in entry["fields"]:
                entry["fields"].append(field_path)

    def lines(self, max_cases: int = 5) -> list[str]:
        """One line per distinct term, most frequent first."""
        out = []
        for entry in sorted(self.terms.values(), key=lambda e: (-e["count"], e["map"], e["term"].lower())):
            cases = entry["cases"][:max_cases]
            more = len(entry["cases"]) - len(cases)
            where = ", ".join(cases) + (f" and {more} more" if more else "")
            why = "not in" if entry["reason"] == "not in the map" else "has no verified code in"
            out.append(f"'{entry['term']}' ({why} {entry['map']}): {entry['count']} time(s), in {where}")
        return out

    def report(self) -> list[dict]:
        return sorted(self.terms.values(), key=lambda e: (-e["count"], e["map"], e["term"].lower()))
