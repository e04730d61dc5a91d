"""The ``ringwatch`` command: one module per subcommand; each parses, calls the library, renders."""
