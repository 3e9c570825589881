"""Device keys (R23): a device holds one live key; a new one revokes the earlier, also when
two are issued at the same moment."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.context import Ctx
from ledger.devicekeys import device_of_key, issue_device_key
from ledger.models.devices import DeviceKey
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories


def ctx_of(session: Session) -> Ctx:
    return Ctx(session=session, actor="test", now=NOW, config=TEST_CONFIG)


def test_a_new_key_revokes_the_earlier(ctx, make):
    code = make.terminal()
    (first, old), (_second, new) = (issue_device_key(ctx, terminal_code=code) for _ in "ab")
    ctx.session.refresh(first)
    assert first.revoked_at == NOW and device_of_key(ctx.session, old, first.location) is None
    assert device_of_key(ctx.session, new, first.location).code == code


def test_two_keys_issued_at_once_leave_one_live(committed_engine):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two issues can overlap")
    with Session(committed_engine) as session, session.begin():
        code = Factories(ctx_of(session)).terminal()
    issued = []

    def issue_second() -> None:
        with Session(committed_engine) as second, second.begin():
            issued.append(issue_device_key(ctx_of(second), terminal_code=code))

    with Session(committed_engine) as first, first.begin():
        issue_device_key(ctx_of(first), terminal_code=code)
        thread = threading.Thread(target=issue_second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive() and issued == []  # waiting for the first's lock
    thread.join(timeout=30)
    with Session(committed_engine) as session:
        live = select(func.count()).select_from(DeviceKey).where(DeviceKey.revoked_at.is_(None))
        assert len(issued) == 1 and session.scalar(live) == 1
