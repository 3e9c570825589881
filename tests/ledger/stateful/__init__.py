"""The parts of the stateful property test of the card ledger, tests/ledger/test_stateful.py.

- model: the rules as the model applies them, and the in-memory records it keeps;
- predict: which DomainError, if any, each operation must raise, and what a settlement pays;
- strategies: what hypothesis draws;
- base: the machine's database plumbing, the campus it starts from and shared bookkeeping;
- cards, money, closing, merchants: the rules, by area;
- machine: the whole machine, with idempotent replays, the clock and the invariant.
"""
