"""Review of the red-team fixes: the same defect one step away from the one each fix handled."""

from __future__ import annotations

import pytest

from fhir_adapter.terminology import code_shape, load_map_text

# The map loader's code-shape check refused valid LOINC codes: LOINC Groups are LG codes
# (LG7967-5, Glucose|MCnc|Pt|ANYBldSerPlas, loinc.org/groups) in the system http://loinc.org.


@pytest.mark.parametrize("code", ["LG7967-5", "LP6960-1", "LA6576-8", "LL4049-4", "85337-4"])
def test_every_kind_of_loinc_code_passes_the_shape_check(code):
    assert code_shape("http://loinc.org", code) is None
    text = (
        "domain: tests\nentries:\n  - terms: [a term]\n    codings:\n      - system: http://loinc.org\n"
        f"        code: {code}\n        display: a display\n        verified: loinc.org\n"
    )
    _, index = load_map_text("tests.yaml", text)
    assert index["a term"].codings[0].code == code


def test_a_loinc_shaped_typo_is_still_refused():
    assert code_shape("http://loinc.org", "LX7967-5") is not None
    assert code_shape("http://loinc.org", "7967") is not None
