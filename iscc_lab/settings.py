"""The contract's settings: ISCC_WEB_* for the service and ISCC_SDK_* for ISCC defaults.

One object, read from the environment, passed down explicitly. Nothing here changes global
state of iscc-sdk: per-call options are applied where the work runs (see `generate.py`).
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "default_media_path"]


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
