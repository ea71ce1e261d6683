"""What a reload changed, as the audit stores it and ``config-log`` publishes it.

Plain frozen models, no config logic (that is :mod:`edge.reload.diff`). Limits are named by
their path in :class:`~edge.alarms.limits.AlarmLimits` (``spo2_low.medium_below``), in the
rule's unit (%, mmHg, /min, s). Orders are shown without the patient's weight; no patient
identifier (a bed's visit number) is ever part of a change: a changed visit number is listed
by its bed alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from edge.alarms.models import OrderSummary

__all__ = [
    "NO_LINK_FIELDS",
    "ChangedBy",
    "ConfigChangeRecord",
    "ConfigChanges",
    "DeviceChange",
    "LimitChange",
    "OrderChange",
]

NO_LINK_FIELDS = ("eui64",)  # device settings that change without reopening its link

LimitValue = float | str | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitChange(_Frozen):
    """One alarm limit of one bed, before and after."""

    bed: str
    limit: str = Field(description="path in the alarm limits, e.g. spo2_low.medium_below")
    before: LimitValue
    after: LimitValue


class OrderChange(_Frozen):
    """A bed's infusion order, before and after (``None``: no order)."""

    bed: str
    before: OrderSummary | None
    after: OrderSummary | None


class DeviceChange(_Frozen):
    """A device whose settings changed (its link is reopened): the changed fields."""

    device_id: str
    bed: str
    fields: tuple[str, ...]


class ConfigChanges(_Frozen):
    """Everything a reload changed. ``needs_restart``: settings that changed in the file but
    stay as they were until the daemon restarts (``mqtt``, ``http``, ``storage``...)."""

    limits: tuple[LimitChange, ...] = ()
    orders: tuple[OrderChange, ...] = ()
    beds_added: tuple[str, ...] = ()
    beds_removed: tuple[str, ...] = ()
    devices_added: tuple[str, ...] = ()
    devices_removed: tuple[str, ...] = ()
    devices_changed: tuple[DeviceChange, ...] = ()
    visit_numbers_changed: tuple[str, ...] = Field(
        default=(),
        description="beds whose visit number changed (the numbers are never written here)",
    )
    needs_restart: tuple[str, ...] = ()

    @property
    def applied_anything(self) -> bool:
        """Whether something took effect at once."""
        return any(
            (
                self.limits,
                self.orders,
                self.beds_added,
                self.beds_removed,
                self.devices_added,
                self.devices_removed,
                self.devices_changed,
                self.visit_numbers_changed,
            )
        )

    def summary(self) -> list[str]:
        """One readable line per change, for the command line and the log."""
        lines = [f"limit {c.bed} {c.limit}: {c.before} -> {c.after}" for c in self.limits]
        lines += [f"order {c.bed}: {_order(c.before)} -> {_order(c.after)}" for c in self.orders]
        lines += [f"bed added: {bed}" for bed in self.beds_added]
        lines += [f"bed removed: {bed}" for bed in self.beds_removed]
        lines += [f"device added: {device}" for device in self.devices_added]
        lines += [f"device removed: {device}" for device in self.devices_removed]
        lines += [
            f"device changed: {c.device_id} ({', '.join(c.fields)}"
            + (")" if set(c.fields) <= set(NO_LINK_FIELDS) else "; link reopened)")
            for c in self.devices_changed
        ]
        lines += [f"visit number changed: {bed}" for bed in self.visit_numbers_changed]
        lines += [f"needs a restart: {setting}" for setting in self.needs_restart]
        return lines


def _order(order: OrderSummary | None) -> str:
    return "none" if order is None else f"{order.drug} {order.rate_ml_per_h:g} mL/h"


class ChangedBy(_Frozen):
    """Who asked for the reload: the OS user of ``infusion-edge reload`` (from the control
    socket's peer credentials), or a signal (SIGHUP, ``systemctl reload``)."""

    means: Literal["control-socket", "signal"]
    user: str | None = Field(None, description="the OS user; None for a signal")
    uid: int | None = None


class ConfigChangeRecord(_Frozen):
    """One applied reload: when, by whom, the file's hash before and after, and the diff."""

    at: AwareDatetime
    by: ChangedBy
    config_hash: str = Field(description="SHA-256 of the config file, hex")
    previous_hash: str
    changes: ConfigChanges
