"""FHIR R4 output: Observations, Devices and alarm Observations in transaction Bundles."""
