"""The terminology maps, shipped inside the installed package as fhir_adapter.mappings."""
