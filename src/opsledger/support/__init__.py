"""Support coverage: ticket volume forecast, staffing and rotation."""
