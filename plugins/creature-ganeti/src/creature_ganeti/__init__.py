"""creature-ganeti: Ganeti clusters as a creature backend."""
