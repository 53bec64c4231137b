"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VAULT = {
    "VAULT_KEYS": "k1:" + "A" * 43 + "=",
    "VAULT_FINGERPRINT_KEY": "B" * 43 + "=",
}


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"KAMENG_DEV", "SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "import kameng.settings as s; print(s.DEBUG, s.CONN_MAX_AGE)"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_requires_secret_key() -> None:
    result = _load_settings({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_requires_service_urls(missing: str) -> None:
    env = {
        "SECRET_KEY": "x" * 50,
        **VAULT,
        "DATABASE_URL": "postgres://h/db",
        "REDIS_URL": "redis://h/0",
    }
    env_without = {k: v for k, v in env.items() if k != missing}
    clean = {k: v for k, v in os.environ.items() if k not in {"KAMENG_DEV", missing}}
    result = subprocess.run(
        [sys.executable, "-c", "import kameng.settings"],
        cwd=ROOT,
        env={**clean, **env_without},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_defaults_debug_off_and_persistent_connections() -> None:
    result = _load_settings(
        {
            "SECRET_KEY": "x" * 50,
            **VAULT,
            "DATABASE_URL": "postgres://h/db",
            "REDIS_URL": "redis://h/0",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "300"]


def test_connection_lifetime_is_configurable() -> None:
    result = _load_settings(
        {
            "SECRET_KEY": "x" * 50,
            **VAULT,
            "DATABASE_URL": "postgres://h/db",
            "REDIS_URL": "redis://h/0",
            "CONN_MAX_AGE": "60",
        }
    )
    assert result.stdout.split() == ["False", "60"]


def test_production_requires_vault_keys() -> None:
    result = _load_settings(
        {"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h/0"}
    )
    assert result.returncode != 0
    assert "VAULT_KEYS and VAULT_FINGERPRINT_KEY must be set" in result.stderr
