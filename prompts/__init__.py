"""The bundled prompt templates, read with importlib.resources (Settings.prompt)."""
