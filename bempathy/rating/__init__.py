"""Blind crowd rating: items, assignment and validation (``RatingService``), statistics, the rating report."""
