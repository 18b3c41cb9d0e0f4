"""Property tests from the OpenAPI document: no input makes the server fail (API-06)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from patchfleet.server.app import create_app
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.services import auth
from patchfleet.server.settings import Settings

PASSWORD = "contract-password-1"


@pytest.fixture
def contract_app(sqlite_engine, clock):
    auth.bootstrap(make_sessionmaker(sqlite_engine)(), now=clock(), password=PASSWORD)
    app = create_app(
        Settings(public_url="http://testserver"), engine=sqlite_engine, clock=clock
    )
    token = auth.login(
        make_sessionmaker(sqlite_engine)(),
        username="admin",
        password=PASSWORD,
        kind=auth.API,
        now=clock(),
        lifetime=None,
    )
    app.state.contract_token = token
    return app


def test_api_never_fails_and_answers_as_documented(contract_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", contract_app)
    headers = {"Authorization": f"Bearer {contract_app.state.contract_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()
