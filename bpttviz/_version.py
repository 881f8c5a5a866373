"""The version, in a module of its own: importing it does not import the package's lazy
notebook/check entry points (which would drag Qt into the engine's import graph)."""
__version__ = "0.1.0"
