"""The test stage (``wheelship test``): install the built wheel and run the project's tests
against it, not against the source tree."""
