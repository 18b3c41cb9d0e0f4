"""Who sees what: scopes and roles (FEATURES MT-01, MT-02, MT-12)."""

from __future__ import annotations

import pytest

from patchfleet.core.errors import NotFoundError, PermissionDeniedError
from patchfleet.core.tenancy import (
    Principal,
    Role,
    Scope,
    require_partner_user,
    require_role,
    resolve_scope,
)

PARTNER_ADMIN = Principal(1, "admin", partner_id=1, client_id=None, role=Role.ADMIN)
CLIENT_VIEWER = Principal(2, "viewer", partner_id=1, client_id=20, role=Role.VIEWER)
CLIENTS = [10, 20, 30]


@pytest.mark.parametrize(
    ("principal", "requested", "expected"),
    [
        pytest.param(
            PARTNER_ADMIN, None, Scope(1, (10, 20, 30), None), id="partner-all-clients"
        ),
        pytest.param(PARTNER_ADMIN, 20, Scope(1, (20,), 20), id="partner-one-client"),
        pytest.param(CLIENT_VIEWER, None, Scope(1, (20,), 20), id="client-user-pinned"),
        pytest.param(
            CLIENT_VIEWER, 20, Scope(1, (20,), 20), id="client-user-own-client"
        ),
    ],
)
def test_resolve_scope(principal, requested, expected):
    assert resolve_scope(principal, requested, CLIENTS) == expected


@pytest.mark.parametrize(
    ("principal", "requested"),
    [
        pytest.param(PARTNER_ADMIN, 99, id="partner-foreign-client"),
        pytest.param(CLIENT_VIEWER, 10, id="client-user-other-client"),
    ],
)
def test_foreign_clients_are_not_found(principal, requested):
    with pytest.raises(NotFoundError):
        resolve_scope(principal, requested, CLIENTS)


def test_partner_level_flag():
    assert resolve_scope(PARTNER_ADMIN, None, CLIENTS).is_partner_level
    assert not resolve_scope(PARTNER_ADMIN, 10, CLIENTS).is_partner_level


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
def test_role_matrix(role, needed, allowed):
    principal = Principal(1, "u", 1, None, role)
    if allowed:
        require_role(principal, needed)
    else:
        with pytest.raises(PermissionDeniedError):
            require_role(principal, needed)


def test_client_users_are_not_partner_users():
    require_partner_user(PARTNER_ADMIN)
    with pytest.raises(PermissionDeniedError):
        require_partner_user(CLIENT_VIEWER)


@pytest.mark.parametrize(
    ("scope", "owner", "expected"),
    [
        pytest.param(
            Scope(1, (10, 20), None), None, True, id="partner-object-at-all-clients"
        ),
        pytest.param(
            Scope(1, (10,), 10), None, False, id="partner-object-hidden-in-client-scope"
        ),
        pytest.param(Scope(1, (10,), 10), 10, True, id="own-client-object"),
        pytest.param(Scope(1, (10,), 10), 20, False, id="other-client-object"),
    ],
)
def test_scope_sees(scope, owner, expected):
    assert scope.sees(owner) is expected
