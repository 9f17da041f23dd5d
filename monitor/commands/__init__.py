"""One module per `outwatch` subcommand."""
