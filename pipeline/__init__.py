"""callqa: speech analytics and automatic quality assurance for call-center recordings."""

__version__ = "0.1.0"
