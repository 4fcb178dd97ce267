"""Password hashing, tokens and the login throttle (pure functions of settings and time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from practice_dashboard.config import Settings
from practice_dashboard.security import (
    TOKEN_ALGORITHM,
    TOKEN_AUDIENCE,
    AccessClaims,
    create_access_token,
    csrf_token_matches,
    decode_access_token,
    hash_password,
    mask_csrf_token,
    retry_after_seconds,
    verify_password,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cfg() -> Settings:
    return Settings(
        environment="test",
        secret_key="u" * 40,
        argon2_memory_kib=19_456,
        argon2_time_cost=2,
        login_free_attempts=5,
        login_max_delay_seconds=900,
    )


class TestPasswords:
    def test_argon2id_with_configured_cost(self, cfg: Settings) -> None:
        hashed = hash_password(cfg, "a long passphrase")
        assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert verify_password(cfg, hashed, "a long passphrase")
        assert not verify_password(cfg, hashed, "a long passphrasE")

    def test_garbage_hash_is_a_mismatch_not_a_crash(self, cfg: Settings) -> None:
        assert not verify_password(cfg, "not-a-hash", "x")


class TestTokens:
    def test_round_trip(self, cfg: Settings) -> None:
        user_id = uuid.uuid4()
        token = create_access_token(cfg, user_id, datetime.now(UTC), generation=3)
        assert decode_access_token(cfg, token) == AccessClaims(user_id=user_id, generation=3)

    def test_expired_token_is_refused(self, cfg: Settings) -> None:
        old = datetime.now(UTC) - timedelta(minutes=cfg.access_token_minutes + 1)
        token = create_access_token(cfg, uuid.uuid4(), old, generation=0)
        assert decode_access_token(cfg, token) is None

    def test_token_signed_with_another_key_is_refused(self, cfg: Settings) -> None:
        other = cfg.model_copy(update={"secret_key": cfg.secret_key.__class__("v" * 40)})
        token = create_access_token(other, uuid.uuid4(), datetime.now(UTC), generation=0)
        assert decode_access_token(cfg, token) is None

    def test_unsigned_token_is_refused(self, cfg: Settings) -> None:
        token = jwt.encode({"sub": str(uuid.uuid4())}, key=None, algorithm="none")
        assert decode_access_token(cfg, token) is None

    @pytest.mark.parametrize("generation", [None, "0", True, 1.0], ids=repr)
    def test_a_token_without_an_integer_generation_is_refused(
        self, cfg: Settings, generation: object
    ) -> None:
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "sub": str(uuid.uuid4()),
            "aud": TOKEN_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "typ": "access",
        }
        if generation is not None:
            claims["gen"] = generation
        token = jwt.encode(claims, cfg.secret_key.get_secret_value(), algorithm=TOKEN_ALGORITHM)
        assert decode_access_token(cfg, token) is None


class TestLoginThrottle:
    # free attempts 5: the 6th failure waits 1 s, then 2, 4, 8 … capped at 900 s (15 minutes).
    @pytest.mark.parametrize(
        ("failures", "delay"),
        [(0, 0), (4, 0), (5, 1), (6, 2), (9, 16), (14, 512), (15, 900), (99, 900)],
    )
    def test_delay_doubles_to_a_ceiling(self, cfg: Settings, failures: int, delay: int) -> None:
        wait = retry_after_seconds(
            failures,
            T0,
            T0,
            free_attempts=cfg.login_free_attempts,
            max_delay_seconds=cfg.login_max_delay_seconds,
        )
        assert wait == delay

    def test_throttle_always_expires(self, cfg: Settings) -> None:
        limits = {"free_attempts": 5, "max_delay_seconds": 900}
        assert retry_after_seconds(50, T0, T0 + timedelta(seconds=10), **limits) == 890
        assert retry_after_seconds(50, T0, T0 + timedelta(seconds=900), **limits) == 0
        assert retry_after_seconds(50, None, T0, **limits) == 0


class TestCsrfMasking:
    """BREACH (Gluck, Harris and Prado, 2013): a secret repeated in compressed pages leaks
    through their lengths. Pages carry the CSRF token XOR a fresh pad instead."""

    TOKEN = "Sz7xmaHmtgrF33_I8uKsgnnALosfwPXAZBK9P6q0FMc"

    def test_every_mask_is_new_and_none_shows_the_token(self) -> None:
        masks = {mask_csrf_token(self.TOKEN) for _ in range(50)}
        assert len(masks) == 50
        assert not any(self.TOKEN in m for m in masks)
        assert all(csrf_token_matches(self.TOKEN, m) for m in masks)

    def test_the_token_itself_is_still_accepted(self) -> None:
        # Forms rendered before masking, and programs that hold the token themselves.
        assert csrf_token_matches(self.TOKEN, self.TOKEN)

    @pytest.mark.parametrize(
        "submitted",
        [None, "", "x", "%%%", "é" * 10, "AAAA", "Sz7xmaHmtgrF33_I8uKsgnnALosfwPXAZBK9P6q0FMd"],
    )
    def test_anything_else_is_refused(self, submitted: str | None) -> None:
        assert not csrf_token_matches(self.TOKEN, submitted)

    def test_a_changed_mask_is_refused(self) -> None:
        masked = mask_csrf_token(self.TOKEN)
        # A middle character: the last one may carry only base64's unused padding bits, so
        # changing it could decode to the same bytes and prove nothing.
        middle = len(masked) // 2
        flipped = masked[:middle] + ("A" if masked[middle] != "A" else "B") + masked[middle + 1 :]
        assert not csrf_token_matches(self.TOKEN, flipped)
        assert not csrf_token_matches("another-token", masked)
