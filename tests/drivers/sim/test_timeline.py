"""Timeline values at chosen times: tracks, noise, NIBP, pumps under faults, shipped stories."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.sim.faults import Disconnect, Occlusion, Silence
from drivers.sim.scenario import Change, Track, load_scenario, parse_scenario
from drivers.sim.timeline import Timeline, noise, track_level

SCENARIOS = Path(__file__).resolve().parents[3] / "config" / "scenarios"
MIN = 60.0


def shipped(name: str, seed: int | None = None) -> Timeline:
    return Timeline(load_scenario(SCENARIOS / f"{name}.yaml"), seed)


def flat_vitals(**tracks: Any) -> dict[str, Any]:
    vitals: dict[str, Any] = {
        "hr": {"baseline": 72},
        "spo2": {"baseline": 98},
        "rr": {"baseline": 14},
        "sbp": {"baseline": 120},
        "dbp": {"baseline": 80},
    }
    vitals.update(tracks)
    return vitals


def timeline(
    program: list[dict[str, Any]] | None = None,
    faults: list[dict[str, Any]] | None = None,
    duration_min: float = 120,
    **pump: Any,
) -> Timeline:
    data = {
        "name": "t",
        "description": "test",
        "duration_min": duration_min,
        "vitals": flat_vitals(),
        "pumps": [{"slot": "11", "program": program or [], **pump}],
        "faults": faults or [],
    }
    return Timeline(parse_scenario(yaml.safe_dump(data)))


# -- vital signs -----------------------------------------------------------------------------


def test_steps_and_ramps() -> None:
    track = Track(
        baseline=100,
        changes=(
            Change(at_min=10, until_min=20, by=20),  # 100 -> 120
            Change(at_min=30, to=90),  # step
            Change(at_min=40, until_min=50, by=0),  # ramp back to the baseline
        ),
    )
    expected = {0: 100, 10: 100, 15: 110, 20: 120, 29.9: 120, 30: 90, 45: 95, 50: 100, 999: 100}
    for minute, value in expected.items():
        assert track_level(track, minute * MIN) == pytest.approx(value), minute


def test_noise_is_a_pure_function_of_seed_name_and_index() -> None:
    assert noise(1, "hr", 5) == noise(1, "hr", 5)
    assert len({noise(1, "hr", 5), noise(2, "hr", 5), noise(1, "rr", 5), noise(1, "hr", 6)}) == 4
    draws = [noise(0, "x", index) for index in range(2000)]
    assert abs(statistics.mean(draws)) < 0.1
    assert statistics.stdev(draws) == pytest.approx(1.0, abs=0.1)


def test_vitals_are_repeatable_and_redrawn_each_second() -> None:
    first, again, other = shipped("normal-ketamine"), shipped("normal-ketamine"), None
    times = [t * 0.5 for t in range(600)]
    assert [first.vitals(t) for t in times] == [again.vitals(t) for t in times]
    assert first.vitals(100.2) == first.vitals(100.9)  # same second, same draw
    other = shipped("normal-ketamine", seed=99)
    assert [first.vitals(t) for t in times] != [other.vitals(t) for t in times]


def test_vitals_are_whole_and_clamped() -> None:
    data = yaml.safe_load(yaml.safe_dump({"name": "t", "description": "d", "duration_min": 10}))
    data["vitals"] = flat_vitals(spo2={"baseline": 99.6, "noise_sd": 5})
    line = Timeline(parse_scenario(yaml.safe_dump(data)))
    values = [line.vitals(float(second)) for second in range(300)]
    assert all(v is not None and 50 <= v.spo2 <= 100 for v in values)
    assert max(v.spo2 for v in values if v is not None) == 100


def test_nibp_is_intermittent() -> None:
    data = {"name": "t", "description": "d", "duration_min": 30}
    data["vitals"] = flat_vitals(
        sbp={"baseline": 120, "changes": [{"at_min": 0, "until_min": 30, "by": 30}]},
        nibp_interval_s=300,
        nibp_first_s=60,
    )
    line = Timeline(parse_scenario(yaml.safe_dump(data)))
    assert line.nibp(59.9) is None
    first = line.nibp(60)
    assert first is not None
    assert first.measured_at_s == 60
    assert first.systolic == 121
    assert line.nibp(359.9) == first
    later = line.nibp(1000)
    assert later is not None
    assert later.measured_at_s == 960
    assert later.systolic == 136
    assert (later.diastolic, later.mean) == (80, round((136 + 160) / 3))


def test_normal_ketamine_blood_pressure() -> None:
    line = shipped("normal-ketamine")
    vitals = line.scenario.vitals
    assert vitals is not None
    # noise-free: +16/+11 at the end of the infusion (scenario minute 45, infusion minute 40)
    assert track_level(vitals.sbp, 45 * MIN) - vitals.sbp.baseline == 16
    assert track_level(vitals.dbp, 45 * MIN) - vitals.dbp.baseline == 11
    cuffs = [line.nibp(minute * MIN) for minute in range(0, 111, 3)]
    readings = [(n.measured_at_s / MIN, n.systolic, n.diastolic) for n in cuffs if n]
    peak_minute = max(readings, key=lambda r: r[1] + r[2])[0]
    assert 39 <= peak_minute <= 51
    near_peak = [r for r in readings if 42 <= r[0] <= 48]
    assert statistics.mean(r[1] for r in near_peak) - 122 == pytest.approx(16, abs=4)
    assert statistics.mean(r[2] for r in near_peak) - 78 == pytest.approx(11, abs=3)
    after = [r for r in readings if r[0] >= 102]
    assert all(abs(r[1] - 122) <= 6 and abs(r[2] - 78) <= 5 for r in after)


def test_hypertensive_responder_passes_180_110_on_consecutive_readings() -> None:
    line = shipped("hypertensive-responder")
    high = [
        n.measured_at_s / MIN
        for minute in range(0, 111, 3)
        if (n := line.nibp(minute * MIN)) and n.systolic >= 180 and n.diastolic >= 110
    ]
    assert len(high) >= 2
    assert high[1] - high[0] <= 5
    assert 35 <= high[0] <= 42


# -- pumps -----------------------------------------------------------------------------------


def test_normal_ketamine_pump() -> None:
    line = shipped("normal-ketamine")
    before = line.pump("11", 4 * MIN)
    assert (before.mode, before.running, before.infused_ml) == ("stopped", False, 0)
    mid = line.pump("11", 25 * MIN)
    assert (mid.mode, mid.rate_ml_h, mid.delivered_ml_h) == ("infusing", 52.5, 52.5)
    assert mid.infused_ml == pytest.approx(17.5)  # 20 min at 52.5 mL/h
    assert (mid.drug, mid.concentration_mg_ml, mid.vtbi_ml) == ("Ketamine", 1.0, 35)
    assert line.pump("11", 42.1 * MIN).near_end
    assert not line.pump("11", 41.9 * MIN).near_end
    assert line.pump("11", 44.99 * MIN).mode == "infusing"
    end = line.pump("11", 45 * MIN)  # the nurse stops it as the 35 mL are in: no end of volume
    assert (end.mode, end.running, end.kvo, end.end_of_volume) == ("stopped", False, False, False)
    assert end.infused_ml == pytest.approx(35)
    assert line.pump("11", 60 * MIN).infused_ml == pytest.approx(35)


def test_ten_times_too_fast() -> None:
    line = shipped("pump-ten-times-too-fast")
    assert line.pump("11", 7 * MIN).rate_ml_h == 525
    assert line.pump("11", 7 * MIN).infused_ml == pytest.approx(17.5)
    assert line.pump("11", 9 * MIN).end_of_volume  # 35 mL in 4 min
    assert line.pump("11", 8.99 * MIN).mode == "infusing"


def test_rate_drift_integrates_the_delivered_rate() -> None:
    line = shipped("pump-under-delivering")
    pump = line.pump("11", 35 * MIN)
    assert pump.rate_ml_h == 52.5
    assert pump.delivered_ml_h == pytest.approx(36.75)
    assert pump.infused_ml == pytest.approx(36.75 / 2)  # 30 min at 36.75 mL/h
    end_min = 5 + 35 / 36.75 * 60
    assert line.pump("11", (end_min - 0.01) * MIN).mode == "infusing"
    assert line.pump("11", (end_min + 0.01) * MIN).end_of_volume


def test_stall_then_occlusion_then_resume() -> None:
    line = shipped("occlusion")
    at_kink = line.pump("11", 20 * MIN).infused_ml
    assert at_kink == pytest.approx(52.5 * 15 / 60)
    stalled = line.pump("11", 21 * MIN)
    assert (stalled.running, stalled.mode, stalled.occlusion) == (True, "infusing", False)
    assert stalled.infused_ml == pytest.approx(at_kink)
    assert stalled.delivered_ml_h == 0
    occluded = line.pump("11", 22 * MIN)
    assert (occluded.running, occluded.occlusion, occluded.pressure_pct) == (False, True, 100)
    assert occluded.infused_ml == pytest.approx(at_kink)
    resumed = line.pump("11", 25 * MIN)
    assert (resumed.running, resumed.occlusion) == (True, False)
    assert resumed.infused_ml == pytest.approx(at_kink + 52.5 * 1.5 / 60)
    assert line.pump("11", 48.45 * MIN).mode == "infusing"
    assert line.pump("11", 48.55 * MIN).end_of_volume  # 3.5 min lost


def test_end_of_volume_fault_is_kvo_then_the_program_resumes() -> None:
    line = timeline(
        [{"at_min": 0, "action": "start", "rate_ml_h": 60, "vtbi_ml": 100}],
        [{"kind": "end_of_volume", "at_min": 10, "duration_s": 300}],
        kvo_rate_ml_h=3,
    )
    during = line.pump("11", 12 * MIN)
    assert (during.kvo, during.end_of_volume, during.rate_ml_h, during.running) == (
        True,
        True,
        3,
        True,
    )
    assert during.infused_ml == pytest.approx(10 + 0.1)
    after = line.pump("11", 20 * MIN)
    assert (after.mode, after.kvo, after.end_of_volume) == ("infusing", False, False)
    assert after.infused_ml == pytest.approx(10 + 0.25 + 5)


def test_air_in_line_halts() -> None:
    line = timeline(
        [{"at_min": 0, "action": "start", "rate_ml_h": 60}],
        [{"kind": "air_in_line", "at_min": 10, "duration_s": 60}],
    )
    halted = line.pump("11", 10.5 * MIN)
    assert (halted.air_in_line, halted.running, halted.infused_ml) == (True, False, 10)
    assert line.pump("11", 12 * MIN).infused_ml == pytest.approx(11)


def test_bolus_counts_and_resumes() -> None:
    line = timeline(
        [
            {"at_min": 0, "action": "start", "rate_ml_h": 60, "vtbi_ml": 50},
            {"at_min": 10, "action": "bolus", "volume_ml": 2, "rate_ml_h": 1200},
        ]
    )
    during = line.pump("11", 10 * MIN + 3)
    assert (during.bolus, during.mode, during.delivered_ml_h) == (True, "bolus", 1200)
    after = line.pump("11", 10 * MIN + 6.5)
    assert (after.bolus, after.mode) == (False, "infusing")
    assert line.pump("11", 20 * MIN).infused_ml == pytest.approx(10 + 2 + 10 - 0.1)


def test_rate_change_keeps_volume_and_new_start_resets_it() -> None:
    line = timeline(
        [
            {"at_min": 0, "action": "start", "rate_ml_h": 60, "vtbi_ml": 30},
            {"at_min": 10, "action": "rate", "rate_ml_h": 120},
            {"at_min": 30, "action": "start", "rate_ml_h": 30},
        ],
        kvo_rate_ml_h=0,
    )
    assert line.pump("11", 15 * MIN).infused_ml == pytest.approx(20)
    done = line.pump("11", 25 * MIN)  # 10 + 20 mL at minute 20: end, KVO rate 0 -> stopped
    assert (done.mode, done.end_of_volume, done.infused_ml) == ("stopped", True, 30)
    assert line.pump("11", 40 * MIN).infused_ml == pytest.approx(5)


def test_drift_factors_multiply_and_target_one_slot() -> None:
    data = {
        "name": "t",
        "description": "d",
        "duration_min": 60,
        "pumps": [
            {"slot": slot, "program": [{"at_min": 0, "action": "start", "rate_ml_h": 10}]}
            for slot in ("11", "12", "13", "14")
        ],
        "faults": [
            {"kind": "rate_drift", "at_min": 0, "factor": 2},
            {"kind": "rate_drift", "at_min": 0, "factor": 1.5, "slot": "12"},
        ],
    }
    line = Timeline(parse_scenario(yaml.safe_dump(data)))
    assert line.slots == ("11", "12", "13", "14")
    delivered = {slot: pump.delivered_ml_h for slot, pump in line.pumps(60).items()}
    assert delivered == {"11": 20, "12": 30, "13": 20, "14": 20}


def test_active_faults_by_role() -> None:
    line = shipped("monitor-unplugged")
    assert line.faults(14.9 * MIN) == ()
    (fault,) = line.faults(15 * MIN)
    assert isinstance(fault, Disconnect)
    assert line.wire_faults(15.4 * MIN, "monitor") == (fault,)
    assert line.wire_faults(15.4 * MIN, "pumps") == ()
    assert line.wire_faults(15.5 * MIN, "monitor") == ()
    noisy = shipped("noisy-serial-line")
    assert isinstance(noisy.wire_faults(50.1 * MIN, "pumps")[0], Silence)
    assert not any(isinstance(f, Occlusion) for f in noisy.faults(50.1 * MIN))
