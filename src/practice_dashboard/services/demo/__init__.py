"""The demo practice: accounts and clients on realistic courses."""
