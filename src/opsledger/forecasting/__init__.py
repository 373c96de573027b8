"""Time-series forecasting shared by capabilities: models and where they are fitted."""
