"""Analytics over the record: fact loading, metrics, flag acknowledgements, caseload summaries."""
