"""negsim: agent-based simulator of multi-party territorial negotiations."""

__version__ = "0.1.0"
