"""bempathy: an empathetic Bengali conversation partner built on LLaMA 3.1-8B-Instruct."""

__version__ = "0.1.0"
