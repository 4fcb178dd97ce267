"""Practice Dashboard: track how clients' nervous systems change over care."""

__version__ = "0.1.0"
