"""source_oauth: an OAuth 2.0 authorization server for Django CMSs."""

__version__ = "0.1.0"
