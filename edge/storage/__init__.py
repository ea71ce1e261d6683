"""The edge's own stores (the outbox, the alarm log) when their disk fails: errors, corrupt
files set aside, fault state, and the monitor that retries them and tells the alarm engine."""
