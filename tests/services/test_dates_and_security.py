"""Due-date phrases, token minting and verification, settings parsing."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import jwt
import pytest

from taskpilot.agent.instructions import build_instructions
from taskpilot.core import config as config_module
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.core.security import (
    API_AUDIENCE,
    MCP_AUDIENCE,
    InvalidToken,
    hash_password,
    mint_access_token,
    mint_mcp_token,
    verify_bearer_token,
    verify_password,
    verify_taskpilot_token,
)
from taskpilot.services.dates import DUE_PATTERN, DateParseError, parse_due
from tests.support.harness import make_settings

SUNDAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        ("today", SUNDAY),
        ("Tonight", SUNDAY),
        ("tomorrow", date(2026, 11, 23)),
        ("tmrw", date(2026, 11, 23)),
        ("day after tomorrow", date(2026, 11, 24)),
        ("friday", date(2026, 11, 27)),
        ("Fri", date(2026, 11, 27)),
        ("next friday", date(2026, 11, 27)),
        ("sunday", date(2026, 11, 29)),  # the coming one, not today
        ("this sunday", SUNDAY),
        ("next week", date(2026, 11, 23)),  # the coming Monday
        ("this week", SUNDAY),
        ("this weekend", date(2026, 11, 28)),
        ("next weekend", date(2026, 12, 5)),
        ("next month", date(2026, 12, 1)),
        ("in 3 days", date(2026, 11, 25)),
        ("in 2 weeks", date(2026, 12, 6)),
        ("dec 5", date(2026, 12, 5)),
        ("December 5th", date(2026, 12, 5)),
        ("jan 2", date(2027, 1, 2)),  # already past this year: next year
        ("nov 1", date(2027, 11, 1)),
    ],
)
def test_due_dates(text: str, expected: date) -> None:
    assert parse_due(text, SUNDAY) == expected
    assert DUE_PATTERN.search(f"something {text} please")


def test_weekday_phrases_midweek() -> None:
    wednesday = date(2026, 11, 25)
    assert parse_due("this week", wednesday) == date(2026, 11, 27)
    assert parse_due("next month", date(2026, 12, 15)) == date(2027, 1, 1)
    assert parse_due("this weekend", date(2026, 11, 28)) == date(2026, 11, 28)


WEDNESDAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("end of the week", date(2026, 12, 4)),  # its Friday
        ("end of next week", date(2026, 12, 11)),
        ("at the end of the month", date(2026, 12, 31)),
        ("end of next month", date(2027, 1, 31)),
        ("in a fortnight", date(2026, 12, 16)),
        ("in a week", date(2026, 12, 9)),
        ("in two weeks", date(2026, 12, 16)),
        ("in 2 months", date(2027, 2, 2)),
        ("the day after tomorrow", date(2026, 12, 4)),
        ("thurs", date(2026, 12, 3)),
        ("tmr", date(2026, 12, 3)),
        ("20 december", date(2026, 12, 20)),
        ("the 20th of december", date(2026, 12, 20)),
        ("sept 3", date(2027, 9, 3)),
        # What dateparser gets wrong, read by rule: March for "the 3rd", a week ago for "a
        # week from today", nothing at all for the others.
        ("the 3rd", date(2026, 12, 3)),
        ("the 1st", date(2027, 1, 1)),  # the next first of a month
        ("the 31st", date(2026, 12, 31)),
        ("a week from today", date(2026, 12, 9)),
        ("first of january", date(2027, 1, 1)),
        ("this weekend", date(2026, 12, 5)),
        # Other languages, through dateparser.
        ("mañana", date(2026, 12, 3)),
        ("vendredi", date(2026, 12, 4)),
        ("übermorgen", date(2026, 12, 4)),
        ("24/12", date(2026, 12, 24)),
    ],
)
def test_due_dates_in_words(text: str, expected: date) -> None:
    assert parse_due(text, WEDNESDAY) == expected


def test_a_day_of_the_month_that_never_comes_soon_is_refused() -> None:
    with pytest.raises(DateParseError):
        parse_due("the 32nd", WEDNESDAY)


@pytest.mark.parametrize("text", ["", "someday", "2026-13-01", "feb 30", "blursday"])
def test_bad_due_dates(text: str) -> None:
    with pytest.raises(DateParseError):
        parse_due(text, SUNDAY)


def test_instructions_know_today() -> None:
    text = build_instructions(SUNDAY)
    assert "Today is Sunday, 2026-11-22" in text
    assert "Friday = 2026-11-27" in text


def test_passwords() -> None:
    hashed = hash_password("hunter2 hunter2")
    assert verify_password("hunter2 hunter2", hashed)
    assert not verify_password("wrong", hashed)
    assert not verify_password("anything", "")
    assert not verify_password("anything", "not-a-hash")


async def test_tokens_are_bound_to_their_audience() -> None:
    settings = make_settings("sqlite://")
    api, lifetime = mint_access_token(settings, "u1", "u1@example.com")
    assert lifetime == 24 * 3600
    assert (await verify_bearer_token(settings, api)).user_id == "u1"
    mcp = mint_mcp_token(settings, "u1")
    claims = jwt.decode(mcp, options={"verify_signature": False})
    assert claims["aud"] == MCP_AUDIENCE and 299 < claims["exp"] - claims["iat"] <= 300
    with pytest.raises(InvalidToken):
        await verify_bearer_token(settings, mcp)
    assert verify_taskpilot_token(settings, mcp, (MCP_AUDIENCE, API_AUDIENCE)).user_id == "u1"
    no_subject = jwt.encode(
        {"iss": "taskpilot", "aud": API_AUDIENCE, "sub": "", "exp": int(time.time()) + 60},
        settings.signing_secret,
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken, match="does not name a user"):
        await verify_bearer_token(settings, no_subject)
    foreign = jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 60}, "another-signing-key-" * 3, algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        await verify_bearer_token(settings, foreign)  # not ours, and no Better Auth configured
    with pytest.raises(InvalidToken):
        await verify_bearer_token(settings, "garbage")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ALLOWED_HOSTS", '["tasks.example.com"]')
    monkeypatch.setenv("MODEL_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.allowed_hosts == ["tasks.example.com"]
    assert settings.resolved_model_provider is ModelProvider.OPENAI_COMPATIBLE


def test_local_secret_is_created_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module, "PROJECT_ROOT", tmp_path)
    config_module._local_secret.cache_clear()
    try:
        settings = Settings(_env_file=None, jwt_secret=None)  # type: ignore[call-arg]
        first = settings.signing_secret
        config_module._local_secret.cache_clear()
        assert settings.signing_secret == first
        path = tmp_path / ".taskpilot" / "secret_key"
        assert path.read_text() == first and oct(path.stat().st_mode)[-3:] == "600"
    finally:
        config_module._local_secret.cache_clear()


def test_short_jwt_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings(_env_file=None, jwt_secret="short")  # type: ignore[call-arg]


def test_today_follows_the_turns_zone() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from taskpilot.core.clock import clean_zone, in_zone, today
    from taskpilot.core.config import Settings

    settings = Settings(_env_file=None, jwt_secret="x" * 40, timezone="UTC")  # type: ignore[call-arg]
    assert today(settings) == datetime.now(ZoneInfo("UTC")).date()
    with in_zone("Pacific/Kiritimati"):
        ahead = today(settings)
        assert ahead == datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
        with in_zone(None):
            assert today(settings) == datetime.now(ZoneInfo("UTC")).date()
    with in_zone("Pacific/Pago_Pago"):
        behind = today(settings)
        assert behind == datetime.now(ZoneInfo("Pacific/Pago_Pago")).date()
    # UTC+14 and UTC-11: one day apart, two from 10:00 to 11:00 UTC.
    assert (ahead - behind).days in (1, 2)
    assert clean_zone(" Europe/Paris ") == "Europe/Paris"
    for bad in ("Mars/Olympus_Mons", "", None, "UTC/../../etc"):
        with pytest.raises(ValueError, match="time zone"):
            clean_zone(bad)
