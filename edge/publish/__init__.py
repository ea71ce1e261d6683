"""MQTT publishing: the topic scheme, the payloads, the crash-safe outbox and the publisher."""
