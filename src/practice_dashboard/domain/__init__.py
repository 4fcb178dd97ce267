"""Pure analytics: plain frozen facts in, plain results out. No database, no web imports."""
