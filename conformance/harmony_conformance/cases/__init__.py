"""Conformance cases, one module per area. Importing a module registers its cases.

Case ids are stable (`<AREA>-<nnn>`): never renumber or reuse one. Each case cites the
requirement ids it checks; its grade on failure follows their level.
"""
