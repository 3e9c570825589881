"""Ledger operations, one module per area: cards (issue, extend, expire, loss, freeze),
reissue, closing (cancel, terminate, refunds), money (top-ups, transitional balance,
purchases), metering (pre-deductions), services (passwords, limit, bank card, network fee),
merchants (admission, terminals) and settlement (settlement, adjustments)."""
