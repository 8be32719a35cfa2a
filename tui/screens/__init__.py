"""The app's screens: main (prompt, code, findings), compare, history, settings, help, file path."""
