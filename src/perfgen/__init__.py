"""perfgen: publish government service performance as an accessible static website."""

__version__ = "0.1.0"
