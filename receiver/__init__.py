"""vidhook: callback endpoint and event router for AI video generation APIs."""

__version__ = "0.1.0"
