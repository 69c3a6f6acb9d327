"""Host integrations that run in the project's Python: building and installing plugins."""
