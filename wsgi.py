"""WSGI entry point for gunicorn (``wsgi:app``) and the ``flask`` CLI (``flask --app wsgi …``)."""
from raf_network import create_app

app = create_app()
