"""Repairs: leftovers of interrupted work and a damaged inventory; plugin.py is the plugin."""
