"""The ``o2c`` command line."""
