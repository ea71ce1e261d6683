"""A daemon's earlier history, made honestly: the scenario's first minutes run in virtual time.

A real-time test of a rule that needs the session's past (the rise over the baseline near
infusion minute 35, the two-cuff confirmation) cannot wait 40 real minutes. So
:func:`prime_alarm_log` runs the scenario from minute 0 to ``until_min`` in the scenario
harness (the simulated devices, byte for byte through the real drivers, into a real alarm
engine built from the daemon's own config) on a virtual clock whose minute 0 is ``wall0``,
and writes every engine event and each monitor's last cuff to the daemon's alarm log, as the
daemon's alarm stage writes them. ``infusion-edge run`` then starts on that log: it restores
the sessions (phase, baseline), open alarms and last cuffs from it exactly as after a restart,
while the simulators, started with ``--start-min until_min``, carry on from there in real
time. ``wall0`` is the simulators' start minus ``until_min`` minutes, so the restored times and
the devices' measurement times agree.

What this does not cover: anything of the daemon's own state that a restart loses (by design
the same as a real restart of a daemon that ran minutes 0..M).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from drivers.sim.scenario import Scenario
from edge.alarms.log import AlarmLog
from edge.config import load_config
from tests.scenario_harness import BedSimulation, VirtualClock

__all__ = ["prime_alarm_log", "wall_of_minute_zero"]


def wall_of_minute_zero(started: datetime, start_min: float) -> datetime:
    """The wall time of scenario minute 0 for simulators started at ``started`` (aware) with
    ``--start-min start_min`` at speed 1."""
    return started - timedelta(minutes=start_min)


def prime_alarm_log(
    scenario: Scenario, config_path: Path, until_min: float, wall0: datetime
) -> BedSimulation:
    """Run ``scenario`` from minute 0 to ``until_min`` against an engine built from the daemon
    config at ``config_path`` (its devices, beds, orders and limits), with minute 0 at
    ``wall0``, writing the config's alarm log; the finished simulation, to assert on."""
    config = load_config(config_path)
    with AlarmLog(config.storage.alarm_log_path) as alarm_log:
        simulation = BedSimulation(scenario, config, clock=VirtualClock(wall0), alarm_log=alarm_log)
        simulation.run_until(until_min)
    return simulation
