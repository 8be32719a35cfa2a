"""The Textual app: `patchloop` with no subcommand opens it (``app.run_app``)."""
