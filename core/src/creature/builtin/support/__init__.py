"""Helpers drivers share through creature.sdk: template disk images, plan-driven drivers, progress on a terminal."""
