"""The roles a user caller carries (what row and file permission checks will match), as Appwrite computes
them in ``User::getRoles`` (plus ``any``), and how a permission list is read against them."""

from __future__ import annotations

from quixotic.server import auth


def test_roles_of_unverified_verified_and_labelled_users() -> None:
    assert auth.user_roles({"$id": "u1"}) == ("any", "user:u1", "users", "user:u1/unverified", "users/unverified")
    roles = auth.user_roles({"$id": "u2", "emailVerification": True, "labels": ["vip", "beta"]})
    assert roles == ("any", "user:u2", "users", "user:u2/verified", "users/verified", "label:vip", "label:beta")
    assert auth.user_roles({"$id": "u3", "phoneVerification": True})[3] == "user:u3/verified"


def test_permissions_read_against_roles() -> None:
    user = auth.Caller("p", auth.USER_SCOPES, "users", user_id="u1", roles=auth.user_roles({"$id": "u1"}))
    guest = auth.Caller("p", auth.GUEST_SCOPES, "guests")
    key = auth.Caller("p", frozenset(), "applications", roles=())
    own = ['read("user:u1")', 'update("user:u1")']
    assert user.may(own, "read") and user.may(own, "update") and not user.may(own, "delete")
    assert not guest.may(own, "read") and key.may(own, "delete")
    assert guest.may(['read("any")'], "read") and guest.may(['read("guests")'], "read")
    assert not user.may(['read("guests")'], "read") and user.may(['read("users")'], "read")
    assert not user.may(['read("users/verified")'], "read")


def test_client_scopes_are_appwrite_s_less_the_data_routes_awaiting_enforcement() -> None:
    assert "account" in auth.USER_SCOPES and "account" not in auth.GUEST_SCOPES
    assert "sessions.write" in auth.GUEST_SCOPES & auth.USER_SCOPES
    assert not (auth.USER_SCOPES | auth.GUEST_SCOPES) & (auth.AWAITING_ENFORCEMENT | auth.CONSOLE_MEMBER_SCOPES)
    assert auth.AWAITING_ENFORCEMENT <= auth.APPWRITE_USER_SCOPES | auth.APPWRITE_GUEST_SCOPES
