"""O2C Hub: an order-to-cash integration hub for B2B commerce."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("o2c-hub")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
