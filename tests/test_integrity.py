"""Integrity of pushed versions (components/pusher/integrity.py): the sha256 manifest every publish
writes, its Ed25519 signature, `imgpipe verify`, and the rollback and baseline reader refusing a
version whose files changed after the push. On real SavedModels pushed with publish()."""
import functools
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from components.pusher.integrity import (MANIFEST_FILE, NO_MANIFEST, SIGNATURE_FILE, IntegrityError,
                                         verify_version)
from components.pusher.publish import PublishError, publish
from components.pusher.rollback import rollback
from pipeline.cli import main
from pipeline.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.serving_fixtures import save_colour_model

VARIABLES = "variables/variables.data-00000-of-00001"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_colour_model(str(tmp_path_factory.mktemp("export") / "model"))


def key_pair(folder, name):
    """(private PEM path, public PEM path) of a fresh Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    private, public = os.path.join(folder, f"{name}.pem"), os.path.join(folder, f"{name}.pub")
    with open(private, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(public, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def flip_one_byte(path, offset=7):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def test_a_push_writes_a_sha256sum_manifest_of_every_file(model, tmp_path):
    version = publish(model, str(tmp_path / "colour"), 100)
    with open(os.path.join(version, MANIFEST_FILE)) as f:
        listed = [line.split("  ", 1)[1] for line in f.read().splitlines()]
    files = sorted(os.path.relpath(os.path.join(d, n), version) for d, _, names in os.walk(version) for n in names)
    assert listed == sorted(listed) and set(listed) == set(files) - {MANIFEST_FILE}
    assert {"saved_model.pb", VARIABLES, "assets.extra/tf_serving_warmup_requests"} <= set(listed)
    assert not os.path.exists(os.path.join(version, SIGNATURE_FILE))
    assert verify_version(version) == []
    checked = subprocess.run(["sha256sum", "--quiet", "-c", MANIFEST_FILE], cwd=version, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_verify_finds_one_changed_byte_in_the_variables_file(model, tmp_path, capsys):
    serving = tmp_path / "serving"
    publish(model, str(serving / "colour"), 100)
    publish(model, str(serving / "colour"), 200)
    assert main(["verify", "--serving-dir", str(serving), "--model", "colour"]) == EXIT_OK
    flip_one_byte(str(serving / "colour" / "200" / VARIABLES))
    capsys.readouterr()
    assert main(["verify", "--serving-dir", str(serving), "--model", "colour"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{serving}/colour/100: ok", f"{serving}/colour/200: FAILED", f"  changed: {VARIABLES}"]
    assert "1 of 2 version(s) failed verification" in err
    assert main(["verify", "--serving-dir", str(serving), "--model", "colour", "--version", "100"]) == EXIT_OK


def test_missing_and_extra_files_are_named(model, tmp_path):
    version = publish(model, str(tmp_path / "colour"), 100)
    os.remove(os.path.join(version, "assets", "labels.txt"))
    with open(os.path.join(version, "variables", "extra.bin"), "wb") as f:
        f.write(b"x")
    assert verify_version(version) == ["missing: assets/labels.txt", "not in the manifest: variables/extra.bin"]


def test_a_signed_push_verifies_with_its_public_key_and_fails_with_another(model, tmp_path, capsys):
    private, public = key_pair(str(tmp_path), "ours")
    _, other = key_pair(str(tmp_path), "other")
    serving = tmp_path / "serving"
    version = publish(model, str(serving / "colour"), 100, signing_key=private)
    assert os.path.getsize(os.path.join(version, SIGNATURE_FILE)) == 64
    assert verify_version(version, public) == []
    assert verify_version(version, other) == [f"bad signature: {SIGNATURE_FILE} does not verify with {other}"]
    args = ["verify", "--serving-dir", str(serving), "--model", "colour", "--public-key"]
    assert main(args + [public]) == EXIT_OK and "colour/100: ok, signature verified" in capsys.readouterr().out
    assert main(args + [other]) == EXIT_FAILED
    with open(os.path.join(version, MANIFEST_FILE), "a") as f:  # a forged line: the signature no longer holds
        f.write("0" * 64 + "  variables/extra.bin\n")
    assert f"bad signature: {SIGNATURE_FILE} does not verify with {public}" in verify_version(version, public)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl here")
def test_openssl_keys_sign_and_openssl_checks_the_signature(model, tmp_path):
    """docs/serving.md's commands: keys made by openssl sign a push, and openssl verifies it without imgpipe."""
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path, check=True)
    run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "signing.pem"])
    run(["openssl", "pkey", "-in", "signing.pem", "-pubout", "-out", "signing.pub"])
    version = publish(model, str(tmp_path / "colour"), 100, signing_key=str(tmp_path / "signing.pem"))
    assert verify_version(version, str(tmp_path / "signing.pub")) == []
    checked = run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "signing.pub"), "-rawin",
                   "-in", MANIFEST_FILE, "-sigfile", SIGNATURE_FILE], cwd=version)
    assert "Signature Verified Successfully" in checked.stdout


def test_an_unsigned_version_fails_when_a_public_key_is_given(model, tmp_path):
    _, public = key_pair(str(tmp_path), "ours")
    version = publish(model, str(tmp_path / "colour"), 100)
    assert verify_version(version, public) == [f"unsigned: no {SIGNATURE_FILE} (pushed without serving.signing_key)"]


def test_an_unusable_signing_key_stops_the_push_naming_the_file(model, tmp_path):
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("hello")
    with pytest.raises(IntegrityError, match=f"serving.signing_key={not_a_key} is not an unencrypted PEM private key"):
        publish(model, str(tmp_path / "colour"), 100, signing_key=str(not_a_key))
    with pytest.raises(IntegrityError, match=f"cannot read the private key file {tmp_path}/missing.pem.*openssl genpkey"):
        publish(model, str(tmp_path / "colour"), 100, signing_key=str(tmp_path / "missing.pem"))
    assert not os.path.exists(tmp_path / "colour" / "100")


def test_a_version_pushed_before_manifests_is_reported_and_fails_only_with_strict(model, tmp_path, capsys):
    serving = tmp_path / "serving"
    version = publish(model, str(serving / "colour"), 100)
    os.remove(os.path.join(version, MANIFEST_FILE))
    assert verify_version(version) == [NO_MANIFEST]
    args = ["verify", "--serving-dir", str(serving), "--model", "colour"]
    assert main(args) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"{version}: not checked", f"  {NO_MANIFEST}"]
    assert main(args + ["--strict"]) == EXIT_FAILED
    assert main(args + ["--version", "7"]) == EXIT_USAGE


def test_rollback_refuses_a_version_that_fails_verification(model, tmp_path, capsys):
    model_dir = str(tmp_path / "serving" / "colour")
    for version in (100, 200, 300):
        publish(model, model_dir, version)
    flip_one_byte(os.path.join(model_dir, "100", VARIABLES))
    with pytest.raises(PublishError, match=f"not rolled back: version 100 {model_dir}/100 is not what was pushed: "
                                           f"changed: {VARIABLES}"):
        rollback(model_dir, to=100)
    assert main(["rollback", "--serving-dir", str(tmp_path / "serving"), "--model", "colour", "--to", "100"]) == EXIT_USAGE
    assert f"changed: {VARIABLES}" in capsys.readouterr().err
    assert rollback(model_dir, to=200).hidden == [300]  # an intact version still rolls back


def test_the_baseline_reader_refuses_a_served_version_that_fails_verification(model, tmp_path):
    from components.baseline.component import served_baseline

    model_dir = str(tmp_path / "serving" / "colour")
    version = publish(model, model_dir, 100)
    assert served_baseline(model_dir) == version
    shutil.copy(os.path.join(version, "saved_model.pb"), os.path.join(version, "assets", "labels.txt"))
    with pytest.raises(IntegrityError, match="the served model .*/100 is not what was pushed: changed: assets/labels.txt"):
        served_baseline(model_dir)



@pytest.mark.parametrize("store", ["local", "ram://"])
def test_a_model_card_added_to_a_push_is_in_the_manifest_locally_and_on_an_object_store(model, tmp_path, store):
    """publish(added=...) writes the card before the manifest: on a local disk into the staged copy, on an
    object store (TensorFlow's ram:// plays one) straight into the version, with the manifest of source + card.
    (ram:// lists `assets.extra` inside `assets/` too, so there the manifest is compared, not walked.)"""
    import hashlib

    import tensorflow as tf
    from components.pusher.integrity import file_digests, parse_manifest
    card = {"assets.extra/model_card.md": b"# Model card\n", "assets.extra/model_card.json": b'{"schema_version": 1}\n'}
    model_dir = str(tmp_path / "serving") if store == "local" else f"ram://card-test/{tmp_path.name}/serving"
    version = publish(model, model_dir, 7, added=card)
    with tf.io.gfile.GFile(f"{version}/{MANIFEST_FILE}", "rb") as f:
        listed = parse_manifest(f.read())
    assert listed == {**file_digests(model), **{rel: hashlib.sha256(c).hexdigest() for rel, c in card.items()}}
    with tf.io.gfile.GFile(f"{version}/assets.extra/model_card.md", "rb") as f:
        assert f.read() == card["assets.extra/model_card.md"]
    if store == "local":
        assert verify_version(version) == []
        with open(os.path.join(version, "assets.extra", "model_card.md"), "wb") as f:
            f.write(b"# Another card\n")
        assert verify_version(version) == ["changed: assets.extra/model_card.md"]
