"""Flag calibration: operating characteristics of the flags, measured by simulation through
the product's own code (DOMAIN.md §5.6). `measures` covers measure-based deterioration."""
