"""HL7 v2 output: IHE PCD-01 observations (ORU^R01) and PCD-04 alarms (ORU^R40) over MLLP."""
