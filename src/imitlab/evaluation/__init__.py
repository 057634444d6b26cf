"""Executing chunks, rolling out policies, and the metrics and statistics of what they did."""
