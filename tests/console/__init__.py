"""Tests of the adviser console."""
