"""The command layer: argument parsing, report rendering and plots for every ``semsim``
sub-command (``sim``: run / validate / report / sweep; the model families' train / eval).
The real work is in library functions below this layer."""

__all__: list[str] = []
