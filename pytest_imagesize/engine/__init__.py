"""The container engine seam: a small protocol, its docker-py implementation, and the builders.

Only this package imports docker-py; everything else talks to an :class:`Engine`.
"""
