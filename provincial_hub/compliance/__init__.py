"""Compliance at the hub (art. 31, 33): daily rules, rectification notices, public criticism."""
