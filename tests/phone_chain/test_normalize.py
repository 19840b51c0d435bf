"""Phone number normalisation: every common German/E.164 spelling gives the same E.164 number."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from askpro_pipelines.phone_chain import (
    InvalidPhoneNumber,
    normalize_phone_number,
    resolve_version,
)


@pytest.mark.parametrize(
    "written",
    [
        "+4930123456701",
        "+49 30 123456701",
        "+49 (0)30 123456701",
        "0049 30 123456701",
        "004930123456701",
        "030 123456701",
        "(030) 1234-56701",
        "030/123 456 701",
        "030.123456701",
        " +49-30-123456701 ",
    ],
)
def test_common_spellings(written):
    assert normalize_phone_number(written) == "+4930123456701"


@pytest.mark.parametrize("bad", ["", "   ", "12345", "+49 30 abc", "+0 30 1234567", "0"])
def test_rejects_what_is_not_a_number(bad):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone_number(bad)


area = st.from_regex(r"[1-9][0-9]{1,4}", fullmatch=True)
subscriber = st.from_regex(r"[0-9]{4,8}", fullmatch=True)
separator = st.sampled_from(["", " ", "-", "/", ".", " - "])


@given(area=area, local=subscriber, sep=separator)
def test_national_international_and_00_forms_agree(area, local, sep):
    e164 = normalize_phone_number(f"+49{area}{local}")
    assert normalize_phone_number(f"0{area}{sep}{local}") == e164
    assert normalize_phone_number(f"0049{sep}{area}{sep}{local}") == e164
    assert normalize_phone_number(f"+49{sep}(0){area}{sep}{local}") == e164
    assert normalize_phone_number(e164) == e164  # idempotent


def test_version_resolution():
    versions = [
        {"version": 1, "is_published": True},
        {"version": 2, "is_published": True},
        {"version": 3, "is_published": False},
    ]
    assert resolve_version("2", versions, {}) == 2
    assert resolve_version("latest", versions, {}) == 3
    assert resolve_version("latest_published", versions, {}) == 2
    assert resolve_version("prod", versions, {"prod": 1}) == 1
    assert resolve_version("staging", versions, {"prod": 1}) is None
    assert resolve_version(None, versions, {}) is None
