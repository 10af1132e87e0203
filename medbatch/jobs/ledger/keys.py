"""Note identity: a note is its id and the hash of its text (within one configuration's output folder).

The output folder is claimed by one configuration hash (``_job.json``), so (id, text hash) inside it is
the full identity the issue of incremental runs needs: the same note under the same configuration gives
the same row, and a run only has to process the notes whose key it has not committed yet.
"""

from __future__ import annotations

import hashlib

# 128 bits of SHA-256: collisions are out of reach for any corpus (2^64 notes for an even chance), and
# the column stays half the size of a full digest in the index read at every planning.
TEXT_HASH_HEX = 32
KEY_BYTES = 16
UNUSABLE_PREFIX = "error:"
# A record whose file could not be read this run (a failed GET, a file moved while its shard ran): its
# row carries an error a rerun may not meet, so it is retried, unlike a record that was read and is bad.
UNREAD_PREFIX = "unread:"


def text_hash(text: str) -> str:
    """The ``text_hash`` column: SHA-256 of the note's UTF-8 text, first 128 bits in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:TEXT_HASH_HEX]


def unusable_hash(error: str) -> str:
    """``text_hash`` of a record that has no usable text: a hash of why, so that the same bad record is
    not redone on every run, and a repaired one (or one failing differently) is."""
    return _error_hash(UNUSABLE_PREFIX, error)


def unread_hash(error: str) -> str:
    """``text_hash`` of a record whose file could not be read: retried by the next run (see
    ``parts.retryable``), and a different key from the note's once read, so the note is processed then."""
    return _error_hash(UNREAD_PREFIX, error)


def _error_hash(prefix: str, error: str) -> str:
    digest = hashlib.sha256(error.encode("utf-8")).hexdigest()
    return prefix + digest[: TEXT_HASH_HEX - len(prefix)]


def note_key(note_id: str, hashed_text: str) -> bytes:
    """The note's key: 16 bytes from its id and text hash (what planning compares, at any scale)."""
    payload = note_id.encode("utf-8", "surrogatepass") + b"\x00" + hashed_text.encode("ascii")
    return hashlib.blake2b(payload, digest_size=KEY_BYTES).digest()
