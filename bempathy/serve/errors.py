"""Errors every generation backend shares; light, so commands can catch them without loading a model."""

from __future__ import annotations


class GenerationFailed(RuntimeError):
    """A backend could not produce an answer (a server's failed request): the reply says so, and a crisis message
    still gets its help block."""
