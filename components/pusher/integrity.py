"""What a pushed version holds: a sha256 manifest of its files, optionally signed, and its check.

The publish (publish.py) writes `assets.extra/manifest.sha256` into every version just before the
version becomes visible, from the files the gate judged (the Trainer's export): one line per file,
`<sha256>  <relative path>`, sorted, as `sha256sum` writes it (so `sha256sum -c` checks it too, from
the version folder). With `serving.signing_key` (an Ed25519 private key, PEM) the manifest's bytes
are signed into `assets.extra/manifest.sha256.sig` (64 raw bytes). `verify_version` finds every file
that differs: changed, missing, or present but not in the manifest (TF Serving would load it), and a
signature that does not verify with the given public key. Ed25519 through the `cryptography`
package, in the pinned set already; OpenSSF model-signing is not used (docs/serving.md says why).

Local paths need no TensorFlow (`imgpipe verify` and `rollback` answer at once).
"""
from __future__ import annotations

import hashlib
from typing import Dict, List, Optional

from components.fs import fs_for, is_remote, local_path, open_file

MANIFEST_FILE = "assets.extra/manifest.sha256"
SIGNATURE_FILE = MANIFEST_FILE + ".sig"
NO_MANIFEST = "no manifest (pushed before integrity manifests)"
_CHUNK = 1 << 20
KEY_HINT = ("make one with `openssl genpkey -algorithm ed25519 -out signing.pem` and its public half with "
            "`openssl pkey -in signing.pem -pubout -out signing.pub`")


class IntegrityError(ValueError):
    """A key that cannot be used; the message names the file and what to do."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open_file(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(root: str) -> Dict[str, str]:
    """{relative path: sha256} of every file under `root` but the manifest and its signature."""
    root = (local_path(root) if not is_remote(root) else root).rstrip("/")
    found = {}
    for directory, _, files in fs_for(root).walk(root):
        for name in files:
            path = f"{directory.rstrip('/')}/{name}"
            rel = path[len(root) + 1:]
            if rel not in (MANIFEST_FILE, SIGNATURE_FILE):
                found[rel] = _sha256(path)
    return found


def manifest_text(digests: Dict[str, str]) -> bytes:
    return "".join(f"{digest}  {rel}\n" for rel, digest in sorted(digests.items())).encode("utf-8")


def parse_manifest(text: bytes) -> Dict[str, str]:
    lines = [line for line in text.decode("utf-8").splitlines() if line.strip()]
    return {rel: digest for digest, _, rel in (line.partition("  ") for line in lines)}


def _read_key(path: str, kind: str) -> bytes:
    try:
        with open_file(path, "rb") as f:
            return f.read()
    except Exception as e:  # OSError here, tf.errors.NotFoundError in a bucket
        raise IntegrityError(f"cannot read the {kind} key file {path}: {getattr(e, 'strerror', None) or e}; "
                             f"{KEY_HINT}") from None


def load_private_key(path: str):
    """The Ed25519 private key in PEM file `path` (serving.signing_key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    try:
        key = load_pem_private_key(_read_key(path, "private"), password=None)
    except (ValueError, TypeError) as e:
        raise IntegrityError(f"serving.signing_key={path} is not an unencrypted PEM private key ({e}); "
                             f"{KEY_HINT}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"serving.signing_key={path} is a {type(key).__name__}, not an Ed25519 key; {KEY_HINT}")
    return key


def load_public_key(path: str):
    """The Ed25519 public key in PEM file `path` (`imgpipe verify --public-key`)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    try:
        key = load_pem_public_key(_read_key(path, "public"))
    except ValueError as e:
        raise IntegrityError(f"{path} is not a PEM public key ({e}); {KEY_HINT}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError(f"{path} is a {type(key).__name__}, not an Ed25519 public key; {KEY_HINT}")
    return key


def manifest_files(source: str, key=None, added: Optional[Dict[str, bytes]] = None) -> Dict[str, bytes]:
    """{relative path: content} of the manifest of the files under `source` and the files `added` to the
    version beside them (the model card), and its signature with `key` (load_private_key's) if given:
    what `write_files` puts into the version."""
    added_digests = {rel: hashlib.sha256(content).hexdigest() for rel, content in (added or {}).items()}
    text = manifest_text({**file_digests(source), **added_digests})
    files = {MANIFEST_FILE: text}
    if key is not None:
        files[SIGNATURE_FILE] = key.sign(text)
    return files


def write_files(version_dir: str, files: Dict[str, bytes]) -> None:
    base = (local_path(version_dir) if not is_remote(version_dir) else version_dir).rstrip("/")
    for rel, content in files.items():
        fs_for(base).makedirs(f"{base}/{rel.rsplit('/', 1)[0]}")
        with open_file(f"{base}/{rel}", "wb") as f:
            f.write(content)


def _read_optional(path: str) -> Optional[bytes]:
    if not fs_for(path).exists(local_path(path) if not is_remote(path) else path):
        return None
    with open_file(path, "rb") as f:
        return f.read()


def verify_version(version_dir: str, public_key: str = "") -> List[str]:
    """Every way the version differs from its manifest, one line each; [] when it matches.

    [NO_MANIFEST] for a version pushed before manifests existed. With `public_key`, the manifest
    must also carry a signature that verifies with it. Raises IntegrityError for an unusable key."""
    base = version_dir.rstrip("/")
    key = load_public_key(public_key) if public_key else None
    text = _read_optional(f"{base}/{MANIFEST_FILE}")
    if text is None:
        return [NO_MANIFEST]
    listed, present = parse_manifest(text), file_digests(base)
    problems = [f"changed: {rel}" for rel in sorted(set(listed) & set(present)) if listed[rel] != present[rel]]
    problems += [f"missing: {rel}" for rel in sorted(set(listed) - set(present))]
    problems += [f"not in the manifest: {rel}" for rel in sorted(set(present) - set(listed))]
    if key is not None:
        problems += _signature_problems(base, text, key, public_key)
    return problems


def _signature_problems(base: str, text: bytes, key, public_key: str) -> List[str]:
    from cryptography.exceptions import InvalidSignature
    signature = _read_optional(f"{base}/{SIGNATURE_FILE}")
    if signature is None:
        return [f"unsigned: no {SIGNATURE_FILE} (pushed without serving.signing_key)"]
    try:
        key.verify(signature, text)
    except InvalidSignature:
        return [f"bad signature: {SIGNATURE_FILE} does not verify with {public_key}"]
    return []


def require_intact(version_dir: str, what: str) -> None:
    """Raise IntegrityError naming `what` and every problem, unless the version matches its manifest
    (a version without one, pushed before manifests, passes: `imgpipe verify --strict` reports it)."""
    problems = [p for p in verify_version(version_dir) if p != NO_MANIFEST]
    if problems:
        raise IntegrityError(f"{what} {version_dir} is not what was pushed: {'; '.join(problems)}. "
                             "Check it with `imgpipe verify`; serve another version or push again")
