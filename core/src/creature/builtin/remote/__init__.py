"""Other hosts reached with --host and list --all-hosts; plugin.py is the plugin."""
