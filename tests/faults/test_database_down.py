"""PostgreSQL out of reach for a while (issue 8): while it is, pages, the login, page scripts
and the API answer 503 with Retry-After and a clear message in the user's language, quickly;
once it is back, the same app (no restart) answers again from its first request.

The shared cluster is never stopped: the app reaches PostgreSQL through a small TCP proxy
started here, and "the database goes down" is the proxy closing its port and cutting every
connection it carries, which the app sees as a server that went away.
"""

import contextlib
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.config import ProductionConfig
from app.demo import DEMO_PASSWORD, load_demo
from app.errors import RETRY_AFTER_SECONDS, database_unreachable
from app.extensions import db
from app.uow import unit_of_work
from ledger.base import Base
from tests.conftest import new_pg_database
from tests.web.api_support import PROBLEM, ApiClient, token_of

pytestmark = pytest.mark.postgres

#: How long the database stays out of reach, as in the issue; requests run back to back all
#: the while.
OUTAGE_SECONDS = 10
#: The longest a request may take to fail while the database is out of reach.
FAIL_FAST_SECONDS = 3
ZH = "数据库暂时无法连接，请稍后再试。"
EN = "The database cannot be reached just now; try again shortly."


class Proxy:
    """Forwards 127.0.0.1:`port` to `upstream`; `stop()` closes the port and cuts every
    connection, `start()` opens the same port again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream, self.port = upstream, _free_port()
        self.listener, self.open, self.lock = None, set(), threading.Lock()

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self) -> None:
        _shut(self.listener)  # shutdown() wakes the thread in accept(); close() alone does not
        with self.lock:
            for sock in self.open:
                _shut(sock)
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _shut(sock)
            with self.lock:
                self.open.discard(sock)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture(scope="module")
def proxied():
    """(the app, the proxy): the app on a new database with the demo data, reached through
    the proxy, with production's engine options and a short connect timeout."""
    with new_pg_database("cardoffice_down") as url:
        proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
        proxy.start()
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        options = ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS | {
            "connect_args": {"connect_timeout": FAIL_FAST_SECONDS - 1}
        }
        app = create_app(
            {
                "APP_CONFIG": "testing",
                "SQLALCHEMY_DATABASE_URI": through,
                "SQLALCHEMY_ENGINE_OPTIONS": options,
            }
        )
        with app.app_context():
            Base.metadata.create_all(db.engine)
            with unit_of_work():
                load_demo(db.session, datetime.now(UTC))
        yield app, proxy
        proxy.stop()
        with app.app_context():
            db.engine.dispose()


def _logged_in(app, username: str, language: str | None = None):
    client = app.test_client()
    if language:
        client.post("/language", data={"lang": language, "next": "/"})
    reply = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert reply.status_code == 302
    return client


def _calls(app):
    """{what: a call answering a response}, each of which reads the database; made while
    the database is up (logins, tokens)."""
    zh, en = _logged_in(app, "approver"), _logged_in(app, "approver", "en")
    api_zh = ApiClient(app.test_client(), token_of(app, "approver"))
    api_en = ApiClient(app.test_client(), token_of(app, "approver"), "en")
    login = app.test_client()
    return {
        "inbox page": lambda: zh.get("/inbox"),
        "inbox page (en)": lambda: en.get("/inbox"),
        "inbox as JSON": lambda: zh.get("/inbox", headers={"Accept": "application/json"}),
        "login": lambda: login.post("/login", data={"username": "hr", "password": "x"}),
        "api": lambda: api_zh.get("/api/v1/tasks"),
        "api (en)": lambda: api_en.get("/api/v1/tasks"),
    }


def _timed(call):
    start = time.monotonic()
    reply = call()
    return reply, time.monotonic() - start


def _says_unreachable(what: str, reply) -> None:
    english = "(en)" in what
    assert reply.status_code == 503, (what, reply.status_code)
    assert reply.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert reply.headers["Content-Language"] == ("en" if english else "zh")
    text = reply.get_data(as_text=True)
    assert (EN if english else ZH) in text, (what, text)
    if what.startswith("api"):
        assert reply.mimetype == PROBLEM and reply.json["code"] == "database_unreachable"
    elif "JSON" in what:
        assert reply.json["error"]["code"] == "database_unreachable"
    else:
        assert reply.mimetype == "text/html" and "<h1>" in text


def test_requests_fail_with_503_while_the_database_is_away_and_succeed_once_it_is_back(
    proxied, caplog
):
    app, proxy = proxied
    calls = _calls(app)
    up = {what: call().status_code for what, call in calls.items()}
    assert up == dict.fromkeys(calls, 200)

    proxy.stop()
    went_down, slowest, answered = time.monotonic(), 0.0, 0
    while time.monotonic() - went_down < OUTAGE_SECONDS:
        for what, call in calls.items():
            reply, took = _timed(call)
            _says_unreachable(what, reply)
            slowest, answered = max(slowest, took), answered + 1
    assert slowest < FAIL_FAST_SECONDS
    assert "database unreachable, 503 for GET /inbox" in caplog.text

    proxy.start()
    back = {what: call().status_code for what, call in calls.items()}
    assert back == dict.fromkeys(calls, 200)
    print(f"outage {OUTAGE_SECONDS} s: {answered} requests answered 503, slowest {slowest:.3f} s")


def test_a_database_that_went_away_between_requests_is_not_noticed_once_it_is_back(proxied):
    """The pool tests a connection before handing it out (pool_pre_ping): connections cut
    while no request ran are replaced, and the first request after the outage succeeds."""
    app, proxy = proxied
    client = _logged_in(app, "cardoffice")
    assert client.get("/inbox").status_code == 200
    proxy.stop()
    time.sleep(0.2)
    proxy.start()
    assert client.get("/inbox").status_code == 200


def test_which_database_errors_are_an_outage(proxied):
    """A connection refused or cut is an outage; a statement the server cancels is an
    OperationalError too but no outage: it goes on to the 500 it was, not to a 503 that
    tells the user to wait for nothing."""
    app, proxy = proxied
    with app.app_context():
        refused = create_engine(db.engine.url.set(port=_free_port()))
        with pytest.raises(OperationalError) as unreachable, refused.connect():
            pass
        with pytest.raises(OperationalError) as cut, db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            proxy.stop()
            try:
                conn.execute(text("SELECT 1"))
            finally:
                proxy.start()
        with pytest.raises(OperationalError) as cancelled, db.engine.connect() as conn:
            conn.execute(text("SET statement_timeout = 10"))
            conn.execute(text("SELECT pg_sleep(1)"))
    assert database_unreachable(unreachable.value)
    assert cut.value.connection_invalidated and database_unreachable(cut.value)
    assert not database_unreachable(cancelled.value)
