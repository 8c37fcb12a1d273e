"""Deterministic demo data (`flask --app wsgi demo load`)."""
