"""HTTP surfaces (REST API, widget, health), the CLI and the composition root."""
