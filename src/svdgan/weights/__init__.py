"""The shipped model files (package data)."""
