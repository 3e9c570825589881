"""The API keeps the contract of its own OpenAPI document (issue 7): schemathesis reads the
document the app serves, generates requests for every operation from it and sends them to the
app in-process. No answer may be a 5xx, and every answer's status, content type, headers and
body must be ones the document gives for that operation (errors included: problem+json).

People's operations are called with the demo login "admin"'s API token; terminals' and
kiosks' operations with a demo device's key, stating the device's registered location (R23) so
that the call gets past the key check. The example count keeps this file under 90 s on two
cores; a failure prints the request that caused it (and a curl command to replay it)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from tests.web.api_support import device_key_of, token_of

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Generated examples per operation, beyond schemathesis's examples and boundary values.
EXAMPLES = 15
#: The demo device each device operation is sent from: a POS by default, a water controller
#: for pre-deductions, a 圈存查询一体机 for kiosks' calls but a reissue kiosk for reissues.
DEVICES = [
    ("/api/v1/terminal/pre-deductions", {"terminal": "WATER-01"}),
    ("/api/v1/terminal/", {"terminal": "CANTEEN1-01"}),
    ("/api/v1/kiosk/reissues", {"kiosk": "R1"}),
    ("/api/v1/kiosk/", {"kiosk": "K01"}),
]


def _document_app():
    """An app that serves the OpenAPI document, which needs no database."""
    return create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app())


def _device_of(path: str) -> dict:
    found = [device for prefix, device in DEVICES if path.startswith(prefix)]
    assert found, f"DEVICES names no demo device to call {path} from"
    return found[0]


def _sends_device_key(operation) -> bool:
    security = operation.definition.raw.get("security") or []
    return any("device_key" in requirement for requirement in security)


@pytest.fixture
def caller(web):
    """`caller(case)`: the headers that authenticate the case's operation, after stating the
    device's location in its body if a device calls it."""
    token = token_of(web, "admin")
    keys = {}  # a device's key and location, issued at its first call (one device per test)

    def prepare(case) -> dict:
        if not _sends_device_key(case.operation):
            return {"Authorization": f"Bearer {token}"}
        if not keys:
            keys["key"], keys["location"] = device_key_of(web, **_device_of(case.operation.path))
        if isinstance(case.body, dict):
            case.body["location"] = keys["location"]
        return {"Authorization": f"Bearer {keys['key']}"}

    return prepare


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_openapi_document_says(case, web, caller):
    """Issue 7: no 5xx, and every status, content type, header and body is documented."""
    case.call_and_validate(app=web, headers=caller(case), checks=CHECKS)
