"""Corpus to chat examples: read, clean, format, split, token counts and the data report (``DatasetProcessor``)."""
