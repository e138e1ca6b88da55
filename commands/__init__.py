"""Command handlers: validate, load aggregates, call domain methods, save."""
