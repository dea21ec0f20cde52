"""Drafting metastatic sites, their sides and how each was confirmed: the kinds of wording the fifteenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, sites  # noqa: E402

# -- a vertebra named by its level is drafted at that level ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # levels written as a letter and a number, the dorsal 'D' form among them
        ("Magnetic resonance imaging showed metastases in T8 and T11.", {"T8 vertebra", "T11 vertebra"}),
        (
            "A lytic metastasis destroyed D9, and the bone scan showed another at L3.",
            {"T9 vertebra", "L3 vertebra"},
        ),
        # levels written as ordinals, one or a list sharing the region's word
        ("A metastasis had collapsed the fourth lumbar vertebra.", {"L4 vertebra"}),
        (
            "Metastatic deposits filled the bodies of the fifth, eighth and eleventh dorsal vertebrae.",
            {"T5 vertebra", "T8 vertebra", "T11 vertebra"},
        ),
        ("CT found metastases in the 2nd and 3rd cervical vertebrae.", {"C2 vertebra", "C3 vertebra"}),
    ],
)
def test_a_vertebra_named_by_its_level_is_a_site_of_that_level(terminology, sentence, expected):
    # A level was drafted as the region's vertebra ('thoracic vertebra'), so two levels became one site and the
    # case files, which name the level ('T12 vertebra'), never matched; an ordinal level ('the seventh dorsal
    # vertebra') and the 'D' form were not read as levels at all.
    text = f"A woman of 59 was treated for a ductal carcinoma of the left breast. Three years later she had back pain. {sentence}"
    drafted = set(sites(one(text, terminology)))
    assert expected <= drafted
    assert not drafted & {"thoracic vertebra", "lumbar vertebra", "cervical vertebra"}


def test_a_range_of_levels_stays_the_region_s_vertebra(terminology):
    # 'T6-T9' names several vertebrae: the first level alone would be wrong, so a range is told by its region.
    text = (
        "A woman of 59 was treated for a ductal carcinoma of the left breast. Three years later MRI showed "
        "metastases from T6 to T9 and in the body of L2."
    )
    drafted = set(sites(one(text, terminology)))
    assert {"thoracic vertebra", "L2 vertebra"} <= drafted and "T6 vertebra" not in drafted


def test_a_level_is_coded_as_the_vertebra_of_its_region(terminology):
    # The maps hold each level as a term of its region's entry, so 'T7 vertebra' is coded like 'thoracic vertebra'.
    for level, region in (("T7 vertebra", "thoracic vertebra"), ("L5 vertebra", "lumbar vertebra"),
                          ("C2 vertebra", "cervical vertebra")):  # fmt: skip
        concept = terminology.lookup("body_sites", level)
        assert concept is not None and concept is terminology.lookup("body_sites", region)


def test_a_region_told_again_after_its_level_stays_one_site(terminology):
    # 'T10' then 'the thoracic vertebra' is one metastasis, named at its level.
    text = (
        "A woman of 63 had a lobular carcinoma of the right breast. Two years later MRI showed a metastasis at T10. "
        "A biopsy of the thoracic vertebra confirmed metastatic lobular carcinoma."
    )
    drafted = sites(one(text, terminology))
    assert "T10 vertebra" in drafted and "thoracic vertebra" not in drafted


def test_vitamin_d_is_no_vertebra(terminology):
    text = (
        "A woman of 66 had a ductal carcinoma of the left breast and took vitamin D3 daily. "
        "Four years later a CT showed liver metastases."
    )
    assert not any(s.endswith("vertebra") for s in sites(one(text, terminology)))


# -- the bladder is the maps' urinary bladder -------------------------------------------------------------------------


def test_a_bladder_metastasis_is_drafted_as_the_maps_urinary_bladder(terminology):
    # 'bladder' was drafted as bare text, which neither coded it nor matched a case file naming the
    # 'urinary bladder'; the maps now hold 'bladder' as a term of the urinary bladder (coded in mCODE's value set).
    text = (
        "A woman of 70 with a lobular carcinoma of the right breast, treated eight years before, had blood in "
        "her urine. Cystoscopy found a mass in the bladder wall, and its biopsy showed metastatic lobular carcinoma."
    )
    assert "urinary bladder" in sites(one(text, terminology))
    assert terminology.lookup("body_sites", "bladder").codings[0].code == "89837001"


# -- 'the pathological study' is the case's own test, not a published study -----------------------------------------


@pytest.mark.parametrize(
    "finding",
    [
        "An ultrasound showed a nodule in the spleen; the pathological study of the excised spleen confirmed a metastasis.",
        "CT found a nodule in the spleen. The spleen was removed and the pathological study showed a metastasis.",
    ],
)
def test_a_pathological_study_of_the_lesion_confirms_the_metastasis(terminology, finding):
    # 'study' is also a word of the literature; it was taken for one unless the words before it named a test on
    # their own, and 'pathological' names one only with the word after it, so the sentence was read as about a
    # published study and its site and confirmation were lost.
    text = f"A woman of 52 had been treated for a lobular carcinoma of the left breast. Two years later she had pain. {finding}"
    case = one(text, terminology)
    assert "spleen" in sites(case)
    assert "histopathology" in next(m for m in case["metastases"] if m["site"] == "spleen").get(
        "confirmed_by", []
    )


def test_a_published_study_is_still_literature(terminology):
    text = (
        "A woman of 49 had a ductal carcinoma of the right breast. Four years later a biopsy confirmed a liver "
        "metastasis. A large study of many patients found spleen metastases in a small fraction."
    )
    assert "spleen" not in sites(one(text, terminology))


# -- many lesions in an organ are metastases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "site"),
    [
        ("A staging CT scan of the chest showed multiple nodules scattered through both lungs.", "lung"),
        ("Her abdominal MRI disclosed numerous small lesions throughout the liver.", "liver"),
        ("Brain MRI revealed many enhancing lesions in the brain.", "brain"),
    ],
)
def test_many_lesions_in_an_organ_at_staging_are_metastases(terminology, finding, site):
    # An organ whose single lesion may be anything (a cyst, a benign nodule) needed a plainly metastatic word; many
    # lesions spread through it in a woman with breast cancer are what a registrar reads as metastases.
    text = f"A woman of 61 was found to have an invasive ductal carcinoma of the right breast. {finding}"
    assert site in sites(one(text, terminology))


def test_one_lesion_in_such_an_organ_still_needs_a_metastatic_word(terminology):
    text = (
        "A woman of 61 was found to have an invasive ductal carcinoma of the right breast. "
        "Ultrasound showed a small lesion in the liver."
    )
    assert "liver" not in sites(one(text, terminology))


# -- a biopsy of the breast told after a metastasis is the breast's ---------------------------------------------------


def test_a_breast_biopsy_told_after_the_metastasis_does_not_confirm_it(terminology):
    # 'A biopsy of the left breast' was read like 'metastases of the breast cancer' (the breast as the origin), so the
    # sentence went on about the liver metastasis told before it, and its biopsy, pathology and stains were the liver's.
    text = (
        "A woman of 50 had a lump in the left breast, and a CT scan found metastases in both lobes of the liver. "
        "A core biopsy of the left breast lump was taken: it showed an invasive ductal carcinoma; on "
        "immunohistochemistry the cells were positive for oestrogen receptor."
    )
    case = one(text, terminology)
    liver = next(m for m in case["metastases"] if m["site"] == "liver")
    assert "biopsy" not in liver.get("confirmed_by", [])
    assert "histopathology" not in liver.get("confirmed_by", [])
    assert not liver.get("markers")


# -- organs the maps lacked: the pituitary gland and the oropharynx --------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "site"),
    [
        (
            "She developed diabetes insipidus, and MRI showed a metastasis in the pituitary.",
            "pituitary gland",
        ),
        ("A transsphenoidal biopsy of the hypophysis showed metastatic ductal carcinoma.", "pituitary gland"),
        (
            "Endoscopy found a submucosal swelling of the oropharynx; its biopsy showed metastatic carcinoma.",
            "oropharynx",
        ),
    ],
)
def test_a_metastasis_of_an_organ_the_maps_now_hold_is_drafted(terminology, finding, site):
    # Neither organ was in the maps nor in the rules' site words, so a metastasis there was not read at all.
    text = f"A woman of 58 had been treated for an invasive ductal carcinoma of the left breast. Years later: {finding}"
    assert site in sites(one(text, terminology))
    assert terminology.lookup("body_sites", site).codings
