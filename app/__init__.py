"""Entry points: the ``ringwatch`` command (``app.cli``) and the analyst explorer (``app.web``)."""
