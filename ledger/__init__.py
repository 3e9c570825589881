"""The embedded card ledger: people and departments as the card system knows them, cards and
their states, cardholder accounts, the double-entry journal, pre-deduction holds, merchants,
terminals, settlement, refunds and fees. Pure SQLAlchemy: no Flask, no BPMN.

Operations live in `ledger.ops`; each takes a `ledger.context.Ctx` (session, actor, clock,
config), only flushes, and raises a `ledger.errors.DomainError` for anything the rules refuse.
"""
