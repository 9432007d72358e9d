"""Streamlit glue shared by the pages: cached engine objects and reusable panels.

The engine (cnnlab/) never imports Streamlit; this package is the only place where
engine objects meet widgets, and it holds no computation of its own.
"""
