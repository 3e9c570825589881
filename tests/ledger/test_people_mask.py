"""ID numbers masked for everyone but the card office: at most a quarter shown at each end."""

import pytest

from ledger.models.people import mask_id_number


@pytest.mark.parametrize(
    "number, masked",
    [
        ("110108198506123015", "1101**********3015"),  # resident ID: 8 of 18 shown
        ("E12345678", "E1*****78"),  # a passport: 4 of 9
        ("G1234567", "G1****67"),
        ("ABCD", "A**D"),
        ("ABC", "***"),
    ],
)
def test_at_most_a_quarter_of_an_id_number_shows_at_each_end(number, masked):
    assert mask_id_number(number) == masked
