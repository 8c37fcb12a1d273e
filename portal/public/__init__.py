"""Public disclosure site: pages, fragments, JSON and CSV for every public record."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401
from . import search_views  # noqa: E402,F401
from . import feed_views  # noqa: E402,F401
from . import stats  # noqa: E402,F401
from . import draws  # noqa: E402,F401
from . import transparency  # noqa: E402,F401
from . import browse  # noqa: E402,F401
from . import objections  # noqa: E402,F401
from . import display  # noqa: E402,F401
