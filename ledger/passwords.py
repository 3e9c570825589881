"""The card's two six-digit passwords (R06), kept only as salted scrypt hashes."""

import hashlib
import hmac
import secrets

from ledger.errors import InvalidInput


def initial_password(id_number: str) -> str:
    """The last six digits of the ID number, an X not counting (decided: with fewer than
    six digits, as in some passports, the digits are left-padded with zeros)."""
    digits = "".join(c for c in id_number if c.isdigit())
    return digits[-6:].rjust(6, "0")


def check_password_format(password: str) -> None:
    """Refuse anything but exactly six digits."""
    if not (isinstance(password, str) and len(password) == 6 and password.isdigit()):
        raise InvalidInput(reason_zh="密码须为 6 位数字", reason_en="a password is six digits")


def hash_password(password: str, cost: int) -> str:
    """A salted scrypt hash in the form scrypt$N$salt$hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=cost, r=8, p=1, dklen=32)
    return f"scrypt${cost}${salt.hex()}${digest.hex()}"


def verify_password(password: str | None, stored: str) -> bool:
    """Whether `password` matches the stored hash (constant-time comparison)."""
    if password is None:
        return False
    _scheme, cost, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(cost), r=8, p=1, dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


def hash_secret(plain: str) -> str:
    """The SHA-256 (hex) of a random secret (an API token, a device key): a 256-bit random
    secret needs no salt or slow hash, and the hash can be looked up."""
    return hashlib.sha256(plain.encode()).hexdigest()
