"""Live reads of a monitored server for the dashboard's "now" pages (not stored).

`activity.py` reads a target's current sessions through one read-only monitoring session,
masks query literals and builds the who-blocks-whom forest (pure).
"""
