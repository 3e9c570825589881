"""Fixtures shared by the ledger tests (the database, `ctx` and `make` are in tests/conftest.py)."""

import pytest

from ledger.models.merchants import MerchantCategory, TerminalKind


@pytest.fixture
def pos(make) -> str:
    """A canteen's point-of-sale terminal."""
    return make.terminal()


@pytest.fixture
def water(make) -> str:
    """A water controller."""
    return make.terminal(kind=TerminalKind.WATER, category=MerchantCategory.WATER)
