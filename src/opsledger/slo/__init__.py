"""Service level objectives: SLIs, error budgets, burn rates, alert rules, backtests, alert
noise, service health.
"""
