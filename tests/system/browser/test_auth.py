"""Sign up, log in, log out, and the friendly messages on the way (real pages, real API)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest
from playwright.sync_api import expect

from tests.support.app_server import JWT_SECRET
from tests.support.chat_page import HOME_URL, LOGIN_URL, SIGNUP_URL, TOKEN_KEY, Account, ChatPage
from tests.support.harness import PASSWORD

pytestmark = pytest.mark.browser

RAW_ERROR = re.compile(r"Traceback|Exception|Error:|\bNone\b|undefined|\{\s*\"", re.IGNORECASE)


def test_sign_up_log_out_and_log_in_again(open_page: Callable[..., ChatPage]) -> None:
    chat = open_page()
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    chat.goto("/signup")
    chat.page.get_by_label("Name").fill("Ada Lovelace")
    chat.page.get_by_label("Email").fill(email)
    chat.page.get_by_label("Password").fill(PASSWORD)
    chat.screenshot("signup-filled")
    chat.button("Create account").click()

    # Signed in: the start screen with a greeting and prompt chips, the model named.
    chat.page.wait_for_url(HOME_URL)
    expect(chat.page.get_by_role("heading").first).to_be_visible()
    expect(chat.prompt_chips.first).to_be_visible()
    expect(chat.model_note).to_contain_text("standin")
    expect(chat.composer).to_be_editable()
    token = chat.page.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')")
    assert token and token.count(".") == 2, "the JWT is kept in localStorage"
    chat.screenshot("start-screen")

    # Log out: the token is gone and the chat is out of reach.
    chat.button("Account menu").click()
    chat.page.get_by_role("menuitem", name="Log out").click()
    chat.page.wait_for_url(LOGIN_URL)
    assert chat.page.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')") in (None, "")
    chat.goto("/")
    chat.page.wait_for_url(LOGIN_URL)

    # Log in with the same account.
    chat.page.get_by_label("Email").fill(email.upper())  # addresses are case-insensitive
    chat.page.get_by_label("Password").fill(PASSWORD)
    chat.button("Log in").click()
    chat.page.wait_for_url(HOME_URL)
    expect(chat.composer).to_be_editable()


def test_forms_explain_what_is_wrong(open_page: Callable[..., ChatPage], account: Account) -> None:
    chat = open_page()
    chat.goto("/signup")
    alert = chat.page.get_by_role("alert")

    chat.page.get_by_label("Email").fill("not-an-email")
    chat.page.get_by_label("Password").fill(PASSWORD)
    chat.button("Create account").click()
    expect(alert).to_contain_text(re.compile("email", re.IGNORECASE))
    chat.screenshot("signup-invalid-email")

    chat.page.get_by_label("Email").fill(f"short-{uuid.uuid4().hex[:6]}@example.com")
    chat.page.get_by_label("Password").fill("short")
    chat.button("Create account").click()
    expect(alert).to_contain_text(re.compile("8 characters", re.IGNORECASE))

    chat.page.get_by_label("Email").fill(account.email)
    chat.page.get_by_label("Password").fill(PASSWORD)
    chat.button("Create account").click()
    expect(alert).to_contain_text(re.compile("already", re.IGNORECASE))
    assert not RAW_ERROR.search(alert.inner_text())
    assert SIGNUP_URL.search(chat.page.url), "a failed sign-up stays on the form"

    chat.goto("/login")
    chat.page.get_by_label("Email").fill(account.email)
    chat.page.get_by_label("Password").fill("wrong password!")
    chat.button("Log in").click()
    expect(alert).to_contain_text(re.compile("wrong email or password", re.IGNORECASE))
    assert not RAW_ERROR.search(alert.inner_text())
    chat.screenshot("login-wrong-password")
    assert LOGIN_URL.search(chat.page.url)


def test_chat_routes_need_a_valid_token(
    open_page: Callable[..., ChatPage], account: Account, api: httpx.Client
) -> None:
    signed_out = open_page()
    for path in ("/", "/c/some-conversation"):
        signed_out.goto(path)
        signed_out.page.wait_for_url(LOGIN_URL)

    # A signed-in visitor is sent on from the forms to the chat.
    signed_in = open_page(account)
    for path in ("/login", "/signup"):
        signed_in.goto(path)
        signed_in.page.wait_for_url(HOME_URL)

    # A forged or an expired token logs the visitor out.
    claims = jwt.decode(account.token, options={"verify_signature": False})
    claims.update(iat=claims["iat"] - 7200, exp=int(time.time()) - 3600)
    expired = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    fresh = jwt.encode({**claims, "exp": int(time.time()) + 3600}, JWT_SECRET, algorithm="HS256")
    me = "/api/auth/me"
    assert api.get(me, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert api.get(me, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    for token in (account.token[:-4] + "AAAA", expired):
        tab = open_page(Account(account.email, account.password, token, account.id))
        tab.goto("/c/anything")
        tab.page.wait_for_url(LOGIN_URL)
        assert tab.page.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')") in (None, "")
