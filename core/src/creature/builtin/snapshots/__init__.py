"""Snapshots, restore, export and import of machines; plugin.py is the plugin."""
