"""The monthly review: KPIs, history, governance cadence and the reports that join every
capability.
"""
