"""Password hashing, tokens, the login throttle and sealed authenticator keys (pure functions of
settings and time)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from practice_dashboard.config import Settings
from practice_dashboard.security import (
    SEALED_PREFIX,
    TOKEN_ALGORITHM,
    TOKEN_AUDIENCE,
    AccessClaims,
    UnsealError,
    create_access_token,
    csrf_token_matches,
    decode_access_token,
    hash_password,
    mask_csrf_token,
    open_mfa_secret,
    reseal_mfa_secret,
    retry_after_seconds,
    seal_mfa_secret,
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


def _fernet_key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode()


class TestSealedAuthenticatorKeys:
    """A database copy alone must not give away the keys that compute login codes."""

    KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a base32 TOTP key (RFC 4648 alphabet)

    def test_sealed_with_a_fresh_nonce_and_opened_again(self, cfg: Settings) -> None:
        sealed = {seal_mfa_secret(cfg, self.KEY) for _ in range(3)}
        assert len(sealed) == 3
        for stored in sealed:
            assert stored.startswith(SEALED_PREFIX)
            assert self.KEY not in stored
            assert len(stored) <= 255  # the column
            assert open_mfa_secret(cfg, stored) == self.KEY

    def test_a_key_stored_before_sealing_is_read_as_it_is(self, cfg: Settings) -> None:
        assert open_mfa_secret(cfg, self.KEY) == self.KEY
        assert open_mfa_secret(cfg, reseal_mfa_secret(cfg, self.KEY)) == self.KEY

    def test_without_mfa_keys_a_new_secret_key_cannot_open_it(self, cfg: Settings) -> None:
        stored = seal_mfa_secret(cfg, self.KEY)
        other = cfg.model_copy(update={"secret_key": SecretStr("v" * 40)})
        with pytest.raises(UnsealError, match="MFA_KEYS"):
            open_mfa_secret(other, stored)

    def test_rotation_adds_a_key_in_front_and_reseals(self, cfg: Settings) -> None:
        before = seal_mfa_secret(cfg, self.KEY)  # sealed with the key derived from SECRET_KEY
        first = cfg.model_copy(update={"mfa_keys": SecretStr(_fernet_key(1))})
        # Setting MFA_KEYS keeps the derived key as the last to try: nothing is locked out.
        assert open_mfa_secret(first, before) == self.KEY
        moved = reseal_mfa_secret(first, before)
        # Now SECRET_KEY can change: the configured key alone opens it.
        rotated_secret = first.model_copy(update={"secret_key": SecretStr("w" * 40)})
        assert open_mfa_secret(rotated_secret, moved) == self.KEY
        # A newer key in front seals; the older one still opens until everything is resealed.
        both = rotated_secret.model_copy(
            update={"mfa_keys": SecretStr(f"{_fernet_key(2)}, {_fernet_key(1)}")}
        )
        assert open_mfa_secret(both, moved) == self.KEY
        newest = reseal_mfa_secret(both, moved)
        only_new = both.model_copy(update={"mfa_keys": SecretStr(_fernet_key(2))})
        assert open_mfa_secret(only_new, newest) == self.KEY
        with pytest.raises(UnsealError):
            open_mfa_secret(only_new, moved)

    @pytest.mark.parametrize("value", ["short", _fernet_key(1) + ",not-base64!", "A" * 43])
    def test_mfa_keys_must_be_fernet_keys(self, value: str) -> None:
        with pytest.raises(ValueError, match=r"mfa_keys[\s\S]*Fernet key"):
            Settings(environment="test", secret_key="u" * 40, mfa_keys=value)
