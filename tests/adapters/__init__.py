"""Tests of the service adapters (core/adapters): request shapes, mapping, errors, end to end."""
