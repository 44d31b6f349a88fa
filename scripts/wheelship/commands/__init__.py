"""One module per ``wheelship`` subcommand: ``configure(parser)`` and ``main(args) -> int``."""
