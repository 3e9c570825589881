"""Every table of the ledger; importing this package registers them all on Base.metadata."""

import ledger.ddl  # noqa: E402, F401  (registers the triggers on create_all)
from ledger.models.accounts import AccountKind, CardAccount, LedgerAccount  # noqa: F401
from ledger.models.cards import Card, CardEvent, CardState, CardType, Delegation  # noqa: F401
from ledger.models.devices import DeviceKey  # noqa: F401
from ledger.models.jobs import JobRun  # noqa: F401
from ledger.models.journal import EntryKind, JournalEntry, Posting  # noqa: F401
from ledger.models.merchants import Kiosk, Merchant, Settlement, Terminal  # noqa: F401
from ledger.models.money import Hold, IdempotencyKey, NetworkFeeWeek, Refund  # noqa: F401
from ledger.models.people import Department, Person  # noqa: F401
