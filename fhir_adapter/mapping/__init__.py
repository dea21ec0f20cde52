"""One module per output resource: pure functions from a case to FHIR R4 JSON."""
