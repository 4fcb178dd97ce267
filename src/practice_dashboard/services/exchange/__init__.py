"""Data exchange: CSV export and import, FHIR R4 bundles."""
