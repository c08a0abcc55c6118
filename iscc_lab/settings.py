"""The contract's settings: ISCC_WEB_* for the service and ISCC_SDK_* for ISCC defaults.

One object, read from the environment, passed down explicitly. Nothing here changes global
state of iscc-sdk: per-call options are applied where the work runs (see `generate.py`).
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "default_media_path", "parse_bytes"]

#: Defaults of the per-job limits (ISCC_LAB_JOB_TIMEOUT, ISCC_LAB_JOB_MEMORY): far above what a
#: legitimate job on the largest upload (1 GiB) takes, on a machine of 2 cores and 24 GiB.
DEFAULT_JOB_TIMEOUT = 3600.0
DEFAULT_JOB_MEMORY = 8 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?")


def parse_bytes(value) -> int:
    """A size in bytes from an int or a text with an optional K, M, G or T suffix (binary
    multiples; "KiB", "MB" and the like are read the same): "1G" is 1073741824."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    found = _SIZE.fullmatch(str(value).strip().upper())
    if found is None:
        raise ValueError(f"{value!r} is not a size in bytes (e.g. 1073741824, 512M, 1G)")
    return int(float(found[1]) * _UNITS[found[2]])


def default_media_path() -> Path:
    return Path(user_data_dir("iscc-lab", "iscc")) / "media"


class Settings(BaseSettings):
    """Settings of the contract with its defaults.

    Service settings come from `ISCC_WEB_*`, ISCC defaults from `ISCC_SDK_*` (and no other
    variables); both can also be given as keyword arguments by their field names
    (`Settings(private_files=False, fallback=False)`).
    """

    model_config = SettingsConfigDict(
        env_prefix="ISCC_WEB_", populate_by_name=True, extra="ignore", frozen=True
    )

    storage_expiry: int = Field(3600, ge=0, description="Seconds after which uploads expire.")
    cleanup_interval: int = Field(600, ge=0, description="Seconds between cleanups; 0 is off.")
    max_upload_size: int = Field(1_073_741_824, gt=0, description="Largest upload in bytes.")
    private_files: bool = Field(True, description="Only the uploader may download or change.")
    media_path: Path = Field(default_factory=default_media_path, description="Media folder.")
    max_workers: int | None = Field(None, ge=1, description="ISCC worker processes (cores).")
    allow_anonymous: bool = Field(
        False, description="Serve the API without Jupyter authentication (trusted networks only)."
    )

    # Per-job limits of the worker pool (batch() and the server): ISCC_LAB_JOB_*; 0 is off.
    job_timeout: float = Field(
        DEFAULT_JOB_TIMEOUT,
        ge=0,
        validation_alias=AliasChoices("job_timeout", "ISCC_LAB_JOB_TIMEOUT"),
        description="Seconds a job may take; its worker (and tools) are stopped after that.",
    )
    job_memory: int = Field(
        DEFAULT_JOB_MEMORY,
        ge=0,
        validation_alias=AliasChoices("job_memory", "ISCC_LAB_JOB_MEMORY"),
        description="Bytes (K/M/G suffixes) of memory a job may use, its tools included.",
    )

    @field_validator("job_memory", mode="before")
    @classmethod
    def _sizes(cls, value):
        return parse_bytes(value)

    fallback: bool = Field(
        True,
        validation_alias="ISCC_SDK_FALLBACK",
        description="Unsupported media get a 2-unit ISCC-SUM instead of an error.",
    )
    experimental: bool = Field(
        False,
        validation_alias="ISCC_SDK_EXPERIMENTAL",
        description="Default of `semantic`: add the experimental Semantic-Code unit.",
    )
    granular: bool = Field(
        True,
        validation_alias="ISCC_SDK_GRANULAR",
        description="Default of `granular`: add granular text features.",
    )

    # Content Credentials: the signer of iscc-lab's C2PA manifests (ISCC_LAB_SIGN_*).
    sign_cert: Path | None = Field(
        None,
        validation_alias="ISCC_LAB_SIGN_CERT",
        description="PEM file: the signing certificate, then its chain (not the root).",
    )
    sign_key: Path | None = Field(
        None, validation_alias="ISCC_LAB_SIGN_KEY", description="PEM file: the private key."
    )
    sign_alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = Field(
        "es256", validation_alias="ISCC_LAB_SIGN_ALG", description="The signature algorithm."
    )
    sign_tsa_url: str | None = Field(
        None,
        validation_alias="ISCC_LAB_SIGN_TSA_URL",
        description="An RFC 3161 time-stamp authority (none by default: nothing is fetched).",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once per process."""
    return Settings()
