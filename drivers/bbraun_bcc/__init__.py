"""B. Braun BCC: Space / Compact plus racks through a ComDevice, in request mode.

Layers: :mod:`.frames` (message blocks, stuffing, records, requests) -> :mod:`.framer` (bytes to
frames, ACK/NAK and bad-frame markers) -> :mod:`.codec` (a MEM:GET answer to pump readings) ->
:mod:`.conversation` (the host: ALIVE, polls, ACK/NAK). :mod:`.device` is the ComDevice side of
the same protocol, for simulators and tests. Source: ``/work/shared/protocols/bbraun-bcc.md``.
"""
