"""The TinyDB logs, safe for concurrent writers; the append-only ratings journal; shutdown hooks."""
