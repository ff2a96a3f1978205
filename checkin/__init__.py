"""checkin: event-day check-in and hybrid attendance."""

__version__ = "0.1.0"
