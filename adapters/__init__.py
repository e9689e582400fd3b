"""Adapter plugins: one package per external system."""
