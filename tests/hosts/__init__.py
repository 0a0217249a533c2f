"""Host projects that tests install source_oauth into, each with its own settings module."""
