"""The kernel features hypervisors rely on, in `host check`; plugin.py is the plugin."""
