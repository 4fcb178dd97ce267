"""Settings refuse insecure or impossible values at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from practice_dashboard.config import Settings
from practice_dashboard.domain.flags import Thresholds


class TestSecretKey:
    @pytest.mark.parametrize("key", ["", "changeme", "secret", "short-but-random-ish"])
    def test_production_refuses_missing_placeholder_or_short_key(self, key: str) -> None:
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            Settings(environment="production", secret_key=key, database_url="sqlite://")

    def test_production_accepts_a_long_random_key(self) -> None:
        settings = Settings(
            environment="production", secret_key="k" * 20 + "Zx9!" * 5, database_url="sqlite://"
        )
        assert settings.environment == "production"

    def test_development_without_key_gets_a_random_ephemeral_one(self) -> None:
        with pytest.warns(UserWarning, match="SECRET_KEY is not set"):
            first = Settings(environment="development", database_url="sqlite://")
        with pytest.warns(UserWarning, match="SECRET_KEY is not set"):
            second = Settings(environment="development", database_url="sqlite://")
        assert len(first.secret_key.get_secret_value()) >= 32
        assert first.secret_key != second.secret_key

    def test_key_is_never_shown_in_repr(self) -> None:
        settings = Settings(environment="test", secret_key="s" * 40, database_url="sqlite://")
        assert "s" * 40 not in repr(settings)


class TestFromEnvironment:
    def test_unprefixed_database_url_and_secret_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
        monkeypatch.setenv("SECRET_KEY", "e" * 40)
        monkeypatch.setenv("PRACTICE_DASHBOARD_PRACTICE_TIMEZONE", "America/New_York")
        monkeypatch.setenv("PRACTICE_DASHBOARD_ACCESS_TOKEN_MINUTES", "15")
        settings = Settings()
        assert settings.database_url == "postgresql+psycopg://u@h/db"
        assert settings.secret_key.get_secret_value() == "e" * 40
        assert settings.practice_timezone == "America/New_York"
        assert settings.access_token_minutes == 15

    def test_default_database_is_an_sqlite_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("PRACTICE_DASHBOARD_DATABASE_URL", raising=False)
        settings = Settings(environment="test", secret_key="s" * 40)
        assert settings.database_url.startswith("sqlite:///")
        assert settings.database_url.endswith("var/practice-dashboard.db")


class TestLimits:
    def test_unknown_timezone_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="unknown time zone"):
            Settings(environment="test", secret_key="s" * 40, practice_timezone="Mars/Olympus")

    @pytest.mark.parametrize(
        ("field", "value"), [("argon2_memory_kib", 19_455), ("argon2_time_cost", 1)]
    )
    def test_argon2_below_owasp_minimum_is_refused(self, field: str, value: int) -> None:
        with pytest.raises(ValidationError, match="OWASP"):
            Settings(environment="test", secret_key="s" * 40, **{field: value})


class TestReliableChangeConventions:
    """DOMAIN.md §3.4: the convention per instrument; a bad choice stops the app at start."""

    def test_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "PRACTICE_DASHBOARD_RCI_CONVENTIONS", '{"phq9": "nhs_talking_therapies"}'
        )
        settings = Settings(environment="test", secret_key="s" * 40)
        assert settings.thresholds.convention_for("phq9") == "nhs_talking_therapies"
        assert settings.thresholds.convention_for("gad7") == "jacobson_truax"

    @pytest.mark.parametrize(
        ("choice", "message"),
        [
            ('{"phq10": "jacobson_truax"}', "unknown instrument 'phq10'"),
            ('{"phq9": "nhs"}', "phq9: unknown convention 'nhs'"),
            (
                '{"ors": "nhs_talking_therapies"}',
                "the NHS Talking Therapies convention does not cover ORS",
            ),
        ],
    )
    def test_a_bad_choice_refuses_to_start(
        self, monkeypatch: pytest.MonkeyPatch, choice: str, message: str
    ) -> None:
        monkeypatch.setenv("PRACTICE_DASHBOARD_RCI_CONVENTIONS", choice)
        with pytest.raises(ValidationError, match="PRACTICE_DASHBOARD_RCI_CONVENTIONS") as err:
            Settings(environment="test", secret_key="s" * 40)
        assert message in str(err.value)


class TestFlagThresholdOverrides:
    def test_srs_operator_and_confirmations(self) -> None:
        settings = Settings(
            environment="test",
            secret_key="s" * 40,
            flag_thresholds={"srs_concern_operator": "<", "deterioration_confirmations": 1},
        )
        assert settings.thresholds.srs_concern.operator == "<"
        assert settings.thresholds.deterioration_confirmations == 1

    def test_built_once_per_configuration(self) -> None:
        # Pages read the thresholds on every view; they are built once for each configuration.
        def settings(**overrides: object) -> Settings:
            return Settings(environment="test", secret_key="s" * 40, **overrides)

        one = settings(flag_thresholds={"deterioration_confirmations": 1})
        same = settings(flag_thresholds={"deterioration_confirmations": 1})
        defaults = settings()
        assert one.thresholds is same.thresholds
        assert defaults.thresholds is not one.thresholds
        assert defaults.thresholds == Thresholds()
        same.flag_thresholds = {"deterioration_confirmations": 3}
        assert same.thresholds.deterioration_confirmations == 3
        assert one.thresholds.deterioration_confirmations == 1

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"srs_concern_operator": "=="}, "srs_concern_operator must be one of"),
            ({"srs_concern_operator": 36}, "srs_concern_operator must be text"),
            ({"stale_days": "thirty"}, "stale_days must be a number"),
            ({"deterioration_confirmations": 0}, "deterioration_confirmations must be at least 1"),
            ({"rci_conventions": 1}, "unknown flag thresholds: rci_conventions"),
        ],
    )
    def test_bad_overrides_refuse_to_start(
        self, overrides: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValidationError, match=message):
            Settings(environment="test", secret_key="s" * 40, flag_thresholds=overrides)


class TestRequireMfa:
    @pytest.mark.parametrize(
        ("environment", "required"),
        [("production", True), ("development", False), ("test", False)],
    )
    def test_by_default_on_in_production_only(self, environment: str, required: bool) -> None:
        settings = Settings(environment=environment, secret_key="k" * 40, database_url="sqlite://")
        assert settings.require_mfa is None
        assert settings.mfa_required is required

    @pytest.mark.parametrize(("value", "required"), [("false", False), ("true", True)])
    def test_the_setting_wins(
        self, monkeypatch: pytest.MonkeyPatch, value: str, required: bool
    ) -> None:
        monkeypatch.setenv("PRACTICE_DASHBOARD_REQUIRE_MFA", value)
        for environment in ("production", "test"):
            settings = Settings(
                environment=environment, secret_key="k" * 40, database_url="sqlite://"
            )
            assert settings.mfa_required is required
