"""Evaluation: ``Evaluator`` (perplexity, batched generation), Bengali-correct metrics, report.md and plots."""
