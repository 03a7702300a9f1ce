"""Views: candidates (being written)."""

from flask import Blueprint

bp = Blueprint("candidates", __name__)
