"""Settings from the environment (prefix `CASEDIGEST_`), provided through `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting is documented in README.md (a test checks that)."""

    model_config = SettingsConfigDict(env_prefix="CASEDIGEST_", env_file=".env", extra="ignore")

    engine: Literal["embedded", "elasticsearch"] = Field(
        "embedded", description="Search engine: the embedded file (default) or Elasticsearch."
    )
    data_path: Path = Field(
        Path("data/casedigest.sqlite3"),
        description="Embedded engine: the SQLite file of records; the index folder sits beside it.",
    )
    load_fixtures: bool = Field(
        True, description="Load the demo records in fixtures/ when the service starts on an empty index."
    )
    fixtures_path: Path = Field(
        Path(__file__).resolve().parents[1] / "fixtures",
        description="Folder of demo records (*.jsonl) loaded on first start.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='Origins allowed to call the API from a browser, e.g. ["https://portal.example"].'
    )
    host: str = Field("127.0.0.1", description="Address `casedigest serve` listens on.")
    port: int = Field(8000, description="Port `casedigest serve` listens on.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
