"""Language and country data the patterns are built from, one module per locale (``en_us``).

A locale holds what a reader of its notes would call a date or an address: month and weekday names, the
states or regions postcodes follow. The word lists of names, places and vocabulary live in ``data/``
with their sources. Adding a locale is adding a module here and building patterns from it.
"""
