"""The FHIR output of the daemon: a :class:`~edge.forward.stack.ForwardStack` with the FHIR
encoder and sender, from ``config.fhir``."""

from __future__ import annotations

from edge.config import Config, FhirConfig
from edge.fhir.output import FhirEncoder, fhir_identity
from edge.fhir.sender import FhirSender, client_settings
from edge.forward.output import ForwardOutput, OutputPolicy
from edge.forward.queue import ForwardQueue
from edge.forward.stack import ForwardStack

__all__ = ["fhir_stack"]


def fhir_stack(config: Config, fhir: FhirConfig) -> ForwardStack:
    """The FHIR output configured by ``fhir`` (``config.fhir``)."""
    queue = ForwardQueue(
        "fhir_queue",
        fhir.queue_path,
        fhir.max_messages,
        fhir.max_refused,
        corrupt_notice_s=config.storage.corrupt_notice_s,
    )
    policy = OutputPolicy(fhir.observations, fhir.chart_interval_s, fhir.alarms)
    output = ForwardOutput("fhir", policy, FhirEncoder(fhir_identity(config, fhir)), queue)
    auth, headers, verify = client_settings(fhir)
    sender = FhirSender(
        fhir.base_url, queue, auth=auth, headers=headers, verify=verify, timeout_s=fhir.timeout_s
    )
    return ForwardStack(queue, output, sender)
