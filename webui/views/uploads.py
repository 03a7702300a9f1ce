"""Views: uploads (being written)."""

from flask import Blueprint

bp = Blueprint("uploads", __name__)
