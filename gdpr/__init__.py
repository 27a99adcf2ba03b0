"""Data-subject requests (access, export, erasure, rectification) against real datastores."""
