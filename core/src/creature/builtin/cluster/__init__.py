"""Clusters: moving a machine between nodes (drivers with capability migrate or failover); plugin.py is the plugin."""
