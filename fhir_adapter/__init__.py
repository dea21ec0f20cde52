"""fhir-adapter: oncology case files to mCODE-aligned FHIR R4 bundles, and bundles to FHIR servers."""

__version__ = "0.1.0"
