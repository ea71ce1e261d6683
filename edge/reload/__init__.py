"""Live reconfiguration: the control socket, the diff of two configs, applying it, the audit."""
