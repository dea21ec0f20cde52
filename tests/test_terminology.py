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
      - {system: "http://snomed.info/sct", code: "1234007", display: Thing, verified: "https://example.org/thing"}
"""


def test_good_map_loads():
    domain, index = load_map_text("things.yaml", GOOD)
    assert domain == "things"
    assert index["stuff"].codings[0].code == "1234007"


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
            ('code: "1234007"', "code: 1234007"),
            "things.yaml: entry 1 ('thing'): code 1234007 must be a quoted string",
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


OVERLAY = """domain: histology
description: A site's own histology terms.
entries:
  - terms: [odd-oma]
    codings: []
    note: no verified code yet
  - terms: [ductal carcinoma, local synonym of idc]
    parent: carcinoma
    codings: []
"""


def test_mappings_directory_is_an_overlay_on_the_shipped_maps(tmp_path):
    (tmp_path / "histology.yaml").write_text(OVERLAY)
    shipped = load_terminology()
    both = load_terminology(tmp_path)
    # Every shipped domain is still there; the overlay only adds (or replaces) its own terms.
    assert set(both.domains) == set(shipped.domains)
    assert both.lookup("histology", "Odd_Oma") is not None and shipped.lookup("histology", "odd-oma") is None
    idc = shipped.lookup("histology", "invasive ductal carcinoma")
    assert both.lookup("histology", "invasive ductal carcinoma") == idc
    assert both.lookup("histology", "ductal carcinoma").codings == ()
    assert both.lookup("body_sites", "scalp") == shipped.lookup("body_sites", "scalp")
    # A term a user adds goes in the overlay directory.
    assert both.file_of("histology") == str(tmp_path / "histology.yaml")
    assert both.file_of("procedures") == str(tmp_path / "procedures.yaml")


def test_overlay_parent_must_name_a_term_of_the_merged_map(tmp_path):
    (tmp_path / "histology.yaml").write_text(OVERLAY.replace("parent: carcinoma", "parent: no-such-thing"))
    with pytest.raises(MappingError, match="parent 'no-such-thing' is no term of"):
        load_terminology(tmp_path)


def test_empty_mappings_directory_is_refused(tmp_path):
    with pytest.raises(MappingError, match="no \\*.yaml terminology maps found"):
        load_terminology(tmp_path)


def test_search_by_term_code_and_near_miss():
    terminology = load_terminology()
    hits = terminology.search("scalp")
    assert ("body_sites", "scalp") in {(m.domain, m.matched) for m in hits}
    assert all(m.file.startswith("mappings/") for m in hits)
    code = terminology.lookup("body_sites", "scalp").codings[0].code
    assert any(m.domain == "body_sites" and m.matched == code for m in terminology.search(code))
    assert [m.matched for m in terminology.search("scallp", domain="body_sites")][:1] == ["scalp"]
    assert terminology.search("zzzz-nothing") == []


def test_installed_maps_point_users_at_an_overlay(tmp_path, monkeypatch):
    installed = load_terminology()
    installed.editable_dir = None  # as in site-packages, whose files an upgrade overwrites
    assert installed.file_of("histology") == (
        "the shipped histology.yaml (to add a term, put a histology.yaml in a directory and pass --mappings DIR)"
    )
    checkout = load_terminology()
    assert checkout.editable_dir is not None
    monkeypatch.chdir(checkout.editable_dir.parent)
    assert checkout.file_of("histology") == "mappings/histology.yaml"
    monkeypatch.chdir(tmp_path)
    assert checkout.file_of("histology") == str(checkout.editable_dir / "histology.yaml")


# --- SNOMED CT codes seen only in an old release ------------------------------------------------
# A coding whose every `verified` source is one of these shows the code only as it was in an old
# SNOMED CT release; it may have been retired or renamed since (as 86616005 and 68453008 were).
OLD_RELEASE_SOURCES = (
    # hl7.terminology.r4's copy of the SNOMED CT Global Patient Set, July 2020 release.
    "hl7.terminology.r4#7.0.1:package/ValueSet-snomed-intl-gps.json",
    # mCODE SecondaryCancerDisorderVS expanded against the SNOMED CT International release of 2021-07-31.
    "https://github.com/mcode/mcode-extraction-framework/",
)
# Codes that no newer source was found for, each with the reason. A code leaves this list as soon
# as a newer source is named for it (test_old_release_allow_list_is_current enforces that).
OLD_RELEASE_ALLOWED = {
    "177754003": "procedures: chest wall resection; seen only in the July 2021 expansion of mCODE's surgical value set",
    "741009001": "procedures: simple mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "741010006": "procedures: simple mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "726435001": "procedures: subcutaneous mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "726434002": "procedures: subcutaneous mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "428571003": "procedures: mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "429400009": "procedures: mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "87697008": "procedures: punch biopsy of skin; seen only in the July 2021 expansion of mCODE's surgical value set",
    "447107001": "procedures: resection of brain metastasis; seen only in the July 2021 expansion of mCODE's surgical value set",
    "397896001": "procedures: orbital exenteration; seen only in the July 2021 expansion of mCODE's surgical value set",
    "12093008": "procedures: orbital biopsy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "76876009": "procedures: bilateral oophorectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "406505007": "procedures: modified radical mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "27865001": "procedures: bilateral mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "726429001": "procedures: radical mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "726430006": "procedures: radical mastectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "787439005": "procedures: wide local excision; seen only in the July 2021 expansion of mCODE's surgical value set",
    "25353009": "procedures: craniotomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "735085002": "procedures: lumpectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "735086001": "procedures: lumpectomy; seen only in the July 2021 expansion of mCODE's surgical value set",
    "1231004": "body_sites: Meninges structure; no 2023+ source found listing this body structure",
    "15425007": "body_sites: Peritoneum; no 2023+ source found listing this body structure",
    "272673000": "body_sites: Bone structure; no 2023+ source found listing this body structure",
    "38934000": "body_sites: Upper eyelid structure; no 2023+ source found listing this body structure",
    "42695009": "body_sites: Thalamic structure; no 2023+ source found listing this body structure",
    "51282000": "body_sites: Bone structure of spine; no 2023+ source found listing this body structure",
    "62736007": "body_sites: Lower eyelid structure; no 2023+ source found listing this body structure",
    "700032006": "body_sites: Structure of occipital region of scalp; no 2023+ source found listing this body structure",
    "108365000": "conditions: Infection of skin; no 2023+ source found listing this code",
    "123951002": "conditions: Cellulitis of skin; no 2023+ source found listing this code",
    "128045006": "conditions: Cellulitis; no 2023+ source found listing this code",
    "13600006": "conditions: Folliculitis; no 2023+ source found listing this code",
    "254677004": "conditions: Trichilemmal cyst; no 2023+ source found listing this code",
    "255187008": "conditions: Lipoma of skin; no 2023+ source found listing this code",
    "274901004": "conditions: Pilomatrixoma; no 2023+ source found listing this code",
    "28432003": "conditions: Abscess of breast; no 2023+ source found listing this code",
    "314955001": "conditions: Local recurrence of malignant tumor of breast; no 2023+ source found listing this code",
    "31928004": "conditions: Abscess of skin and/or subcutaneous tissue; no 2023+ source found listing this code",
    "40733004": "conditions: Infectious disease; no 2023+ source found listing this code",
    "419603000": "conditions: Epidermoid cyst of skin; no 2023+ source found listing this code",
    "419893006": "conditions: Epidermoid cyst; no 2023+ source found listing this code",
    "46635009": "conditions: Diabetes mellitus type 1; no 2023+ source found listing this code",
    "4740000": "conditions: Herpes zoster; no 2023+ source found listing this code",
    "49084001": "conditions: Dermatitis caused by radiation; no 2023+ source found listing this code",
    "55822004": "conditions: Hyperlipidemia; no 2023+ source found listing this code",
    "59621000": "conditions: Essential hypertension; no 2023+ source found listing this code",
    "64859006": "conditions: Osteoporosis; no 2023+ source found listing this code",
    "68225006": "conditions: Alopecia areata; no 2023+ source found listing this code",
    "709044004": "conditions: Chronic kidney disease; no 2023+ source found listing this code",
    "75817003": "conditions: Cellulitis of breast; no 2023+ source found listing this code",
    "76649007": "conditions: Sebaceous cyst of skin of breast; no 2023+ source found listing this code",
    "93163002": "conditions: Lipoma; no 2023+ source found listing this code",
    "93471006": "conditions: Hemangioma of skin; no 2023+ source found listing this code",
    "303111005": "findings: During menopause; no 2023+ source found listing this code",
    "280416009": "observations: Indeterminate result; no 2023+ source found listing this qualifier",
    "94098005": "primary_cancers: Primary malignant neoplasm of thyroid gland; no 2023+ source found listing this code",
    "122548005": "procedures: Biopsy of breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "129249002": "procedures: Needle biopsy; procedures.yaml (treatment maps): no newer source cited there yet",
    "172043006": "procedures: Simple mastectomy; procedures.yaml (treatment maps): no newer source cited there yet",
    "172049005": "procedures: Quadrantectomy of breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "240977001": "procedures: Biopsy of skin; procedures.yaml (treatment maps): no newer source cited there yet",
    "312968005": "procedures: Excision biopsy of skin lesion; procedures.yaml (treatment maps): no newer source cited there yet",
    "35646002": "procedures: Excision of lesion of skin; procedures.yaml (treatment maps): no newer source cited there yet",
    "384723003": "procedures: Radical mastectomy; procedures.yaml (treatment maps): no newer source cited there yet",
    "387736007": "procedures: Fine needle aspiration of breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "392021009": "procedures: Lumpectomy of breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "44578009": "procedures: Core needle biopsy of breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "68660007": "procedures: Punch biopsy; procedures.yaml (treatment maps): no newer source cited there yet",
    "69031006": "procedures: Excision of breast tissue; procedures.yaml (treatment maps): no newer source cited there yet",
    "70183006": "procedures: Subcutaneous mastectomy; procedures.yaml (treatment maps): no newer source cited there yet",
    "70871006": "procedures: Incisional biopsy; procedures.yaml (treatment maps): no newer source cited there yet",
    "726436000": "procedures: Modified radical mastectomy of right breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "726437009": "procedures: Modified radical mastectomy of left breast; procedures.yaml (treatment maps): no newer source cited there yet",
    "8889005": "procedures: Excisional biopsy; procedures.yaml (treatment maps): no newer source cited there yet",
    "1155991005": "secondary_cancers: Secondary malignant neoplasm of leptomeninges; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "188454009": "secondary_cancers: Secondary malignant neoplasm of skin of head; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "722671009": "secondary_cancers: Metastatic malignant neoplasm of meninges; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94161006": "secondary_cancers: Secondary malignant neoplasm of adrenal gland; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94181007": "secondary_cancers: Secondary malignant neoplasm of axillary lymph nodes; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94217008": "secondary_cancers: Secondary malignant neoplasm of bone marrow; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94220000": "secondary_cancers: Secondary malignant neoplasm of bone of skull; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94224009": "secondary_cancers: Secondary malignant neoplasm of brain stem; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94245002": "secondary_cancers: Secondary malignant neoplasm of cerebellum; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94246001": "secondary_cancers: Secondary malignant neoplasm of cerebral meninges; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94250008": "secondary_cancers: Secondary malignant neoplasm of cervical vertebral column; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94253005": "secondary_cancers: Secondary malignant neoplasm of chest wall; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94274006": "secondary_cancers: Secondary malignant neoplasm of thoracic vertebral column; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94292003": "secondary_cancers: Secondary malignant neoplasm of eye; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94297009": "secondary_cancers: Secondary malignant neoplasm of female breast; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94309003": "secondary_cancers: Secondary malignant neoplasm of frontal lobe; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94339008": "secondary_cancers: Secondary malignant neoplasm of inguinal lymph nodes; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94347008": "secondary_cancers: Secondary malignant neoplasm of intra-abdominal lymph nodes; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94350006": "secondary_cancers: Secondary malignant neoplasm of intrapelvic lymph nodes; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94351005": "secondary_cancers: Secondary malignant neoplasm of intrathoracic lymph nodes; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94381002": "secondary_cancers: Secondary malignant neoplasm of liver; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94389000": "secondary_cancers: Secondary malignant neoplasm of lumbar vertebral column; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94392001": "secondary_cancers: Secondary malignant neoplasm of lymph node; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94396003": "secondary_cancers: Secondary malignant neoplasm of lymph nodes of multiple sites; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94397007": "secondary_cancers: Secondary malignant neoplasm of lymph nodes of neck; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94401004": "secondary_cancers: Secondary malignant neoplasm of male breast; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94408005": "secondary_cancers: Secondary malignant neoplasm of mediastinal lymph nodes; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94453007": "secondary_cancers: Secondary malignant neoplasm of orbit; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94455000": "secondary_cancers: Secondary malignant neoplasm of ovary; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94478006": "secondary_cancers: Secondary malignant neoplasm of pelvic bone; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94493005": "secondary_cancers: Secondary malignant neoplasm of pleura; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94519005": "secondary_cancers: Secondary malignant neoplasm of retroperitoneal lymph nodes; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94539009": "secondary_cancers: Secondary malignant neoplasm of skin of abdomen; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94542003": "secondary_cancers: Secondary malignant neoplasm of skin of axilla; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94543008": "secondary_cancers: Secondary malignant neoplasm of skin of back; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94544002": "secondary_cancers: Secondary malignant neoplasm of skin of breast; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94547009": "secondary_cancers: Secondary malignant neoplasm of skin of chest; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94553009": "secondary_cancers: Secondary malignant neoplasm of skin of eyelid; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94554003": "secondary_cancers: Secondary malignant neoplasm of skin of face; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94565008": "secondary_cancers: Secondary malignant neoplasm of skin of lower limb; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94566009": "secondary_cancers: Secondary malignant neoplasm of skin of neck; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94570001": "secondary_cancers: Secondary malignant neoplasm of skin of scalp; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94575006": "secondary_cancers: Secondary malignant neoplasm of skin of trunk; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94577003": "secondary_cancers: Secondary malignant neoplasm of skin of upper limb; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94579000": "secondary_cancers: Secondary malignant neoplasm of skin; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94601008": "secondary_cancers: Secondary malignant neoplasm of spinal meninges; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94602001": "secondary_cancers: Secondary malignant neoplasm of vertebral column; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
    "94606003": "secondary_cancers: Secondary malignant neoplasm of stomach; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94614009": "secondary_cancers: Secondary malignant neoplasm of supraclavicular lymph nodes; only in a 2021-07-31 expansion of mCODE SecondaryCancerDisorderVS",
    "94627008": "secondary_cancers: Secondary malignant neoplasm of peritoneum; no 2023+ source found; current releases rename it 'Metastatic malignant neoplasm to ...'",
}


def old_release_only(coding) -> bool:
    """True for a SNOMED CT coding whose every named source is a known old release."""
    if coding.system != "http://snomed.info/sct":
        return False
    # Sources are separated by "; " and each starts like SOURCE_RE; text in parentheses is a remark.
    sources = re.split(r";\s*(?=hl7\.|https?://)", coding.verified)
    return all(s.startswith(OLD_RELEASE_SOURCES) for s in sources)


def old_release_codes(terminology) -> dict[str, str]:
    return {
        coding.code: f"{domain} '{concept.terms[0]}'"
        for domain, concept, coding in all_codings(terminology)
        if old_release_only(coding)
    }


def test_snomed_codes_have_a_source_newer_than_an_old_release(terminology):
    flagged = {code: where for code, where in old_release_codes(terminology).items()
               if code not in OLD_RELEASE_ALLOWED}  # fmt: skip
    assert not flagged, f"SNOMED CT codes verified only against an old release: {flagged}"


def test_old_release_allow_list_is_current(terminology):
    stale = set(OLD_RELEASE_ALLOWED) - set(old_release_codes(terminology))
    assert not stale, f"no longer old-release-only, remove from OLD_RELEASE_ALLOWED: {sorted(stale)}"


OLD_ONLY = """\
domain: things
description: test
entries:
  - terms: [thing]
    codings:
      - system: "http://snomed.info/sct"
        code: "86616005"
        display: Intraductal carcinoma, noninfiltrating (morphologic abnormality)
        verified: "hl7.terminology.r4#7.0.1:package/ValueSet-snomed-intl-gps.json"
"""


def test_old_release_check_catches_an_old_only_code(tmp_path):
    (tmp_path / "things.yaml").write_text(OLD_ONLY)
    terminology = load_terminology(tmp_path)
    # --mappings is an overlay: the shipped maps come too, so look for the overlay's code.
    assert old_release_codes(terminology).get("86616005") == "things 'thing'"
    newer = OLD_ONLY.replace(
        'snomed-intl-gps.json"', 'snomed-intl-gps.json; https://example.org/2025-release"'
    )
    (tmp_path / "things.yaml").write_text(newer)
    assert "86616005" not in old_release_codes(load_terminology(tmp_path))


# --- Structure the mappers rely on ---------------------------------------------------------------
HISTOLOGY_KINDS = {"malignant", "in-situ", "uncertain", "benign"}


def test_every_histology_has_a_behaviour_kind(terminology):
    for concept in set(terminology.domains["histology"].values()):
        assert concept.kind in HISTOLOGY_KINDS, f"histology '{concept.terms[0]}': kind {concept.kind!r}"


def test_retired_histology_concepts_are_gone(terminology):
    codes = {c.code for _, _, c in all_codings(terminology)}
    assert not codes & {"86616005", "68453008"}
    assert terminology.lookup("histology", "DCIS").codings[0].code == "1162814007"


def test_in_situ_variants_name_in_situ_histologies(terminology):
    in_situ_texts = {c.text for c in terminology.domains["histology"].values() if c.kind == "in-situ"}
    for concept in set(terminology.domains["in_situ_cancers"].values()):
        for variant in concept.variants:
            when = dict(variant.when)
            if "histology" in when:
                assert when["histology"] in in_situ_texts, (concept.terms[0], when)


def test_dcis_of_left_breast_gets_d05_12(terminology):
    concept = terminology.lookup("in_situ_cancers", "breast")
    codes = [
        c.code for c in concept.codings_for({"histology": "Ductal carcinoma in situ", "laterality": "left"})
    ]
    assert codes == ["189336000", "109889007", "D05.12"]


def test_every_primary_site_has_an_in_situ_entry(terminology):
    for concept in set(terminology.domains["primary_cancers"].values()):
        site = concept.terms[0]
        assert terminology.lookup("in_situ_cancers", site) is not None, site


def test_body_site_parent_chains_reach_a_coded_condition_site(terminology):
    for term, concept in terminology.domains["body_sites"].items():
        if concept.parent is None:
            continue
        chain = terminology.ancestors("body_sites", term)
        known = [c for c in chain if any(terminology.lookup("secondary_cancers", t) for t in c.terms)]
        if concept.kind == "breast":
            known += [c for c in chain if any(terminology.lookup("primary_cancers", t) for t in c.terms)]
        assert known, f"body site '{term}': no entry of its chain is in secondary_cancers.yaml"


def test_scalp_sub_site_codes_through_its_parent(terminology):
    chain = terminology.ancestors("body_sites", "frontal scalp")
    first = next(c for c in chain if terminology.lookup("secondary_cancers", c.terms[0]))
    coded = terminology.lookup("secondary_cancers", first.terms[0])
    assert "C79.2" in [c.code for c in coded.codings]


STAGING_TESTS = [
    "clinical stage group", "pathological stage group", "clinical primary tumor category",
    "pathological primary tumor category", "clinical regional nodes category",
    "pathological regional nodes category", "clinical distant metastases category",
    "pathological distant metastases category",
]  # fmt: skip


def test_staging_tests_carry_loinc_and_snomed(terminology):
    for term in STAGING_TESTS:
        concept = terminology.lookup("staging", term)
        assert concept is not None and concept.kind == "stage-test", term
        assert {c.system for c in concept.codings} == {"http://snomed.info/sct", "http://loinc.org"}, term


def test_kinds_are_from_the_documented_sets(terminology):
    kinds = {
        "observations": {"test", "result", "evidence", "status-value", "disease-status", "grade"},
        "staging": {"stage-test", "stage-group", "t-category", "n-category", "m-category", "staging-system"},
        "conditions": {"benign", "comorbidity", "recurrence"},
        "findings": {"ecog-test", "ecog-value", "menopausal-test", "menopausal-status", "germline-test",
                     "germline-result", "age-at-death", "age-at-diagnosis"},
    }  # fmt: skip
    for domain, allowed in kinds.items():
        for concept in set(terminology.domains.get(domain, {}).values()):
            assert concept.kind in allowed, f"{domain} '{concept.terms[0]}': kind {concept.kind!r}"


# --- Issue 17: codes checked against the mCODE package and public SNOMED CT / LOINC sources -----
# Each (domain, term) -> (system, code) was verified in the source its map entry names.
ADDED = [
    ("observations", "CA 27.29", "http://loinc.org", "17842-6"),  # mCODE TumorMarkerTestVS
    ("observations", "G3", "http://snomed.info/sct", "1155707008"),  # mCODE HistologicGradeVS
    ("observations", "G3 (poorly differentiated)", "http://snomed.info/sct", "1155707008"),
    ("body_sites", "brain stem", "http://snomed.info/sct", "15926001"),
    ("body_sites", "colon", "http://snomed.info/sct", "71854001"),
    ("body_sites", "cervical vertebra", "http://snomed.info/sct", "84667006"),
    ("procedures", "stereotactic radiosurgery", "http://snomed.info/sct", "115959002"),
    ("procedures", "brachytherapy", "http://snomed.info/sct", "152198000"),
    ("findings", "variant of uncertain significance", "http://loinc.org", "LA26333-7"),
    ("findings", "ECOG 2", "http://loinc.org", "LA9624-3"),
    ("findings", "ECOG 3", "http://loinc.org", "LA9625-0"),
    ("findings", "ECOG 4", "http://loinc.org", "LA9626-8"),
    ("findings", "ECOG 5", "http://loinc.org", "LA9627-6"),
    ("observations", "HER2 0", "http://loinc.org", "LA6111-4"),
    ("observations", "HER2 2+", "http://loinc.org", "LA11842-4"),
    ("findings", "age at death", "http://loinc.org", "39016-1"),
]


@pytest.mark.parametrize(("domain", "term", "system", "code"), ADDED, ids=lambda v: str(v))
def test_standard_codes_that_were_text_are_coded(terminology, domain, term, system, code):
    concept = terminology.lookup(domain, term)
    assert concept is not None and (system, code) in {(c.system, c.code) for c in concept.codings}


def test_codes_narrower_or_other_than_their_terms_are_gone(terminology):
    # 3572006 is 'Structure of body of vertebra', not a cervical vertebra.
    assert "3572006" not in {c.code for c in terminology.lookup("body_sites", "cervical vertebra").codings}
    # 12093008 'Excisional biopsy of orbit' is for the excisional biopsy only.
    for term in ("orbital biopsy", "biopsy of orbit", "orbit biopsy"):
        assert "12093008" not in {c.code for c in terminology.lookup("procedures", term).codings}, term
    assert [c.code for c in terminology.lookup("procedures", "excisional biopsy of orbit").codings] == [
        "12093008"
    ]


def test_displays_are_current_and_whole(terminology):
    displays = {c.code: c.display for _, _, c in all_codings(terminology)}
    assert displays["LA9623-5"].endswith("light house work, office work")  # the whole LOINC answer
    for code in ("94222008", "94225005"):
        # The 2020 fully specified name 'Secondary malignant neoplasm of ... (disorder)' was replaced.
        assert not displays[code].endswith("(disorder)"), displays[code]
    assert displays["94225005"] == "Metastatic malignant neoplasm to brain"


def test_a_bare_score_is_the_score_for_any_marker(terminology):
    for term in ("2+", "IHC 2+", "score 2+"):
        (coding,) = terminology.lookup("observations", term).codings
        assert (coding.code, coding.display) == ("LA11842-4", "2+"), term


SURGICAL_VS = "mcode-cancer-related-surgical-procedure-vs"


def test_entries_in_the_surgical_value_set_name_where_that_was_seen(terminology):
    listed = [c for c in set(terminology.domains["procedures"].values()) if SURGICAL_VS in c.value_sets]
    assert len(listed) > 20
    for concept in listed:
        for coding in concept.codings_for_search():
            assert "ValueSet-mcode-cancer-related-surgical-procedure-vs.json" in coding.verified, (
                concept.terms[0]
            )
    # The biopsies that are not descendants of 'Surgical procedure' (not in the 2021 expansion).
    for term in (
        "biopsy",
        "skin biopsy",
        "breast biopsy",
        "core needle biopsy",
        "sentinel lymph node biopsy",
    ):
        assert SURGICAL_VS not in terminology.lookup("procedures", term).value_sets, term


def test_value_sets_need_codings():
    broken = GOOD.replace(
        '    codings:\n      - {system: "http://snomed.info/sct", code: "1234007", display: Thing, verified: "https://example.org/thing"}\n',
        "    codings: []\n    value_sets: [some-vs]\n",
    )
    with pytest.raises(MappingError, match="'value_sets' names where codings were seen"):
        load_map_text("things.yaml", broken)


def test_fold_is_the_same_for_remembered_short_terms_and_long_text():
    import random
    import re

    from fhir_adapter.terminology import fold

    rng = random.Random(5)
    alphabet = "aB -_\t\nÉz"
    for _ in range(2_000):
        term = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
        expected = re.sub(r"[\s_\-]+", " ", term.strip().lower())
        assert fold(term) == expected and fold(term) == expected  # the second answer is remembered
