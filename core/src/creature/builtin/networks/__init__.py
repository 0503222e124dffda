"""Creature networks: bridges with a dnsmasq each, NIC addresses, VM taps; plugin.py is the plugin."""
