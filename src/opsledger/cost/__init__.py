"""Spend against targets, savings candidates and capacity runway."""
