"""The machine, template and host commands; plugin.py adds them."""
