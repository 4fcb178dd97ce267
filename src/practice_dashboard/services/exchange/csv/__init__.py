"""The CSV toolkit: one column spec per record kind, one formula guard, one reader and writer.

`spec` (columns per kind) and `guard` are shared by `export` and `importer`; docs/csv-format.md
is the contract both keep.
"""
