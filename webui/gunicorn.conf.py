"""gunicorn settings for the appliance's web UI (bind, workers and threads come from `serve`)."""

# The app (and the key handed over by `serve`) is loaded once in the master, then forked.
preload_app = True
worker_class = "gthread"
graceful_timeout = 10
# Access logs would carry URLs with ids; keep them off, errors still go to stderr.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Uploads are streamed by the app; keep request line and header limits tight.
limit_request_line = 8190
limit_request_fields = 100
# gunicorn 25+ opens a control socket for `gunicornc` under $HOME (the data directory under
# systemd and in the image; read-only elsewhere): serve supervises gunicorn, nothing uses it.
control_socket_disable = True
