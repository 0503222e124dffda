"""`creature ssh`: a shell or a command in a machine over SSH, with the machine's key and its own known_hosts."""
