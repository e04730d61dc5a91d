"""Strict typed settings: one object, unknown keys raise.

Precedence (highest first): explicit overrides, ``RINGWATCH_*`` environment
variables, the TOML config file named by ``RINGWATCH_CONFIG`` (or
``./ringwatch.toml`` when present), defaults. Neo4j credentials also come from
``NEO4J_USER`` / ``NEO4J_PASSWORD``; they are ``SecretStr`` so they never show
in reprs or logs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from graph.errors import ConfigError

__all__ = ["Settings", "get_settings", "override_settings"]

DEFAULT_STORE = "duckdb:///./ringwatch.duckdb"


def _config_file() -> Path | None:
    named = os.environ.get("RINGWATCH_CONFIG")
    if named:
        return Path(named)
    local = Path("ringwatch.toml")
    return local if local.exists() else None


class Settings(BaseSettings):
    """Every knob RingWatch has. Unknown keys in the config file or overrides raise."""

    model_config = SettingsConfigDict(env_prefix="RINGWATCH_", extra="forbid", frozen=True)

    store: str = DEFAULT_STORE
    tz: str = "UTC"
    max_reject_rate: float = Field(0.01, ge=0, le=1)
    chunk_rows: int = Field(200_000, ge=1_000)
    seed: int = 0
    neo4j_user: str | None = Field(None, validation_alias=AliasChoices("NEO4J_USER", "RINGWATCH_NEO4J_USER"))
    neo4j_password: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NEO4J_PASSWORD", "RINGWATCH_NEO4J_PASSWORD")
    )
    neo4j_database: str | None = None
    neo4j_batch_size: int = Field(10_000, ge=1)
    rules_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


_overrides: dict[str, Any] = {}


def get_settings(**overrides: Any) -> Settings:
    """Build the settings; keyword arguments win over everything else (None is ignored)."""
    given = {**_overrides, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(f"invalid RingWatch settings: {exc}") from exc


@contextlib.contextmanager
def override_settings(**values: Any) -> Iterator[None]:
    """Temporarily override settings (for tests)."""
    saved = dict(_overrides)
    _overrides.update(values)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)
