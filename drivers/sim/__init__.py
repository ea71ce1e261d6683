"""Device simulators driven by clinical scenarios, for the daemon, the demo and tests.

Layers, calls one way: :mod:`.scenario` (the YAML model) and :mod:`.faults` -> :mod:`.infusion`
and :mod:`.timeline` (pure evaluation at a scenario time) -> :mod:`.devices` (each protocol's
device side fed from the timeline, sans I/O) and :mod:`.wire` (wire faults, sans I/O) ->
:mod:`.runner` (one device on its clocks, one host connection) -> :mod:`.serve` (a pty or a
TCP port) -> :mod:`.cli` (``infusion-edge simulate``).
"""
