"""hub.config: hub.yaml + O2C_* overrides -> typed, validated, secret-safe settings."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from hub.cli.config_cmd import app
from hub.config import (
    SecuritySettings,
    Settings,
    config_path,
    env_var_names,
    load_settings,
    placeholder_reason,
)
from hub.errors import ConfigError
from hub.paths import bundled_config_dir, bundled_mappings_dir

REAL_SECRET = "k7Qz-9vLp2Rw4xYb8NcT"  # 20 characters, no placeholder words


@pytest.fixture(autouse=True)
def _no_o2c_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads os.environ; keep the developer's own O2C_* variables out of it."""
    for name in list(os.environ):
        if name.startswith("O2C_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "hub.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={} if environ is None else environ)
    return str(info.value)


# --------------------------------------------------------------------------- defaults


def test_defaults_from_an_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.environment == "development"
    assert settings.database.url == f"sqlite:///{tmp_path / 'hub.db'}"
    assert settings.database.echo is False
    assert (settings.server.host, settings.server.port, settings.server.workers) == (
        "127.0.0.1",
        8080,
        1,
    )
    assert settings.workers.concurrency == 4
    assert settings.workers.poll_interval_ms == 1000
    assert settings.workers.poll_interval.total_seconds() == 1
    assert (settings.logging.level, settings.logging.format) == ("INFO", "console")
    assert settings.mappings.paths == (bundled_mappings_dir(),)
    assert settings.mappings.control_totals.on_mismatch == "reject"
    assert settings.mappings.control_totals.tolerance == Decimal("0.00")
    assert settings.security.secret_key is None
    assert settings.origins["server.port"] == "default"


def test_bundled_config_loads_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config/hub.yaml here, so the bundled one is used
    bundled = bundled_config_dir() / "hub.yaml"
    assert config_path(environ={}) == bundled
    settings = load_settings(environ={})
    assert settings.source_file == bundled
    assert settings == load_settings(bundled, environ={})
    assert settings.mappings.paths == (bundled_mappings_dir(),)
    # Every key is present in the bundled file, with the model's default.
    assert "default" not in settings.origins.values()
    defaults = Settings().model_dump()
    loaded = settings.model_dump()
    loaded["database"]["url"] = defaults["database"]["url"]  # made absolute on load
    assert loaded == defaults


def test_config_file_chosen_by_O2C_CONFIG(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9001\n", name="custom.yaml")
    settings = load_settings(environ={"O2C_CONFIG": str(path)})
    assert settings.server.port == 9001
    message = config_error(None, {"O2C_CONFIG": str(tmp_path / "nope.yaml")})
    assert message.startswith("environment variable O2C_CONFIG: ")
    assert "nope.yaml: file not found" in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path / "absent.yaml")
    assert message == f"{tmp_path / 'absent.yaml'}: file not found"


def test_reserved_variables_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    load_settings(path, environ={"O2C_DEBUG": "1", "O2C_DISABLED_PLUGINS": "a,b", "HOME": "/"})


# --------------------------------------------------------------------------- file problems


def test_unknown_key_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  host: 0.0.0.0\n  prot: 9000\n")
    message = config_error(path)
    assert message == f"{path}:3:3: server.prot: unknown setting; did you mean 'port'?"


def test_unknown_top_level_section(tmp_path: Path) -> None:
    path = write(tmp_path, "environment: development\ndatabse:\n  url: sqlite://\n")
    assert config_error(path).startswith(f"{path}:2:1: databse: unknown setting; did you mean")


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "workers:\n  concurrency: many\n")
    message = config_error(path)
    assert message.startswith(f"{path}:2:16: workers.concurrency: ")
    assert "integer" in message


def test_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "server: 8080\n")
    assert config_error(path) == f"{path}:1:9: server: should be a mapping of settings"


def test_list_item_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "mappings:\n  paths:\n    - ok\n    - [nested]\n")
    assert config_error(path).startswith(f"{path}:4:7: mappings.paths[1]: ")


def test_bad_literal_and_tolerance(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "logging:\n  format: xml\nmappings:\n  control_totals:\n    tolerance: -0.01\n",
    )
    lines = config_error(path).splitlines()
    assert lines[0].startswith(f"{path}:2:11: logging.format: ")
    assert "'json' or 'console'" in lines[0]
    assert lines[1].startswith(f"{path}:5:16: mappings.control_totals.tolerance: ")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    assert config_error(path) == f"{path}:1:1: (top level): should be a mapping of settings"


def test_tolerance_is_decimal_and_level_is_case_insensitive(tmp_path: Path) -> None:
    path = write(
        tmp_path, "logging:\n  level: debug\nmappings:\n  control_totals:\n    tolerance: 0.10\n"
    )
    settings = load_settings(path, environ={})
    assert settings.logging.level == "DEBUG"
    tolerance = settings.mappings.control_totals.tolerance
    assert isinstance(tolerance, Decimal)
    assert str(tolerance) == "0.10"


def test_several_problems_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "environment: production\n"
        "server:\n  port: 70000\n"
        "logging:\n  level: LOUD\n"
        "security:\n  secret_key: changeme\n"
        "extra: 1\n",
    )
    lines = config_error(path, {"O2C_SERVER_WORKERS": "lots", "O2C_DATABSE_URL": "x"}).splitlines()
    assert len(lines) == 6
    # file problems first, in file order, then the environment's, by name
    assert [line.split(": ")[1] for line in lines[:4]] == [
        "server.port",
        "logging.level",
        "security.secret_key",
        "extra",
    ]
    assert lines[0].startswith(f"{path}:3:9: ")
    assert lines[4].startswith("environment variable O2C_DATABSE_URL: ")
    assert lines[5].startswith("environment variable O2C_SERVER_WORKERS (server.workers): ")


# --------------------------------------------------------------------------- secret references


def test_env_reference_resolves(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: {$env: HUB_SECRET}\n")
    settings = load_settings(path, environ={"HUB_SECRET": REAL_SECRET})
    assert settings.security.secret_key is not None
    assert settings.security.secret_key.get_secret_value() == REAL_SECRET


def test_env_reference_works_for_non_secret_values(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: {$env: PORT}\n")
    assert load_settings(path, environ={"PORT": "9100"}).server.port == 9100


def test_missing_env_reference_names_variable_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: {$env: HUB_SECRET}\n")
    assert config_error(path) == (
        f"{path}:2:22: security.secret_key: environment variable HUB_SECRET is not set"
    )


def test_env_reference_may_use_an_O2C_name(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: {$env: O2C_HUB_SECRET}\n")
    settings = load_settings(path, environ={"O2C_HUB_SECRET": REAL_SECRET})
    assert settings.security.secret_key is not None


def test_file_reference_resolves_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text(REAL_SECRET + "\n", encoding="utf-8")
    path = write(tmp_path, "security:\n  secret_key: {$file: secrets/key}\n")
    settings = load_settings(path, environ={})
    assert settings.security.secret_key is not None
    assert settings.security.secret_key.get_secret_value() == REAL_SECRET


def test_missing_file_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: {$file: nope.txt}\n")
    assert config_error(path) == (
        f"{path}:2:23: security.secret_key: secret file {tmp_path / 'nope.txt'} not found"
    )


def test_malformed_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: {$vault: x}\n")
    assert config_error(path) == (
        f"{path}:2:15: security.secret_key: "
        "a secret reference is written {$env: NAME} or {$file: PATH}"
    )


# --------------------------------------------------------------------------- environment


def test_env_overrides_database_url(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:////data/file.db\n")
    settings = load_settings(path, environ={"O2C_DATABASE_URL": "postgresql://db/hub"})
    assert settings.database.url == "postgresql://db/hub"
    assert settings.origins["database.url"] == "environment variable O2C_DATABASE_URL"


def test_env_overrides_nested_keys_with_underscores(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    settings = load_settings(
        path,
        environ={
            "O2C_MAPPINGS_CONTROL_TOTALS_ON_MISMATCH": "flag",
            "O2C_MAPPINGS_CONTROL_TOTALS_TOLERANCE": "0.05",
            "O2C_WORKERS_POLL_INTERVAL_MS": "250",
            "O2C_DATABASE_ECHO": "true",
            "O2C_MAPPINGS_PATHS": f"{tmp_path}/a, {tmp_path}/b",
        },
    )
    assert settings.mappings.control_totals.on_mismatch == "flag"
    assert settings.mappings.control_totals.tolerance == Decimal("0.05")
    assert settings.workers.poll_interval_ms == 250
    assert settings.database.echo is True
    assert settings.mappings.paths == (tmp_path / "a", tmp_path / "b")


def test_env_int_type_error(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    message = config_error(path, {"O2C_SERVER_PORT": "eighty"})
    assert message.startswith("environment variable O2C_SERVER_PORT (server.port): ")
    assert "integer" in message


def test_unknown_env_variable_suggests_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert config_error(path, {"O2C_DATABSE_URL": "sqlite://"}) == (
        "environment variable O2C_DATABSE_URL: not a known setting; did you mean O2C_DATABASE_URL?"
    )


def test_env_table_is_built_from_the_models() -> None:
    names = env_var_names()
    assert names["O2C_DATABASE_URL"] == "database.url"
    assert names["O2C_MAPPINGS_CONTROL_TOTALS_ON_MISMATCH"] == "mappings.control_totals.on_mismatch"
    assert names["O2C_SECURITY_SECRET_KEY"] == "security.secret_key"
    assert "O2C_CONFIG" not in names


def test_default_environ_is_read_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "")
    monkeypatch.setenv("O2C_SERVER_PORT", "9200")
    assert load_settings(path).server.port == 9200


# --------------------------------------------------------------------------- paths


def test_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "etc").mkdir()
    path = write(
        tmp_path / "etc",
        "database:\n  url: sqlite:///data/hub.db?timeout=5\n"
        "mappings:\n  paths: [maps, /abs/maps]\n",
    )
    settings = load_settings(path, environ={})
    assert settings.database.url == f"sqlite:///{work / 'data' / 'hub.db'}?timeout=5"
    assert settings.mappings.paths == (tmp_path / "etc" / "maps", Path("/abs/maps"))
    memory = write(tmp_path, "database:\n  url: 'sqlite:///:memory:'\n", name="m.yaml")
    assert load_settings(memory, environ={}).database.url == "sqlite:///:memory:"


SELLER_YAML = "  seller: {name: Nordwerk, address: {city: Hamburg, country: DE}}\n"


def test_relative_paths_in_the_invoicing_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like mappings.paths and routes.file: relative to the config file's directory."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "etc").mkdir()
    path = write(
        tmp_path / "etc",
        "invoicing:\n" + SELLER_YAML + "  pricing: pricing\n  rates_file: ../rates/ecb.csv\n"
        "  contracts: /srv/billing\n",
    )
    invoicing = load_settings(path, environ={}).invoicing
    assert invoicing is not None
    assert invoicing.pricing == tmp_path / "etc" / "pricing"
    assert invoicing.rates_file == tmp_path / "rates" / "ecb.csv"
    assert invoicing.contracts == Path("/srv/billing")
    # a path given in a variable is relative to the working directory, as everywhere
    moved = load_settings(path, environ={"O2C_INVOICING_CONTRACTS": "billing"}).invoicing
    assert moved is not None
    assert moved.contracts == work / "billing"


def test_env_overrides_keys_of_the_invoicing_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "invoicing:\n" + SELLER_YAML + "  tax:\n    seller_country: DE\n"
        "    rates: {DE: {standard: 19}}\n",
    )
    settings = load_settings(
        path,
        environ={
            "O2C_INVOICING_SERIES": "B2B",
            "O2C_INVOICING_SELLER_NAME": "Nordwerk GmbH",
            "O2C_INVOICING_SELLER_ADDRESS_LINES": "Hafenstrasse 1, Tor 3",
            "O2C_INVOICING_BILLING_EVERY_SECONDS": "0",
            "O2C_INVOICING_TAX_DOMESTIC_REVERSE_CHARGE": "construction, scrap",
        },
    )
    invoicing = settings.invoicing
    assert invoicing is not None
    assert (invoicing.series, invoicing.seller.name) == ("B2B", "Nordwerk GmbH")
    assert invoicing.seller.address.lines == ["Hafenstrasse 1", "Tor 3"]
    assert invoicing.seller.address.city == "Hamburg"  # the rest of the file stays
    assert invoicing.billing_every_seconds == 0
    assert invoicing.tax is not None
    assert invoicing.tax.domestic_reverse_charge == frozenset({"construction", "scrap"})
    assert settings.origins["invoicing.series"] == "environment variable O2C_INVOICING_SERIES"
    assert settings.origins["invoicing.seller.address.city"] == f"{path}:2:44"
    assert settings.origins["invoicing.pattern"] == "default"
    assert env_var_names()["O2C_INVOICING_RATES_FILE"] == "invoicing.rates_file"
    message = config_error(path, {"O2C_INVOICING_BILLING_EVERY_SECONDS": "-1"})
    assert message.startswith(
        "environment variable O2C_INVOICING_BILLING_EVERY_SECONDS "
        "(invoicing.billing_every_seconds): input should be greater than or equal to 0"
    )


@pytest.mark.parametrize(
    ("text", "origin"), [("", "default"), ("invoicing: null\n", "1:12"), ("invoicing:\n", "1:11")]
)
def test_a_variable_alone_does_not_create_the_invoicing_section(
    tmp_path: Path, text: str, origin: str
) -> None:
    """An error, like an unknown variable: the section needs the seller, which no single
    variable gives, and a half-made section would only fail validation elsewhere."""
    path = write(tmp_path, text)
    assert config_error(path, {"O2C_INVOICING_SERIES": "B2B"}) == (
        "environment variable O2C_INVOICING_SERIES: sets invoicing.series, but the config "
        "file has no `invoicing:` section; a variable overrides a key of a section and does "
        "not create one: add `invoicing:` (it needs invoicing.seller) to the config file"
    )
    settings = load_settings(path, environ={})
    assert settings.invoicing is None
    assert "invoicing.series" not in settings.origins
    # the section that is not configured is listed by its own key, not by its leaves
    assert settings.origins["invoicing"] == (origin if origin == "default" else f"{path}:{origin}")


def test_a_variable_alone_does_not_create_an_optional_section_inside_another(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "invoicing:\n" + SELLER_YAML)
    assert config_error(path, {"O2C_INVOICING_TAX_OSS": "true"}) == (
        "environment variable O2C_INVOICING_TAX_OSS: sets invoicing.tax.oss, but the config "
        "file has no `invoicing.tax:` section; a variable overrides a key of a section and "
        "does not create one: add `invoicing.tax:` (it needs invoicing.tax.seller_country, "
        "invoicing.tax.rates) to the config file"
    )


def test_an_unknown_key_in_the_invoicing_section_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "invoicing:\n" + SELLER_YAML + "  serie: B2B\n")
    assert config_error(path) == (
        f"{path}:3:3: invoicing.serie: unknown setting; did you mean 'series'?"
    )


def test_an_impossible_date_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  host: 2026-13-01\n")
    assert config_error(path) == f"{path}:2:9: '2026-13-01' is not a date: month must be in 1..12"


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "change-me",
        "CHANGE_ME_1234567890",
        "secret",
        "password",
        "xxx",
        "xxxxxxxxxxxxxxxxxxxxxxxx",
        "",
        "   ",
        "short-but-real",
        "secretpassword2024",
    ],
)
def test_placeholder_secret_refused_in_production(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "environment: production\nsecurity:\n  secret_key: {$env: KEY}\n")
    message = config_error(path, {"KEY": value})
    assert message.startswith(f"{path}:3:15: security.secret_key: ")
    assert "production needs a real secret" in message
    assert placeholder_reason(value) is not None


def test_placeholder_secret_from_env_override(tmp_path: Path) -> None:
    path = write(tmp_path, "environment: production\n")
    message = config_error(path, {"O2C_SECURITY_SECRET_KEY": "changeme"})
    assert message.startswith(
        "environment variable O2C_SECURITY_SECRET_KEY (security.secret_key): "
    )


def test_placeholder_secret_accepted_in_development(tmp_path: Path) -> None:
    path = write(tmp_path, "security:\n  secret_key: changeme\n")
    settings = load_settings(path, environ={})
    assert settings.security.secret_key is not None
    assert settings.security.secret_key.get_secret_value() == "changeme"


def test_real_secret_accepted_in_production(tmp_path: Path) -> None:
    path = write(tmp_path, "environment: production\nsecurity:\n  secret_key: {$env: KEY}\n")
    settings = load_settings(path, environ={"KEY": REAL_SECRET})
    assert settings.environment == "production"
    assert placeholder_reason(REAL_SECRET) is None


def test_direct_construction_also_refuses_placeholders() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(
            environment="production",
            security=SecuritySettings(secret_key=SecretStr("changeme")),
        )
    assert "security.secret_key" in str(info.value)
    assert "changeme" not in str(info.value)


def test_secret_never_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "database:\n  url: {$env: DB}\nsecurity:\n  secret_key: {$env: KEY}\nserver:\n  port: x\n",
    )
    environ = {"KEY": REAL_SECRET, "DB": "postgresql://hub:hunter2pass@db/hub"}
    message = config_error(path, environ)
    assert REAL_SECRET not in message
    assert "hunter2pass" not in message

    path = write(tmp_path, "database:\n  url: {$env: DB}\nsecurity:\n  secret_key: {$env: KEY}\n")
    settings = load_settings(path, environ=environ)
    shown = [repr(settings), str(settings), json.dumps(settings.redacted())]
    for text in shown:
        assert REAL_SECRET not in text
        assert "hunter2pass" not in text
    assert settings.redacted()["security"]["secret_key"] == "***"
    assert settings.redacted()["database"]["url"] == "postgresql://hub:***@db/hub"
    assert settings.database.url == environ["DB"]


def test_secret_not_in_errors_of_a_bad_secret_type(tmp_path: Path) -> None:
    path = write(tmp_path, "environment: production\nsecurity:\n  secret_key: [changeme]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "changeme" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), environ={})
    with pytest.raises(ValidationError):
        settings.server.port = 1  # type: ignore[misc]


# --------------------------------------------------------------------------- CLI


def test_cli_check_ok(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    result = CliRunner().invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"OK: {path}"


def test_cli_check_raises_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  prot: 1\n")
    result = CliRunner().invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError)
    assert "server.prot" in str(result.exception)


def test_cli_show_json_masks_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, f"security:\n  secret_key: {REAL_SECRET}\n")
    result = CliRunner().invoke(app, ["show", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["security"]["secret_key"] == "***"
    assert REAL_SECRET not in result.output


def test_cli_show_table(tmp_path: Path) -> None:
    path = write(tmp_path, f"security:\n  secret_key: {REAL_SECRET}\n")
    result = CliRunner().invoke(app, ["show", "--config", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "server.port" in result.output
    assert "O2C_SERVER_PORT" in result.output
    assert "***" in result.output
    assert REAL_SECRET not in result.output
