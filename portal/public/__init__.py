"""Public disclosure site: pages, fragments, JSON and CSV for every public record."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401
