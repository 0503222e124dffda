"""Disk limits: `creature resize NAME --disk SIZE` grows a stopped machine's disk (drivers with capability disk_limit)."""
