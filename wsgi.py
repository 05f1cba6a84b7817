"""Entry point for gunicorn: `gunicorn -c python:gateway.gunicorn_config wsgi:app`."""

from gateway.app import create_app

app = create_app()
