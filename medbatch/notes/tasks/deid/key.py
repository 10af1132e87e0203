"""The surrogate strategy's secret key: where it comes from and what makes it usable, said once.

The batch job, the online service and the note core all take the key through here, so its environment
variable, its minimum length and the message a user sees when it is missing cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

SURROGATE_KEY_ENV = "MEDBATCH_SURROGATE_KEY"
MIN_KEY_LENGTH = 16

KEY_REQUIREMENT = (
    f"the surrogate strategy needs a secret key of at least {MIN_KEY_LENGTH} characters in "
    f"{SURROGATE_KEY_ENV} (in a cluster: a key of that name in the credentials secret). Keep the key: "
    "the same key gives the same surrogates when the corpus is extended or rerun."
)


class SurrogateKeyError(ValueError):
    """The key is missing or too short. The message names the variable, never the key."""


def check_key(key: bytes | None) -> bytes:
    """``key`` when it is usable.

    Raises:
        SurrogateKeyError: no key, or one shorter than ``MIN_KEY_LENGTH`` bytes.
    """
    if key is None or len(key) < MIN_KEY_LENGTH:
        raise SurrogateKeyError(KEY_REQUIREMENT)
    return key


def key_from_env(environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The key in ``MEDBATCH_SURROGATE_KEY``; None when it is unset or empty.

    Raises:
        SurrogateKeyError: a key is set but too short (a mistake, never silently ignored).
    """
    value = environ.get(SURROGATE_KEY_ENV, "")
    return check_key(value.encode()) if value else None


def key_fingerprint(key: bytes) -> str:
    """A short public fingerprint of the key, recorded in the manifest so a resume under another key is caught."""
    return hmac.new(key, b"medbatch-key-fingerprint", hashlib.sha256).hexdigest()[:12]
