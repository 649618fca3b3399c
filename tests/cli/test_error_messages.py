"""Errors that say what to do: one line naming the setting, what is wrong and the accepted form (SPEC 3)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import ConfigError, load_settings
from tests.served import free_port


def _error_line(args: list[str], env: dict[str, str]) -> str:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_a_refused_connection_names_the_setting_host_port_and_user_never_the_password() -> None:
    port = free_port()
    line = _error_line(["db", "migrate"], {"DATABASE_URL": f"postgresql://billing_app:s3cr3t@127.0.0.1:{port}/cpni"})
    assert line == (
        f"Error: cannot connect to PostgreSQL at 127.0.0.1:{port} as user billing_app (DATABASE_URL): "
        "connection refused; is the server running and listening there? Else fix the host and port in DATABASE_URL"
    )


def test_the_prefixed_variable_is_named_when_it_is_the_one_set() -> None:
    port = free_port()
    line = _error_line(
        ["db", "migrate"], {"CPNI_GATEWAY_DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{port}/cpni", "DATABASE_URL": ""}
    )
    assert f"127.0.0.1:{port} as user app (CPNI_GATEWAY_DATABASE_URL)" in line and "pw" not in line


def test_an_unknown_host_says_so() -> None:
    line = _error_line(["db", "migrate"], {"DATABASE_URL": "postgresql://app:pw@no-such-host.invalid:5432/cpni"})
    assert line == (
        "Error: cannot connect to PostgreSQL at no-such-host.invalid:5432 as user app (DATABASE_URL): "
        "the host name does not resolve; fix the host in DATABASE_URL"
    )


def test_a_missing_database_says_how_to_create_it(server_url: str) -> None:
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path="/no_such_cpni_db"))
    line = _error_line(["db", "migrate"], {"DATABASE_URL": url})
    assert line.endswith(
        ": database 'no_such_cpni_db' does not exist; create it (createdb no_such_cpni_db) or fix its name in DATABASE_URL"
    )
    assert (parts.password or "\0") not in line


def test_a_bad_url_is_not_echoed() -> None:
    line = _error_line(["db", "migrate"], {"DATABASE_URL": "mysql://root:hunter2@db/cpni"})
    assert line == "Error: DATABASE_URL: not valid: expected a postgresql:// URL, e.g. postgresql://user@db.example:5432/cpni"


@pytest.mark.parametrize(
    ("name", "value", "form"),
    [
        ("CPNI_GATEWAY_REQUEST_TIMEOUT", "ten", "expected a duration above 0 such as 10, 10s, 500ms, 2m or 1h"),
        ("CPNI_GATEWAY_SHUTDOWN_TIMEOUT", "-5s", "expected a duration above 0 such as 10, 10s, 500ms, 2m or 1h"),
        ("CPNI_GATEWAY_PORT", "80.5", "expected a whole number above 0, e.g. 10"),
        ("CPNI_GATEWAY_MAX_DEPTH", "deep", "expected a whole number above 0, e.g. 10"),
        ("CPNI_GATEWAY_GRAPHIQL", "maybe", "expected true or false"),
    ],
)
def test_a_bad_number_or_duration_names_the_variable_and_the_accepted_form(name: str, value: str, form: str) -> None:
    assert _error_line(["serve"], {name: value}) == f"Error: {name}: {value!r} is not valid: {form}"


def test_a_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"CPNI_GATEWAY_JWT_SECRET": "short-secret"})
    assert "short-secret" not in str(raised.value) and "CPNI_GATEWAY_JWT_SECRET" in str(raised.value)


@pytest.mark.parametrize(("value", "seconds"), [("10", 10.0), ("10s", 10.0), ("1.5s", 1.5), ("500ms", 0.5),
                                                ("2m", 120.0), ("1h", 3600.0), (" 10S ", 10.0)])
def test_durations_take_plain_seconds_or_a_unit_alike(value: str, seconds: float) -> None:
    settings = load_settings({"CPNI_GATEWAY_REQUEST_TIMEOUT": value, "CPNI_GATEWAY_SHUTDOWN_TIMEOUT": value})
    assert settings.limits.request_timeout_s == seconds
    assert settings.shutdown_timeout_s == seconds

