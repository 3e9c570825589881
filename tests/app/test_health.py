"""GET /health."""

import pytest

from app import create_app


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/no-such-folder/cardoffice.sqlite3",
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    ],
    ids=["sqlite-unopenable", "postgresql-refused"],
)
def test_health_503_when_database_unavailable(tmp_path, url):
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url.format(tmp=tmp_path)})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable"}
