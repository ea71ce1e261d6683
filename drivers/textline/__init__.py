"""textline: a minimal ASCII line protocol for simple devices, demos and tests."""
