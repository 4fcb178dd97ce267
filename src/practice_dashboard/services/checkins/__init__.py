"""Client check-ins: the private link (links.py) and what a client enters (entries.py)."""
