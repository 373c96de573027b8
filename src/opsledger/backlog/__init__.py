"""The maintenance backlog: consolidation, scoring, automation candidates and the next-phase
plan.
"""
