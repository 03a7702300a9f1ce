"""Views: requisitions (being written)."""

from flask import Blueprint

bp = Blueprint("requisitions", __name__)
