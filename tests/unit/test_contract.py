"""The feature contract is self-consistent."""

from __future__ import annotations

from readmission import contract


def test_every_feature_has_a_valid_default() -> None:
    for col in contract.FEATURES:
        if col.default is None:
            assert col.nullable, col.name
            continue
        if col.allowed is not None:
            assert str(col.default) in col.allowed, col.name
        if col.minimum is not None:
            assert col.minimum <= col.default <= col.maximum, col.name


def test_feature_partition_covers_every_feature_once() -> None:
    groups = (
        contract.NUMERIC_FEATURES,
        contract.CODE_FEATURES,
        contract.CATEGORY_FEATURES,
        contract.TEXT_FEATURES,
    )
    flat = [name for group in groups for name in group]
    assert sorted(flat) == sorted(contract.FEATURE_NAMES)
    assert len(contract.FEATURE_NAMES) == 47  # 50 columns minus two ids and the target


def test_default_patient_has_every_feature() -> None:
    assert set(contract.default_patient()) == set(contract.FEATURE_NAMES)


def test_not_readmittable_codes_are_known_dispositions() -> None:
    assert {str(c) for c in contract.NOT_READMITTABLE} <= set(contract.DISCHARGE_DISPOSITIONS)


def test_the_lookup_codes_are_exactly_those_ids_mapping_csv_defines() -> None:
    from readmission import codes

    documented = codes.descriptions()
    for column in contract.CODE_FEATURES:
        allowed = {int(c) for c in contract.BY_NAME[column].allowed}
        assert allowed == set(documented[column]), column
    assert 15 in documented["admission_source_id"]  # "Not Available": once refused


def test_out_of_scope_dispositions_are_named_with_the_reason() -> None:
    reason = contract.out_of_scope("discharge_disposition_id", 11)
    assert reason is not None and "discharge_disposition_id 11 (expired)" in reason
    assert contract.out_of_scope("discharge_disposition_id", 13) is not None
    assert contract.out_of_scope("discharge_disposition_id", 1) is None
    assert contract.out_of_scope("admission_source_id", 11) is None
