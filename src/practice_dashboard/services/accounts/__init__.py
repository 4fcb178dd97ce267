"""Accounts: users, login sessions and supervision links."""
