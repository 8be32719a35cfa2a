"""The app's widgets, one per module, each with its CSS and key bindings."""
