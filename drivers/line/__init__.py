"""line: a device's simple ASCII line protocol, described in the device's YAML ``options``."""
