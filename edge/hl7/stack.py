"""The HL7 output of the daemon: a :class:`~edge.forward.stack.ForwardStack` with the HL7
encoder and the MLLP sender, from ``config.hl7``."""

from __future__ import annotations

from edge.config import Config, Hl7Config
from edge.forward.output import ForwardOutput, OutputPolicy
from edge.forward.queue import ForwardQueue
from edge.forward.stack import ForwardStack
from edge.hl7.identity import Hl7Identity
from edge.hl7.output import Hl7Encoder
from edge.hl7.sender import MllpSender, tls_context

__all__ = ["hl7_stack"]


def hl7_stack(config: Config, hl7: Hl7Config) -> ForwardStack:
    """The HL7 output configured by ``hl7`` (``config.hl7``)."""
    queue = ForwardQueue(
        "hl7_queue",
        hl7.queue_path,
        hl7.max_messages,
        hl7.max_refused,
        corrupt_notice_s=config.storage.corrupt_notice_s,
    )
    policy = OutputPolicy(hl7.observations, hl7.chart_interval_s, hl7.alarms)
    output = ForwardOutput("hl7", policy, Hl7Encoder(Hl7Identity.from_config(config, hl7)), queue)
    sender = MllpSender(
        hl7.url,
        queue,
        tls=tls_context(hl7),
        ack_timeout_s=hl7.ack_timeout_s,
        connect_timeout_s=hl7.connect_timeout_s,
    )
    return ForwardStack(queue, output, sender)
