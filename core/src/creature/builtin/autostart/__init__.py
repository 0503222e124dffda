"""Autostart, host up and host down, the boot service; plugin.py is the plugin."""
