"""Who uses the merchant pages: the settlement centre and the card office read them; only the
settlement centre (and administrators) settle, adjust and pay refund batches."""

from workflows.identity import Role

READERS = (Role.SETTLEMENT, Role.CARD_OFFICE)
WRITERS = (Role.SETTLEMENT,)
