"""The treatment-side maps (medications, regimens, procedures, treatment) keep their conventions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fhir_adapter.terminology import Concept, fold, load_map_text

MAPS = Path(__file__).resolve().parents[1] / "mappings"

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"

KINDS = {
    "medications": {"chemotherapy", "hormonal", "her2-targeted", "targeted", "immunotherapy", "bone-targeted", "other"},
    "procedures": {"surgery", "biopsy", "radiotherapy", "other"},
    "regimens": {"regimen"},
    "treatment": {
        "intent", "route", "termination-reason", "radiotherapy-modality", "radiotherapy-technique", "fixed", "unit",
    },
}  # fmt: skip
SYSTEMS = {"medications": {RXNORM}, "procedures": {SNOMED}, "regimens": set(), "treatment": {SNOMED, UCUM}}

# A SNOMED CT fully specified name ends in its semantic tag, e.g. "Lumpectomy of breast (procedure)".
SEMANTIC_TAG = re.compile(r" \((procedure|qualifier value|situation|finding|event|regime/therapy)\)$")
# SNOMED codes whose semantic tag no reachable source shows; each says why.
NO_TAG_SEEN = {
    # mCODE fixes RadiotherapyCourseSummary's code without a display; the concept is newer than the 2020 GPS and
    # absent from the 2022 FHIR R5 expansions, so only the mCODE narrative's 'Radiotherapy course of treatment' is seen.
    "1217123003",
    # Seen only with their preferred terms, in the July 2021 International expansion of mCODE's surgical value set
    # (and, for 79544006 and 234262008, the 2023 HL7 ICHOM breast cancer IG); no reachable source shows their FSNs.
    "27865001",  # Bilateral mastectomy
    "79544006",  # Complete axillary lymphadenectomy
    "234262008",  # Excision of axillary lymph node
    "87697008",  # Punch biopsy of skin
    "12093008",  # Excisional biopsy of orbit
    "177754003",  # Excision of lesion of chest wall
    "76876009",  # Bilateral oophorectomy
}
# Tall Man lettering (DOXOrubicin, PACLitaxel): a lower-case letter next to a run of three or more capitals.
TALL_MAN = re.compile(r"[a-z][A-Z]{3,}|[A-Z]{3,}[a-z]")


def concepts(terminology, domain: str) -> list[Concept]:
    return list({id(c): c for c in terminology.domains[domain].values()}.values())


def codings(concept: Concept):
    yield from concept.codings
    for variant in concept.variants:
        yield from variant.codings


def notes_of(text: str) -> dict[str, str]:
    """Each entry's note by its first folded term (the loader keeps no notes)."""
    return {fold(e["terms"][0]): e.get("note") or "" for e in yaml.safe_load(text)["entries"]}


def convention_problems(
    domain: str, concept: Concept, notes: dict[str, str], medications: set[str] | None = None
) -> list[str]:
    """What is wrong with one entry of a treatment-side map (empty when it keeps the conventions)."""
    name = f"{domain} '{concept.terms[0]}'"
    problems = []
    if concept.kind not in KINDS[domain]:
        problems.append(f"{name}: kind {concept.kind!r} is not one of {sorted(KINDS[domain])}")
    for coding in codings(concept):
        if coding.system not in SYSTEMS[domain]:
            problems.append(f"{name}: system {coding.system} does not belong in {domain}")
        if (
            coding.system == SNOMED
            and coding.code not in NO_TAG_SEEN
            and not SEMANTIC_TAG.search(coding.display)
        ):
            problems.append(f"{name}: SNOMED display {coding.display!r} is not a fully specified name")
        if coding.system == RXNORM and (
            TALL_MAN.search(coding.display) or coding.display != coding.display.lower()
        ):
            problems.append(
                f"{name}: RxNorm display {coding.display!r} is not RxNorm's lower-case ingredient name"
            )
    for variant in concept.variants:
        for key, value in variant.when:
            if key == "laterality" and value not in {"left", "right", "bilateral"}:
                problems.append(f"{name}: laterality variant {value!r}")
    if domain == "regimens":
        if concept.codings:
            problems.append(f"{name}: a regimen has no code of its own")
        if not concept.components or not re.match(r"https?://", concept.source or ""):
            problems.append(f"{name}: a regimen names its drugs and the page they were read from")
        for drug in concept.components:
            if medications is not None and drug.lower() not in medications:
                problems.append(f"{name}: component {drug!r} is no term of medications.yaml")
    if (
        not concept.codings
        and not concept.variants
        and not notes.get(fold(concept.terms[0]))
        and domain != "regimens"
    ):
        problems.append(f"{name}: an uncoded entry says why in a note")
    return problems


@pytest.mark.parametrize("domain", sorted(KINDS))
def test_treatment_side_maps_keep_their_conventions(terminology, domain):
    medications = set(terminology.domains["medications"])
    notes = notes_of((MAPS / f"{domain}.yaml").read_text(encoding="utf-8"))
    problems = [
        p for c in concepts(terminology, domain) for p in convention_problems(domain, c, notes, medications)
    ]
    assert problems == []


BAD = """\
domain: medications
description: test
entries:
  - terms: [doxorubicin]
    kind: chemotherapy
    codings:
      - {system: "http://www.nlm.nih.gov/research/umls/rxnorm", code: "3639", display: DOXOrubicin, verified: "https://example.org"}
  - terms: [lumpectomy]
    kind: surgery
    codings:
      - {system: "http://snomed.info/sct", code: "392021009", display: Lumpectomy of breast, verified: "https://example.org"}
  - terms: [mystery drug]
    kind: miracle
    codings: []
"""


def test_the_convention_check_catches_broken_entries():
    _, index = load_map_text("medications.yaml", BAD)
    notes = notes_of(BAD)
    found = [
        p
        for c in {id(c): c for c in index.values()}.values()
        for p in convention_problems("medications", c, notes)
    ]
    assert any("'DOXOrubicin' is not RxNorm's lower-case ingredient name" in p for p in found)
    assert any("system http://snomed.info/sct does not belong in medications" in p for p in found)
    assert any("'Lumpectomy of breast' is not a fully specified name" in p for p in found)
    assert any("kind 'miracle'" in p for p in found)
    assert any("'mystery drug': an uncoded entry says why" in p for p in found)


def test_a_regimen_must_name_known_drugs_and_its_source():
    text = """\
domain: regimens
description: test
entries:
  - terms: [XY]
    kind: regimen
    components: [doxorubicin, unobtainium]
    source: "https://example.org/xy"
"""
    _, index = load_map_text("regimens.yaml", text)
    found = convention_problems("regimens", index["xy"], notes_of(text), {"doxorubicin"})
    assert found == ["regimens 'XY': component 'unobtainium' is no term of medications.yaml"]


# Terms the mappers look up by name; each must stay, coded, with its kind.
RELIED_ON = [
    ("treatment", "radiotherapy course summary", "fixed", "1217123003"),
    ("treatment", "cGy", "unit", "cGy"),
    ("treatment", "Gy", "unit", "Gy"),
    ("treatment", "mg", "unit", "mg"),
    ("treatment", "mg/m2", "unit", "mg/m2"),
    ("treatment", "mg/kg", "unit", "mg/kg"),
    ("treatment", "curative", "intent", "373808002"),
    ("treatment", "palliative", "intent", "363676003"),
    ("treatment", "oral", "route", "26643006"),
    ("treatment", "intravenous", "route", "47625008"),
    ("treatment", "toxicity", "termination-reason", "407563006"),
    ("treatment", "photons", "radiotherapy-modality", "1156506007"),
    ("medications", "Herceptin", "her2-targeted", "224905"),
    ("medications", "nab-paclitaxel", "chemotherapy", "56946"),
]


@pytest.mark.parametrize(("domain", "term", "kind", "code"), RELIED_ON)
def test_terms_the_mappers_rely_on_are_coded(terminology, domain, term, kind, code):
    concept = terminology.require(domain, term)
    assert concept.kind == kind
    assert code in {c.code for c in concept.codings}
