from ledger.check import check_ledger
from ledger.ops.money import purchase


def test_purchase_smoke(ctx, make):
    card = make.card(balance=10000)
    terminal = make.terminal()
    result = purchase(ctx, card.card_no, terminal, 1200)
    assert result["balance"] == 8800
    assert check_ledger(ctx.session) == []
