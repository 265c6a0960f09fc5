"""Installed environments (a site-packages folder): reading the tree, `scan`, and `slim` with its
journal."""
