"""Salts that keep the random generators of different purposes independent for one seed.

Every generator in :mod:`qusi_lab.synthetic` is seeded with ``[salt, seed, ...]``. The salts live together
here so that no two purposes share one (sharing would correlate, say, a star's noise with its orbit).
"""

_SALT_TIMELINE = 9_100
_SALT_STAR = 9_200
_SALT_SECTOR = 9_300
_SALT_ASSIGN = 9_400
_SALT_SPLIT = 9_500
_SALT_TIC = 9_600
_SALT_PHYSICAL = 9_700
_SALT_HEARTBEAT = 9_800
