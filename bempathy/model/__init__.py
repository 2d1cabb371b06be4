"""The model at inference: ``ChatModel`` (one base + adapters, mixed-variant batches, streaming), the one
thread all model work runs on, the answer-only LM head, and the tiny Llamas built locally for tests and the demo."""
