"""Rectification notices at a city node: the hub's notices to this city's agencies, and their answers going up."""
