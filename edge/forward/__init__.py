"""Store-and-forward for the clinical outputs (HL7 v2, FHIR): a second outbox of the
outbox's design, and the bus consumer that feeds it."""
