"""The terms a run kept as text only, counted once per distinct term across every case."""

from __future__ import annotations

from dataclasses import dataclass, field

CASES_KEPT = 20  # case names kept per term for the report (the count covers them all)


@dataclass
class TermTally:
    """Distinct (map, term) pairs with how often and in how many cases they stayed text.

    Memory stays bounded however long the run: per term, the count, the number of cases, the
    first CASES_KEPT case names and the distinct fields. A case is counted once per term, however
    many of its fields hold it (cases arrive one at a time).
    """

    terms: dict[tuple[str, str], dict] = field(default_factory=dict)

    def add(self, case: str, uncoded: list[tuple[str, str, str, str]]) -> None:
        counted: set[tuple[str, str]] = set()
        for map_file, term, field_path, reason in uncoded:
            key = (map_file, term.strip().lower())
            entry = self.terms.setdefault(
                key,
                {
                    "term": term,
                    "map": map_file,
                    "reason": reason,
                    "count": 0,
                    "case_count": 0,
                    "cases": [],
                    "fields": [],
                },
            )
            entry["count"] += 1
            if key not in counted:
                counted.add(key)
                entry["case_count"] += 1
                if len(entry["cases"]) < CASES_KEPT:
                    entry["cases"].append(case)
            if field_path not in entry["fields"]:
                entry["fields"].append(field_path)

    def merge(self, other: TermTally) -> None:
        """Add another tally's counts (a Spark partition's) to this one."""
        for key, theirs in other.terms.items():
            entry = self.terms.get(key)
            if entry is None:
                self.terms[key] = {**theirs, "cases": list(theirs["cases"]), "fields": list(theirs["fields"])}
                continue
            entry["count"] += theirs["count"]
            entry["case_count"] += theirs["case_count"]
            entry["cases"] = (entry["cases"] + theirs["cases"])[:CASES_KEPT]
            entry["fields"] += [f for f in theirs["fields"] if f not in entry["fields"]]

    def lines(self, max_cases: int = 5) -> list[str]:
        """One line per distinct term, most frequent first."""
        out = []
        for entry in self.report():
            cases = entry["cases"][:max_cases]
            more = entry["case_count"] - len(cases)
            where = ", ".join(cases) + (f" and {more} more" if more else "")
            why = "not in" if entry["reason"] == "not in the map" else "has no verified code in"
            out.append(f"'{entry['term']}' ({why} {entry['map']}): {entry['count']} time(s), in {where}")
        return out

    def report(self) -> list[dict]:
        return sorted(self.terms.values(), key=lambda e: (-e["count"], e["map"], e["term"].lower()))
