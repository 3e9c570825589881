"""What hypothesis draws for the machine's rules."""

from hypothesis import strategies as st

from ledger.models.cards import Channel
from tests.ledger.stateful.model import CARD_TYPE, CFG, DISABLED_TERMINAL, SELF_SERVICE

PICK = st.integers(min_value=0, max_value=10**6)
LIVE_BIAS = st.integers(0, 3).map(bool)  # pick among active cards three times in four
RARELY = st.integers(0, 7).map(lambda n: n == 0)
KEY = st.sampled_from(["none", "none", "new", "reuse"])
TOP_UP_AMOUNT = st.one_of(
    st.integers(1, 5000), st.integers(1, 30000), st.sampled_from([0, CFG.max_amount + 1])
)
SPEND_AMOUNT = st.one_of(st.integers(0, 2500), st.integers(1, 6000), st.integers(1, 40000))
PASSWORD_MODE = st.sampled_from(["none", "none", "right", "right", "wrong"])
PURCHASE_TERMINAL = st.sampled_from(
    ["T-CANTEEN"] * 3 + ["T-SHOP"] * 3 + ["T-LIBRARY"] * 2 + ["T-WATER-1", DISABLED_TERMINAL]
)
METER_TERMINAL = st.sampled_from(
    ["T-WATER-1"] * 3 + ["T-WATER-2"] * 3 + ["T-SHOWER"] * 2 + ["T-CANTEEN", DISABLED_TERMINAL]
)
METERS = st.sampled_from(["T-WATER-1", "T-WATER-2", "T-SHOWER"])
CATEGORY = st.sampled_from(list(CARD_TYPE))
VALID_DAYS = st.one_of(st.integers(0, 5), st.integers(-2, 400))
LOSS_CHANNEL = st.sampled_from([Channel.COUNTER, Channel.COUNTER, *SELF_SERVICE, Channel.POS])
