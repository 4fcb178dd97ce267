"""Reports: progress summaries, supervision packets, the audit log, PDF printing."""
