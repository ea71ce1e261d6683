"""The configuration: one YAML file plus ``INFUSION_EDGE_...`` environment overrides.

Structure comes from pydantic models (unknown keys are errors). Cross-field rules (device ids
unique, beds declared, ports not shared unless the driver serves several devices per port, the
driver's own options) are checked after that. Every problem is reported with its location
(``devices[2].port``) and a hint; :class:`ConfigError` carries them all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from drivers.base import Driver
from drivers.errors import UnknownDriverError
from drivers.link import SerialSettings
from drivers.registry import driver_names, get_driver
from edge.alarms.limits import AlarmLimits
from edge.config_env import check_environment
from edge.config_errors import ConfigError, Problem, problems_from_validation
from edge.config_yaml import read_yaml
from edge.device_timing import default_stale_after, timing_problems
from edge.plausibility import RangeOverride, override_problems

__all__ = [
    "AcknowledgementsConfig",
    "BedConfig",
    "Config",
    "ConfigError",
    "ControlConfig",
    "DeviceConfig",
    "FhirConfig",
    "HistoryConfig",
    "Hl7Config",
    "HttpConfig",
    "InfusionOrder",
    "LogConfig",
    "MqttConfig",
    "Problem",
    "SerialConfig",
    "StorageConfig",
    "load_config",
    "port_key",
]

ENV_PREFIX = "INFUSION_EDGE_"
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
"""An id that is safe in an MQTT topic: letters, digits, ``_ . -``; no ``/ + #``."""
DashboardId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
"""A dashboard's id in signed acknowledgements: letters, digits, ``_ . @ -``."""

STANDARD_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogConfig(_Model):
    """Logging: ``keyvalue`` lines for people, ``json`` lines for log collectors."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["keyvalue", "json"] = "keyvalue"


class TlsConfig(_Model):
    """TLS to the broker; hostname verification is always on."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self


class MqttConfig(_Model):
    """The broker: ``mqtt://host:port`` or ``mqtts://host:port`` (TLS)."""

    url: str = Field("mqtt://127.0.0.1:1883", pattern=r"^mqtts?://[^/\s]+$")
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    protocol: Literal["5", "3.1.1"] = "5"
    topic_prefix: str = Field("infusion-edge/v1", pattern=r"^[^#+\s]+[^/#+\s]$")
    keepalive_s: int = Field(30, ge=5, le=3600)
    ack_timeout_s: float = Field(
        10.0, ge=0.5, le=600, description="s a publish may wait for its PUBACK: longer is a stall"
    )
    telemetry_expiry_s: int = Field(3600, ge=1, description="MQTT 5 message expiry of telemetry")
    alarm_refresh_s: float = Field(
        30.0,
        ge=2.0,
        le=3600,
        description="s between republishing the open alarms, digest, sessions and config",
    )
    tls: TlsConfig | None = None


class HistoryConfig(_Model):
    """The dashboard's own history of every bed it shows (README "Trends and session
    records"): readings sampled at most every ``sample_s`` (s; every NIBP cuff and every change
    of a pump's state or flags always), treatment sessions and alarms, in SQLite at ``path``
    (default: ``dashboard-history.sqlite`` beside the outbox), kept ``retention_h`` hours.
    ``notes``: a nurse may write one short free-text note on each session record (initials,
    a visit number); off by default, since what is typed there is kept as typed."""

    enabled: bool = True
    path: Path | None = None
    retention_h: float = Field(48.0, ge=24.0, le=24 * 366.0)
    sample_s: float = Field(5.0, ge=0.0, le=300.0)
    notes: bool = False


class HttpConfig(_Model):
    """The dashboard, API and /metrics listener.

    ``users`` may log in to the dashboard: a ``nurse`` may acknowledge alarms, a ``viewer`` may
    only look. Passwords are stored as Argon2 hashes (``infusion-edge hash-password``), never
    in clear. ``session_secret`` signs the login cookie (at least 32 characters; without it a
    random one is made at each start, which logs everybody out on a restart and cannot be
    shared by several dashboard processes). Values older than ``stale_after_s`` (continuous
    readings: pump, HR, SpO2, RR) or ``nibp_stale_after_s`` (a blood-pressure measurement) are
    marked stale on the dashboard. ``dashboard_id`` (default ``dashboard@{edge_id}``) and
    ``ack_secret`` (at least 32 characters, from ``infusion-edge ack-key``) sign the
    acknowledgements this dashboard sends; a standalone dashboard without ``ack_secret``
    cannot acknowledge, the one served by ``infusion-edge run`` makes a key at start.
    """

    class User(_Model):
        """A dashboard user: a login name (never a patient's), a role and an Argon2 hash."""

        name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
        role: Literal["nurse", "viewer"]
        password_hash: str = Field(
            pattern=r"^\$argon2(id|i|d)\$", description="from `infusion-edge hash-password`"
        )

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    users: tuple[User, ...] = ()
    session_secret: SecretStr | None = Field(None, min_length=32)
    session_max_age_s: int = Field(12 * 3600, ge=60, le=30 * 24 * 3600)
    secure_cookies: bool = Field(False, description="send the login cookie over HTTPS only")
    view_requires_login: bool = True
    stale_after_s: PositiveFloat = 30.0
    nibp_stale_after_s: PositiveFloat = 15 * 60.0
    dashboard_id: DashboardId | None = None
    ack_secret: SecretStr | None = Field(None, min_length=32)
    # Login throttling (README "Logins", edge/web/throttle.py): the window (s) failures are
    # counted in; failures of one name from one address (4x from all addresses) and from one
    # address before a lockout; the first lockout (s, doubled per lockout in a row) and its cap.
    login_window_s: float = Field(600.0, ge=1.0, le=24 * 3600.0)
    login_name_failures: int = Field(5, ge=1, le=1000)
    login_address_failures: int = Field(50, ge=1, le=10_000)
    login_lockout_s: float = Field(30.0, ge=0.1, le=3600.0)
    login_max_lockout_s: float = Field(900.0, ge=0.1, le=24 * 3600.0)
    # Connection limits (README "Connection limits"; edge/web/connections.py, streams.py).
    request_timeout_s: float = Field(5.0, gt=0, le=60, description="headers and body, s")
    keep_alive_s: int = Field(5, ge=1, le=300, description="idle between requests, s")
    max_connections: int = Field(512, ge=64, le=60_000)
    max_streams: int = Field(100, ge=1, description="open event streams, in total")
    max_streams_per_client: int = Field(8, ge=1, description="per login, or per address")
    stream_heartbeat_s: float = Field(5.0, gt=0, le=10, description="the page waits 15 s")
    history: HistoryConfig = HistoryConfig()

    @model_validator(mode="after")
    def _connections_for_short_requests(self) -> HttpConfig:
        if self.max_streams > self.max_connections - 32:
            raise ValueError(
                "max_streams must leave at least 32 of max_connections to short requests"
            )
        return self

    @field_validator("users")
    @classmethod
    def _unique_users(cls, users: tuple[User, ...]) -> tuple[User, ...]:
        names = [user.name for user in users]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate user names: {', '.join(duplicates)}")
        return users


class AcknowledgementsConfig(_Model):
    """The dashboards whose acknowledgements this edge accepts: id -> shared ``secret`` (at
    least 32 characters, from ``infusion-edge ack-key``). A command is refused when its ``at``
    is more than ``window_s`` (s) from the edge's clock. The edge's own dashboard (``http``)
    is trusted without being listed."""

    class Dashboard(_Model):
        """One trusted dashboard's HMAC-SHA256 key."""

        secret: SecretStr = Field(min_length=32)

    window_s: float = Field(30.0, ge=1.0, le=600.0)
    dashboards: dict[DashboardId, Dashboard] = Field(default_factory=dict)


class StorageConfig(_Model):
    """The outbox, bounded by message count and age (s; the oldest telemetry goes first), and
    the alarm log, which keeps every alarm transition."""

    outbox_path: Path = Path("var/outbox.sqlite")
    alarm_log_path: Path = Path("var/alarm-log.sqlite")
    max_messages: int = Field(200_000, ge=100)
    max_age_s: PositiveFloat = 7 * 24 * 3600.0
    # Storage faults (README "Storage faults"): messages kept in memory while the outbox's disk
    # refuses writes, s between retries of a faulted store, s a corrupt file moved aside
    # keeps storage_fault raised.
    memory_max_messages: int = Field(10_000, ge=100)
    retry_s: float = Field(5.0, ge=1.0, le=60.0)
    corrupt_notice_s: float = Field(300.0, ge=0.0)


UNIX_SOCKET_PATH_MAX = 107  # bytes of a Unix socket's path (sun_path, with its NUL)


class ControlConfig(_Model):
    """The control socket ``infusion-edge reload`` talks to: a Unix socket (mode 0660) at
    ``socket``; by default ``control.sock`` in the service's runtime directory
    (``$RUNTIME_DIRECTORY``, set by systemd's ``RuntimeDirectory=``), else
    ``var/run/control.sock``. ``enabled: false``: no socket (SIGHUP still reloads)."""

    enabled: bool = True
    socket: Path | None = None

    @field_validator("socket")
    @classmethod
    def _fits(cls, value: Path | None) -> Path | None:
        if value is not None and len(os.fsencode(value)) > UNIX_SOCKET_PATH_MAX:
            raise ValueError(
                f"a Unix socket path has at most {UNIX_SOCKET_PATH_MAX} bytes: use a shorter one"
            )
        return value

    def socket_path(self, environ: Mapping[str, str]) -> Path:
        """Where the socket is: ``socket``, else in the runtime directory."""
        if self.socket is not None:
            return self.socket
        runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        return Path(runtime, "control.sock") if runtime else Path("var/run/control.sock")


Hl7Text = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")]
"""A name in an HL7 field: letters, digits, space, ``_ . -`` (no HL7 delimiters)."""
Eui64 = Annotated[str, Field(pattern=r"^[0-9A-F]{16}$")]
"""An IEEE EUI-64: 16 upper-case hex digits."""


class Hl7Config(_Model):
    """The HL7 v2 output (IHE PCD-01 observations, PCD-04 alarms) to ``url``:
    ``mllp://host:port`` or ``mllps://host:port`` (TLS, with ``tls`` for the CA or a client
    certificate). ``observations``: ``charted`` rows (every ``chart_interval_s`` during
    infusion and observation, plus every NIBP cuff), ``every_reading``, or ``none``; ``alarms``
    sends every alarm transition. Messages wait in ``queue_path`` (SQLite) until the receiver
    accepts them (AA/CA); refused ones (AE/AR) are kept there, up to ``max_refused``.
    ``eui64`` identifies this edge in MSH-3; MSH-4 is ``sending_facility`` (default: the
    site); PV1-3 is ``point_of_care^^bed``."""

    url: str = Field(pattern=r"^mllps?://[^/\s]+:[0-9]{1,5}$")
    tls: TlsConfig | None = None
    sending_application: Hl7Text = "INFUSION-EDGE"
    eui64: Eui64 | None = None
    sending_facility: Hl7Text | None = None
    receiving_application: Hl7Text | None = None
    receiving_facility: Hl7Text | None = None
    point_of_care: Hl7Text | None = None
    patient_class: Literal["O", "I", "E"] = "O"
    assigning_authority: Hl7Text | None = Field(None, description="of the beds' visit numbers")
    observations: Literal["charted", "every_reading", "none"] = "charted"
    chart_interval_s: float = Field(300.0, ge=10.0, le=86_400.0)
    alarms: bool = True
    ack_timeout_s: float = Field(15.0, ge=0.5, le=300.0, description="s to wait for an ACK")
    connect_timeout_s: float = Field(10.0, ge=0.5, le=300.0)
    queue_path: Path = Path("var/hl7-queue.sqlite")
    max_messages: int = Field(100_000, ge=100)
    max_refused: int = Field(10_000, ge=10)

    @model_validator(mode="after")
    def _tls_with_mllps(self) -> Hl7Config:
        if self.tls is not None and not self.url.startswith("mllps://"):
            raise ValueError("tls is for an mllps:// url: use mllps://host:port or drop tls")
        return self


class FhirConfig(_Model):
    """The FHIR R4 output: transaction Bundles POSTed to ``base_url`` (``https://...`` or, on
    a trusted network, ``http://...``), with a ``bearer_token`` or a ``username`` and
    ``password`` (basic auth), or neither. ``observations``/``chart_interval_s``/``alarms``
    as for ``hl7``. Bundles wait in ``queue_path`` until the server answers 2xx; a 4xx other
    than 408/429 is a refusal, kept in the queue's ``refused`` table. ``ca_file`` trusts a
    private CA. ``visit_system`` is the identifier system of the beds' visit numbers (default
    ``urn:infusion-edge:{site}:visit``)."""

    base_url: str = Field(pattern=r"^https?://[^\s]+[^/\s]$")
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    visit_system: str | None = Field(None, pattern=r"^\S+$")
    observations: Literal["charted", "every_reading", "none"] = "charted"
    chart_interval_s: float = Field(300.0, ge=10.0, le=86_400.0)
    alarms: bool = True
    timeout_s: float = Field(15.0, ge=0.5, le=300.0, description="s to wait for an answer")
    queue_path: Path = Path("var/fhir-queue.sqlite")
    max_messages: int = Field(100_000, ge=100)
    max_refused: int = Field(10_000, ge=10)

    @model_validator(mode="after")
    def _one_auth(self) -> FhirConfig:
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("give bearer_token or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        return self


class SerialConfig(_Model):
    """RS-232 settings; unset fields take the driver's defaults."""

    baudrate: int | None = None
    bytesize: Literal[5, 6, 7, 8] | None = None
    parity: Literal["N", "E", "O", "M", "S"] | None = None
    stopbits: float | None = None  # 1, 1.5 or 2
    rtscts: bool | None = None
    xonxoff: bool | None = None

    @field_validator("baudrate")
    @classmethod
    def _standard_baudrate(cls, value: int | None) -> int | None:
        if value is not None and value not in STANDARD_BAUDRATES:
            rates = ", ".join(map(str, STANDARD_BAUDRATES))
            raise ValueError(f"{value} is not a serial baud rate (one of {rates})")
        return value

    @model_validator(mode="after")
    def _possible(self) -> SerialConfig:
        if self.rtscts and self.xonxoff:
            raise ValueError("choose one flow control: rtscts (hardware) or xonxoff (software)")
        if self.stopbits is not None and self.stopbits not in (1, 1.5, 2):
            raise ValueError(f"stopbits must be 1, 1.5 or 2, not {self.stopbits:g}")
        if self.stopbits == 1.5 and self.bytesize not in (None, 5):
            raise ValueError("1.5 stop bits exist only with 5 data bits")
        return self

    def resolve(self, defaults: SerialSettings) -> SerialSettings:
        """These settings over the driver's ``defaults``."""
        given = self.model_dump(exclude_none=True)
        fields = {
            name: given.get(name, getattr(defaults, name)) for name in SerialSettings.__slots__
        }
        return SerialSettings(**fields)


class DeviceConfig(_Model):
    """One device: where it is plugged in, what it speaks, and which bed it serves.

    ``address`` selects the device on a port shared by several (a pump's slot in a rack).
    ``period_s`` is the expected interval between readings (default: the driver's, or the one
    its options set, such as a poll period); the device is ``stale`` after ``stale_after_s``
    of silence (default 3 periods, see :func:`~edge.device_timing.default_stale_after`) and
    ``offline`` after ``timeout_s``, which must span the driver's floor
    (:meth:`~drivers.base.Driver.min_timeout_for`).
    """

    id: Name
    bed: Name
    driver: str
    port: str = Field(min_length=1)
    address: str | None = None
    serial: SerialConfig = SerialConfig()
    options: dict[str, Any] = Field(default_factory=dict)
    period_s: PositiveFloat | None = None
    stale_after_s: PositiveFloat | None = None
    timeout_s: PositiveFloat = 10.0
    eui64: Eui64 | None = Field(None, description="equipment id in HL7 OBX-18")

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in driver_names():
            raise ValueError(f"unknown driver {value!r} (known: {', '.join(driver_names())})")
        return value

    @model_validator(mode="after")
    def _timeouts(self) -> DeviceConfig:
        if self.stale_after_s is not None and self.stale_after_s >= self.timeout_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g}) must be below timeout_s "
                f"({self.timeout_s:g}): a device goes stale before it goes offline"
            )
        return self

    def expected_period(self, driver: Driver) -> float:
        """Seconds between readings: the configured period, else the driver's with this
        device's options (a BCC ``poll_period_s``)."""
        if self.period_s is not None:
            return self.period_s
        try:
            return driver.period_for(driver.options.model_validate(self.options))
        except ValidationError:
            return driver.period_s  # reported by config check

    def stale_after(self, driver: Driver) -> float:
        """Seconds of silence after which the device is marked ``stale``."""
        if self.stale_after_s is not None:
            return self.stale_after_s
        return default_stale_after(self.expected_period(driver), self.timeout_s)


class InfusionOrder(_Model):
    """The bed's infusion order; implies a programmed rate in mL/h."""

    drug: str = Field(min_length=1, max_length=64)
    concentration_mg_per_ml: PositiveFloat
    dose_mg_per_kg: PositiveFloat
    weight_kg: float = Field(gt=0.25, le=350)
    duration_min: PositiveFloat

    def rate_ml_per_h(self) -> float:
        """dose x weight / concentration / duration, in mL/h."""
        volume_ml = self.dose_mg_per_kg * self.weight_kg / self.concentration_mg_per_ml
        return volume_ml / (self.duration_min / 60.0)


class BedConfig(_Model):
    """A bed (a treatment chair): a display label and an optional infusion order."""

    label: str | None = Field(None, max_length=64)
    order: InfusionOrder | None = None
    visit_number: Hl7Text | None = Field(
        None, description="the current patient's visit number, for HL7 only (PID-3, PV1-19)"
    )


class AlarmsConfig(AlarmLimits):
    """The site's alarm limits and per-bed overrides (any subset of the site's keys)."""

    beds: dict[str, AlarmLimits] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_bed_overrides(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("beds"), dict):
            return data
        site = {key: value for key, value in data.items() if key != "beds"}
        merged = {
            bed: _deep_merge(site, override) if isinstance(override, dict) else override
            for bed, override in data["beds"].items()
        }
        return {**data, "beds": merged}

    def for_bed(self, bed: str) -> AlarmLimits:
        """The limits in force for ``bed``."""
        return self.beds.get(bed, self)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class Config(BaseSettings):
    """The whole configuration of one edge."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    site: Name
    edge_id: Name
    log: LogConfig = LogConfig()
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    storage: StorageConfig = StorageConfig()
    acknowledgements: AcknowledgementsConfig = AcknowledgementsConfig()
    control: ControlConfig = ControlConfig()
    beds: dict[Name, BedConfig] = Field(default_factory=dict)
    devices: list[DeviceConfig] = Field(default_factory=list)
    alarms: AlarmsConfig = AlarmsConfig()
    hl7: Hl7Config | None = None
    fhir: FhirConfig | None = None
    plausibility: dict[str, RangeOverride] = Field(
        default_factory=dict, description="observation code -> {min, max} in its unit"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over the YAML file (passed as init values); no .env, no secrets dir."""
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        problems = _cross_problems(list(enumerate(self.devices)), self.beds, self.alarms.beds)
        problems += override_problems(self.plausibility)
        if problems:
            raise ConfigError(problems)  # not a ValueError: passes through pydantic whole
        return self

    @property
    def dashboard_id(self) -> str:
        """The id this process's dashboard signs acknowledgements with."""
        return self.http.dashboard_id or f"dashboard@{self.edge_id}"[:64]

    def visit_numbers(self) -> dict[str, str]:
        """Each bed's visit number (HL7 PID-3, FHIR Encounter), for the beds that have one."""
        return {bed: b.visit_number for bed, b in self.beds.items() if b.visit_number}

    def device_eui64s(self) -> dict[str, str]:
        """Each device's EUI-64 (its equipment id in HL7 and FHIR), for those that have one."""
        return {device.id: device.eui64 for device in self.devices if device.eui64}

    def links(self) -> list[list[DeviceConfig]]:
        """The devices grouped by port (one group per link), in config order."""
        by_port: dict[str, list[DeviceConfig]] = {}
        for device in self.devices:
            by_port.setdefault(port_key(device.port), []).append(device)
        return list(by_port.values())

    def driver_for(self, device: DeviceConfig) -> Driver:
        """The registered driver of ``device``."""
        return get_driver(device.driver)


Devices = list[tuple[int, DeviceConfig]]
"""Devices with their index in the config's list, for error locations."""


def _cross_problems(
    devices: Devices, beds: Collection[str], alarm_beds: Collection[str]
) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicate_ids(devices)
    for index, device in devices:
        if device.bed not in beds:
            declared = ", ".join(beds) or "none"
            problems.append(
                Problem(
                    f"devices[{index}].bed",
                    f"bed {device.bed!r} is not declared under beds (declared: {declared})",
                    f"add `{device.bed}: {{}}` under beds, or fix the device's bed",
                )
            )
        problems += _driver_problems(index, device)
    problems += _shared_ports(devices)
    for bed in alarm_beds:
        if bed not in beds:
            problems.append(
                Problem(
                    f"alarms.beds.{bed}",
                    f"alarm overrides for bed {bed!r}, which is not declared under beds",
                    "declare the bed, or remove its overrides",
                )
            )
    return problems


def _salvaged_cross_problems(data: dict[str, Any]) -> list[Problem]:
    """Cross-field problems among the parts of a structurally broken config that are valid on
    their own, so that one run reports every error."""
    raw_devices = data.get("devices")
    devices: Devices = []
    for index, raw in enumerate(raw_devices if isinstance(raw_devices, list) else []):
        try:
            devices.append((index, DeviceConfig.model_validate(raw)))
        except ValidationError:
            continue
    beds = data.get("beds")
    alarms = data.get("alarms")
    alarm_beds = alarms.get("beds") if isinstance(alarms, dict) else None
    return _cross_problems(
        devices,
        list(beds) if isinstance(beds, dict) else [],
        list(alarm_beds) if isinstance(alarm_beds, dict) else [],
    ) + _salvaged_plausibility(data.get("plausibility"))


def _salvaged_plausibility(raw: Any) -> list[Problem]:
    overrides = {}
    for code, override in (raw if isinstance(raw, dict) else {}).items():
        try:
            overrides[str(code)] = RangeOverride.model_validate(override)
        except ValidationError:
            continue
    return override_problems(overrides)


def _duplicate_ids(devices: Devices) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for index, device in devices:
        if device.id in first:
            problems.append(
                Problem(
                    f"devices[{index}].id",
                    f"duplicate device id {device.id!r} (first at devices[{first[device.id]}])",
                    "every device needs its own id",
                )
            )
        first.setdefault(device.id, index)
    return problems


def _driver_problems(index: int, device: DeviceConfig) -> list[Problem]:
    """The device's options and address, as its driver wants them, and its silence times
    against the driver's reporting period."""
    try:
        driver = get_driver(device.driver)
    except UnknownDriverError:
        return []  # reported by the field validator
    problems = []
    where = f"devices[{index}].address"
    pattern, address = driver.address_pattern, device.address
    if pattern is None and address is not None:
        problems.append(
            Problem(where, f"driver {driver.name!r} does not use addresses", "remove address")
        )
    elif pattern is not None and (address is None or re.fullmatch(pattern, address) is None):
        what = "needs an address" if address is None else f"cannot use address {address!r}"
        problems.append(Problem(where, f"driver {driver.name!r} {what}", driver.address_hint))
    try:
        options = driver.options.model_validate(device.options)
    except ValidationError as exc:
        return problems + problems_from_validation(exc, prefix=f"devices[{index}].options")
    return problems + timing_problems(
        f"devices[{index}]",
        driver,
        options,
        timeout_s=device.timeout_s,
        stale_after_s=device.stale_after_s,
        period_s=device.period_s,
    )


def port_key(port: str) -> str:
    """The identity of a port: device paths resolved through symlinks (by-id names), URLs as
    written."""
    return port if "://" in port else os.path.realpath(port)


def _shared_ports(devices: Devices) -> list[Problem]:
    by_port: dict[str, Devices] = {}
    for index, device in devices:
        by_port.setdefault(port_key(device.port), []).append((index, device))
    problems: list[Problem] = []
    for group in by_port.values():
        if len(group) > 1:
            problems += _check_shared_port(group)
    return problems


def _check_shared_port(group: Devices) -> list[Problem]:
    first_index, first = group[0]
    driver = get_driver(first.driver)
    problems = []
    for index, device in group[1:]:
        where = f"devices[{index}].port"
        if device.driver != first.driver:
            problems.append(
                Problem(
                    where,
                    f"port {device.port!r} is also used by {first.id!r} (devices[{first_index}]) "
                    f"with driver {first.driver!r}",
                    "devices on one port must speak one protocol",
                )
            )
        elif driver.max_devices_per_port == 1:
            problems.append(
                Problem(
                    where,
                    f"port {device.port!r} is also used by {first.id!r} (devices[{first_index}]); "
                    f"driver {driver.name!r} serves one device per port",
                    "give each device its own port",
                )
            )
    if driver.max_devices_per_port > 1:
        problems += _check_addresses(group, driver)
    return problems


def _check_addresses(group: Devices, driver: Driver) -> list[Problem]:
    problems = []
    if len(group) > driver.max_devices_per_port:
        index = group[driver.max_devices_per_port][0]
        problems.append(
            Problem(
                f"devices[{index}].port",
                f"driver {driver.name!r} serves at most {driver.max_devices_per_port} devices "
                "on one port",
                "split the devices over several ports",
            )
        )
    seen: dict[str, str] = {}
    for index, device in group:
        if device.address is None:
            problems.append(
                Problem(
                    f"devices[{index}].address",
                    f"{device.id!r} shares port {device.port!r} but has no address",
                    "set address to the device's slot on the port (a rack slot such as '11')",
                )
            )
        elif device.address in seen:
            problems.append(
                Problem(
                    f"devices[{index}].address",
                    f"address {device.address!r} on port {device.port!r} is also "
                    f"{seen[device.address]!r}",
                    "each device on a shared port needs its own address",
                )
            )
        else:
            seen[device.address] = device.id
    return problems


def load_config(path: str | Path) -> Config:
    """Load and check ``path`` with ``INFUSION_EDGE_...`` environment overrides.

    Raises :class:`ConfigError` with every problem found, each located.
    """
    data = read_yaml(Path(path))
    env = check_environment(os.environ, Config, ENV_PREFIX)
    problems = list(env.problems)
    try:
        config = Config(**data)
    except ValidationError as exc:
        problems += env.attribute(problems_from_validation(exc, model=Config))
        problems += [p for p in _salvaged_cross_problems(data) if p not in problems]
    except ConfigError as exc:  # the cross-field checks
        problems += exc.problems
    except SettingsError as exc:  # a list or mapping from the environment that is not JSON
        if not env.problems:  # not already reported by the variable's name
            problems.append(Problem("environment", str(exc), f"check the {ENV_PREFIX}* variables"))
    if problems:
        raise ConfigError(problems)
    return config
