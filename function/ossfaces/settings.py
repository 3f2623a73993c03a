"""Every setting of the function, read from environment variables in one place (docs/deploy.md "Configuration").

Defaults work in FC. ``Settings.from_environ(mapping)`` reads the variables from a mapping (FC's initializer passes
``os.environ``; the local stack passes the function's declared environment; tests pass what they need), so nothing
has to write ``os.environ`` to configure the function. ``Settings()`` still reads ``os.environ`` (the tools).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

# One home for each, in a module that imports nothing (the engine reads them without pydantic-settings).
from ossfaces.defaults import DEFAULT_MAX_PIXELS as DEFAULT_MAX_PIXELS
from ossfaces.defaults import DEFAULT_MIN_FACE_PX as DEFAULT_MIN_FACE_PX
from ossfaces.defaults import DEFAULT_SCORE_THRESHOLD as DEFAULT_SCORE_THRESHOLD

DEFAULT_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif")

# The variables ``Settings.from_environ`` reads instead of ``os.environ`` while it builds one object.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("ossfaces_settings_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' own environment source (same prefix, aliases, case rules), reading a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class Settings(BaseSettings):
    """What the operator can change. Field ``x`` is read from ``OSSFACES_X`` unless an alias says otherwise."""

    model_config = SettingsConfigDict(env_prefix="OSSFACES_", env_ignore_empty=True, frozen=True, extra="ignore")

    engine: Literal["imm", "imm2", "local"] = Field(
        "imm",
        description="Who analyses the photo: imm (IMM v1 imm/detectface via x-oss-process), imm2 (IMM v2 "
        "DetectImageFaces; needs OSSFACES_IMM_PROJECT), or local (the bundled engine, in the function).",
    )
    result_suffix: str = Field(".faces.json", description="Appended to the photo's key to name the result object.")
    image_suffixes: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_IMAGE_SUFFIXES,
        description="Keys ending in one of these (case-insensitive) are photos; comma-separated.",
    )
    max_image_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Larger objects are skipped with a logged reason.")
    oss_endpoint: str = Field(
        "",
        description="OSS endpoint. Empty: the internal endpoint of the event's region, https://oss-<region>-internal.aliyuncs.com.",
    )
    oss_auth_version: Literal["v1", "v4"] = Field("v4", description="OSS request signature version.")
    oss_timeout: float = Field(30.0, gt=0, description="Seconds before an OSS request (connect or read) is abandoned.")
    imm_process: str = Field("imm/detectface", description="The x-oss-process string sent by the imm engine.")
    imm_project: str = Field(
        "", description="Engine imm2: the IMM v2 project (same region as the bucket) that DetectImageFaces runs in."
    )
    imm_endpoint: str = Field(
        "",
        description="Engine imm2: IMM OpenAPI endpoint. Empty: imm.<region>.aliyuncs.com of the event's region "
        "(https unless the value says http://).",
    )
    models_dir: Path | None = Field(
        None, description="Model files of the local engine. Empty: models/ beside the code."
    )
    threads: int = Field(0, ge=0, description="CPU threads of the local engine. 0: as many as the instance has.")
    min_face_px: int = Field(
        DEFAULT_MIN_FACE_PX,
        ge=8,
        description="Local engine: smallest face side, in pixels of the photo, that is reported.",
    )
    score_threshold: float = Field(
        DEFAULT_SCORE_THRESHOLD,
        gt=0,
        lt=1,
        description="Local engine: detector confidence below which a face is dropped.",
    )
    embeddings: bool = Field(
        True,
        description="Local engine: write each identifiable face's Embedding (for ossfaces people). false skips SFace, about 10 ms per face.",
    )
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS, gt=0, description="Local engine: photos with more pixels are refused before decoding."
    )
    log_level: str = Field("INFO", description="Python logging level of the function's logger.")

    access_key_id: str = Field(
        "",
        validation_alias=AliasChoices("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        description="Used when FC passes no context.credentials.",
    )
    access_key_secret: str = Field(
        "",
        validation_alias=AliasChoices("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        description="See ALIBABA_CLOUD_ACCESS_KEY_ID.",
        repr=False,
    )
    security_token: str = Field(
        "",
        validation_alias=AliasChoices("ALIBABA_CLOUD_SECURITY_TOKEN"),
        description="See ALIBABA_CLOUD_ACCESS_KEY_ID.",
        repr=False,
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **fields: Any) -> Settings:
        """Settings from the variables in ``environ`` only (never ``os.environ``); ``fields`` win over them."""
        with _reading(environ):
            return cls(**fields)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is not None:
            return (init_settings, _MappingEnvSource(settings_cls, environ))
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)

    @field_validator("image_suffixes", mode="before")
    @classmethod
    def _split_suffixes(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            return tuple(str(part).strip().lower() for part in value)
        return value

    @field_validator("result_suffix")
    @classmethod
    def _non_empty_suffix(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("result_suffix must not be empty: the result would overwrite the photo")
        return value

    def endpoint_for(self, region: str) -> str:
        """The OSS endpoint to use for a bucket in ``region``."""
        return self.oss_endpoint or f"https://oss-{region}-internal.aliyuncs.com"

    def imm_endpoint_for(self, region: str) -> str:
        """The IMM OpenAPI endpoint (with scheme) for a project in ``region``: the override, or IMM's regional rule."""
        endpoint = self.imm_endpoint or f"imm.{region}.aliyuncs.com"
        return endpoint if "://" in endpoint else f"https://{endpoint}"


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def env_names() -> dict[str, str]:
    """Environment variable name → description, for docs/deploy.md and the template parity test."""
    names: dict[str, str] = {}
    prefix = Settings.model_config.get("env_prefix", "")
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        names[str(env)] = field.description or ""
    return names


def markdown_table() -> str:
    """docs/deploy.md's configuration table, generated so it cannot drift from the settings (a test compares them)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for (env, description), field in zip(env_names().items(), Settings.model_fields.values(), strict=True):
        default = ",".join(field.default) if isinstance(field.default, tuple) else field.default
        shown = "(empty)" if default in ("", None) else f"`{default}`"
        rows.append(f"| `{env}` | {shown} | {description} |")
    return "\n".join(rows)
