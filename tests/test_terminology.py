"""The terminology maps: the shipped ones load and name their sources; broken ones fail at start-up."""

from __future__ import annotations

import re

import pytest

from fhir_adapter.errors import MappingError
from fhir_adapter.terminology import fold, load_map_text, load_terminology

SYSTEMS = {
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://terminology.hl7.org/CodeSystem/icd-o-3",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://loinc.org",
    "http://unitsofmeasure.org",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
}
# Where a code may be said to be verified: a named HL7 package file, or a public page.
SOURCE_RE = re.compile(r"^(hl7\.[a-z0-9.]+#[0-9][^:]*:package/\S+|https?://\S+)")


def all_codings(terminology):
    for domain, index in terminology.domains.items():
        for concept in set(index.values()):
            for coding in concept.codings:
                yield domain, concept, coding
            for variant in concept.variants:
                for coding in variant.codings:
                    yield domain, concept, coding


def test_shipped_maps_load(terminology):
    assert {"fhir", "body_sites", "laterality", "primary_cancers", "secondary_cancers", "histology",
            "procedures", "medications", "observations"} <= set(terminology.domains)  # fmt: skip


def test_every_code_names_where_it_was_verified(terminology):
    for domain, concept, coding in all_codings(terminology):
        assert SOURCE_RE.match(coding.verified), (
            f"{domain} '{concept.terms[0]}': verified = {coding.verified!r}"
        )


def test_clinical_codes_use_known_systems(terminology):
    for domain, concept, coding in all_codings(terminology):
        if domain == "fhir":
            continue
        assert coding.system in SYSTEMS, f"{domain} '{concept.terms[0]}': unexpected system {coding.system}"
        if coding.system == "http://snomed.info/sct":
            assert re.fullmatch(r"\d{6,18}", coding.code), coding
        if coding.system == "http://loinc.org":
            assert re.fullmatch(r"\d{1,7}-\d|LA\d{1,6}-\d", coding.code), coding
        if coding.system == "http://hl7.org/fhir/sid/icd-10-cm":
            assert re.fullmatch(r"[A-Z]\d{2}(\.[0-9A-Z]{1,4})?", coding.code), coding
        if coding.system == "http://www.nlm.nih.gov/research/umls/rxnorm":
            assert re.fullmatch(r"\d{1,8}", coding.code), coding


def test_lookup_is_case_and_spacing_insensitive(terminology):
    assert fold("  Invasive_Ductal-Carcinoma ") == "invasive ductal carcinoma"
    assert terminology.lookup("histology", "INVASIVE DUCTAL CARCINOMA") is not None


GOOD = """\
domain: things
description: test
entries:
  - terms: [thing, stuff]
    codings:
      - {system: "http://snomed.info/sct", code: "123456", display: Thing, verified: "https://example.org/thing"}
"""


def test_good_map_loads():
    domain, index = load_map_text("things.yaml", GOOD)
    assert domain == "things"
    assert index["stuff"].codings[0].code == "123456"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("  - terms: [thing, stuff]", "  - terms: [thing, Thing]"),
            "things.yaml: entry 1 ('thing'): term 'Thing' is already used by entry 'thing'",
        ),
        (('system: "http://snomed.info/sct", ', ""), "things.yaml: entry 1 ('thing'): coding lacks 'system'"),
        (
            ('"http://snomed.info/sct"', '"snomed"'),
            "things.yaml: entry 1 ('thing'): system 'snomed' is not an absolute URI",
        ),
        (
            ('code: "123456"', "code: 123456"),
            "things.yaml: entry 1 ('thing'): code 123456 must be a quoted string",
        ),
        (
            ("    codings:", "    colour: red\n    codings:"),
            "things.yaml: entry 1 ('thing'): unknown key(s) ['colour']",
        ),
        (
            ("domain: things", "domain: other"),
            "things.yaml: domain is 'other' but must equal the file name 'things'",
        ),
        (
            (', verified: "https://example.org/thing"', ""),
            "things.yaml: entry 1 ('thing'): coding lacks 'verified'",
        ),
    ],
)
def test_broken_map_fails_naming_file_and_entry(change, message):
    with pytest.raises(MappingError) as info:
        load_map_text("things.yaml", GOOD.replace(*change))
    assert str(info.value).startswith(message)


def test_broken_map_directory_fails_at_start(tmp_path):
    (tmp_path / "things.yaml").write_text(GOOD.replace("[thing, stuff]", "[thing, thing]"))
    with pytest.raises(MappingError, match="term 'thing' is already used"):
        load_terminology(tmp_path)
