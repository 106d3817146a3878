"""The JSON API of the agreement service (/api/v1); see :mod:`.blueprint` for its paths."""

from .blueprint import make_api_blueprint

__all__ = ["make_api_blueprint"]
