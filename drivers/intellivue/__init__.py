"""Philips IntelliVue MIB/RS232 data export (fact sheet: ``shared/protocols/intellivue.md``).

Layers, each its own module: :mod:`.frames` and :mod:`.framer` (transport frames),
:mod:`.datatypes`, :mod:`.association`, :mod:`.remote`, :mod:`.dataexport`, :mod:`.poll` and
:mod:`.messages` (message structures), :mod:`.codec` and :mod:`.timebase` (numerics to
readings),
:mod:`.conversation` (the client), :mod:`.monitor` and :mod:`.monitor_values` (the monitor
side, for simulators and tests) and :mod:`.driver` (the registry entry).
"""
