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
    segmenter: Literal["native", "jieba"] = Field(
        "native",
        description="Word cutter: the native one (jieba-rs, about ten times faster) or jieba itself, the reference; both cut the same words.",
    )
    segmentation_workers: int | None = Field(
        None,
        ge=1,
        description="Processes that segment large write batches (bulk loads); default: one per CPU; 1 = in the loading process.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='Origins allowed to call the API from a browser, e.g. ["https://portal.example"].'
    )
    elasticsearch_url: str = Field(
        "http://127.0.0.1:9200",
        description="Elasticsearch node URLs, comma-separated for several nodes of one cluster.",
    )
    elasticsearch_index: str = Field("cases", description="Elasticsearch alias the service reads and writes.")
    elasticsearch_username: str | None = Field(None, description="Elasticsearch basic-auth user.")
    elasticsearch_password: str | None = Field(None, description="Elasticsearch basic-auth password.")
    elasticsearch_api_key: str | None = Field(None, description="Elasticsearch API key (instead of basic auth).")
    elasticsearch_ca_certs: Path | None = Field(None, description="CA bundle to verify the cluster's TLS certificate.")
    elasticsearch_timeout: float = Field(10.0, description="Seconds before an Elasticsearch request times out.")
    elasticsearch_shards: int = Field(1, description="Primary shards of a newly created index.")
    elasticsearch_replicas: int = Field(0, description="Replicas of a newly created index (1 or more on a cluster).")
    reads_require_key: bool = Field(
        False, description="Require an API key (any role) for reads too; writes always require one."
    )
    cursor_secret: str | None = Field(
        None,
        min_length=16,
        description="Secret that signs page cursors (16+ characters); default: one generated once and kept by the engine.",
    )
    host: str = Field("127.0.0.1", description="Address `casedigest serve` listens on.")
    port: int = Field(8000, description="Port `casedigest serve` listens on.")
    workers: int = Field(
        1, ge=1, description="Processes `casedigest serve` runs; each serves reads and writes (see README)."
    )
    read_threads: int = Field(
        40, ge=1, description="Threads per server process that run reads at once; writes have a thread of their own."
    )
    facts_path: Path | None = Field(
        None,
        description="SQLite file keeping the 类案检索 page's pasted facts for an hour, shared by every worker (default: beside data_path).",
    )

    def pasted_facts_path(self) -> Path:
        """Where the page's pasted facts are kept."""
        return self.facts_path or self.data_path.with_name("pasted-facts.sqlite3")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
