"""Integration tier (a package so its test module names may repeat other tiers', e.g. test_etc_files)."""
