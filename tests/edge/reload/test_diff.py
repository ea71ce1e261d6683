"""The plan of a reload: what applies live, what waits for a restart, what is refused, and
which links are left alone."""

from __future__ import annotations

from typing import Any

from edge.config import Config
from edge.reload.diff import plan_reload


def config(**changes: Any) -> Config:
    base: dict[str, Any] = {
        "site": "clinic",
        "edge_id": "edge-1",
        "beds": {"chair-1": {"label": "Chair 1"}, "chair-2": {}},
        "devices": [
            {"id": "monitor-1", "bed": "chair-1", "driver": "textline", "port": "/dev/ttyS10"},
            {"id": "monitor-2", "bed": "chair-2", "driver": "textline", "port": "/dev/ttyS11"},
        ],
    }
    return Config(**(base | changes))


def test_a_limit_change_is_listed_per_bed_with_before_and_after() -> None:
    new = config(alarms={"beds": {"chair-2": {"spo2_low": {"medium_below": 91}}}})
    plan = plan_reload(config(), new)
    assert not plan.refused
    assert [(c.bed, c.limit, c.before, c.after) for c in plan.changes.limits] == [
        ("chair-2", "spo2_low.medium_below", 90.0, 91.0)
    ]
    assert plan.stop == plan.start == ()  # no link touched
    assert plan.config.alarms.for_bed("chair-2").spo2_low.medium_below == 91


def test_devices_added_removed_and_changed_touch_only_their_links() -> None:
    running = config()
    devices = [
        {"id": "monitor-1", "bed": "chair-1", "driver": "textline", "port": "/dev/ttyS10"},
        {"id": "monitor-2", "bed": "chair-2", "driver": "textline", "port": "/dev/ttyS13"},
        {"id": "monitor-3", "bed": "chair-2", "driver": "textline", "port": "/dev/ttyS14"},
    ]
    plan = plan_reload(running, config(devices=devices))
    changes = plan.changes
    assert changes.devices_added == ("monitor-3",)
    assert changes.devices_removed == ()
    assert [(c.device_id, c.fields) for c in changes.devices_changed] == [("monitor-2", ("port",))]
    assert [[d.id for d in link] for link in plan.stop] == [["monitor-2"]]
    assert [[d.id for d in link] for link in plan.start] == [["monitor-2"], ["monitor-3"]]
    assert plan.removed == ()
    assert [d.id for d in plan.added] == ["monitor-2", "monitor-3"]

    removed = plan_reload(running, config(devices=devices[:1]))
    assert removed.changes.devices_removed == ("monitor-2",)
    assert removed.removed == ("monitor-2",)
    assert [[d.id for d in link] for link in removed.stop] == [["monitor-2"]]
    assert removed.start == ()


def test_mqtt_http_storage_and_labels_need_a_restart_and_keep_their_running_values() -> None:
    running = config()
    new = config(
        mqtt={"keepalive_s": 60},
        http={"port": 8081},
        storage={"max_messages": 1000},
        beds={"chair-1": {"label": "Window"}, "chair-2": {}},
        alarms={"spo2_low": {"medium_below": 89}},
    )
    plan = plan_reload(running, new)
    assert plan.changes.needs_restart == ("mqtt", "http", "storage", "beds.chair-1.label")
    assert plan.config.mqtt == running.mqtt
    assert plan.config.http == running.http
    assert plan.config.storage == running.storage
    assert plan.config.beds["chair-1"].label == "Chair 1"
    assert len(plan.changes.limits) == 2  # the rest still applies: both beds
    assert "needs a restart: mqtt" in plan.changes.summary()


def test_the_edge_identity_cannot_change_live() -> None:
    plan = plan_reload(config(), config(edge_id="edge-2"))
    assert [p.location for p in plan.refused] == ["edge_id"]


def test_orders_are_shown_without_the_weight() -> None:
    order = {
        "drug": "Ketamine",
        "concentration_mg_per_ml": 1.0,
        "dose_mg_per_kg": 0.5,
        "weight_kg": 72,
        "duration_min": 40,
    }
    plan = plan_reload(config(), config(beds={"chair-1": {"order": order}, "chair-2": {}}))
    (change,) = plan.changes.orders
    assert change.before is None
    assert change.after is not None
    assert change.after.rate_ml_per_h == 54.0
    assert "weight" not in change.model_dump_json()
    assert plan.changes.needs_restart == ("beds.chair-1.label",)


def test_visit_numbers_and_eui64s_change_live_without_a_value_in_the_audit_or_a_link() -> None:
    running = config(beds={"chair-1": {"label": "Chair 1", "visit_number": "V100"}, "chair-2": {}})
    devices = [
        {"id": "monitor-1", "bed": "chair-1", "driver": "textline", "port": "/dev/ttyS10"},
        {
            "id": "monitor-2",
            "bed": "chair-2",
            "driver": "textline",
            "port": "/dev/ttyS11",
            "eui64": "00112233445566FF",
        },
    ]
    new = config(
        beds={"chair-1": {"label": "Chair 1", "visit_number": "V200"}, "chair-2": {}},
        devices=devices,
    )
    plan = plan_reload(running, new)
    changes = plan.changes
    assert changes.visit_numbers_changed == ("chair-1",)
    assert changes.needs_restart == ()
    assert changes.applied_anything
    assert plan.config.visit_numbers() == {"chair-1": "V200"}  # taken, not kept as running
    assert plan.config.device_eui64s() == {"monitor-2": "00112233445566FF"}
    assert [(c.device_id, c.fields) for c in changes.devices_changed] == [("monitor-2", ("eui64",))]
    assert (plan.stop, plan.start, plan.added, plan.removed) == ((), (), (), ())  # no link reopened
    assert changes.summary() == [
        "device changed: monitor-2 (eui64)",
        "visit number changed: chair-1",
    ]
    audit = changes.model_dump_json()
    assert "V100" not in audit
    assert "V200" not in audit  # a patient identifier: never in the audit nor on MQTT
