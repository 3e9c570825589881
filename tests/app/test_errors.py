"""The one handler that turns a DomainError into a response in the user's language."""

import pytest

from ledger.errors import DomainError, InsufficientBalance


@pytest.fixture
def client(app):
    """A client of an app with a page that raises InsufficientBalance."""

    def pay():
        raise InsufficientBalance(balance_yuan="1.00", amount_yuan="5.00")

    app.add_url_rule("/pay", view_func=pay)
    return app.test_client()


ZH = "余额不足：余额 1.00 元，需要 5.00 元"
EN = "Insufficient balance: 1.00 yuan available, 5.00 yuan needed"


@pytest.mark.parametrize(
    ("accept_language", "message", "lang"),
    [
        (None, ZH, "zh"),
        ("zh-CN,zh;q=0.9", ZH, "zh"),
        ("en-US,en;q=0.9", EN, "en"),
        ("fr-FR", ZH, "zh"),
        ("en;q=0.5,zh-CN;q=0.9", ZH, "zh"),
    ],
)
def test_domain_error_page_has_status_and_message(client, accept_language, message, lang):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/pay", headers=headers)
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert response.headers["Content-Language"] == lang
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(("accept_language", "message"), [("zh-CN", ZH), ("en", EN)])
def test_domain_error_as_json(client, accept_language, message):
    response = client.get(
        "/pay", headers={"Accept": "application/json", "Accept-Language": accept_language}
    )
    assert response.status_code == 409
    assert response.get_json() == {"error": {"code": "insufficient_balance", "message": message}}


def test_base_domain_error_is_400(app):
    def fail():
        raise DomainError()

    app.add_url_rule("/fail", view_func=fail)
    response = app.test_client().get("/fail", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "操作无法完成"
