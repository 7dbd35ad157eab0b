"""The serving guard (components/trainer/serving_guard.py, image_headers.py): both signatures of the
Trainer's real export (the Transform graph + make_serving_signatures) fuzzed with hostile and odd
requests. Each gets an answer or a clear error in bounded time and memory, the process survives, and
the bombs are refused before a pixel is allocated."""
import functools
import io
import time

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from PIL import Image

from components.infra_check.hostile import GARBAGE, gif_bomb, jpeg_bomb, png_bomb, request_inputs
from components.trainer.image_headers import MAX_JPEG_MARKERS, declared_sizes
from components.trainer.serving_guard import REFUSED, refusal
from components.trainer.spec import ServingLimits
from components.trainer.warmup import trained_model_probabilities
from schemas import features
from schemas.config import build_config
from components.transform.standalone import write_transform_graph
from tests.serving_fixtures import export_trainer_model

SIZE = 16
CLASSES = ["dark", "light"]
MAX_BATCH = 8
SIGNATURES = (features.EXAMPLES_SIGNATURE, features.BYTES_SIGNATURE)
BOMB_SECONDS, BOMB_MB = 1.0, 200  # the bar for one bomb request (bench/bench_serving_guard.py measures)


def encode(fmt, size=(12, 10), mode="RGB", seed=0, **kw) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, fmt, **kw)
    return buf.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (10, 8), colour) for colour in ((250, 250, 250), (0, 0, 0), (9, 9, 9))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    tft_output = write_transform_graph(str(root / "transform"), SIZE, [encode("PNG", seed=i) for i in range(4)])
    limits = ServingLimits.from_config(build_config(overrides=[f"serving.max_batch_images={MAX_BATCH}"]))
    model = keras.Sequential([keras.layers.Conv2D(4, 3, input_shape=(SIZE, SIZE, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(len(CLASSES), activation="softmax", name=features.PROBABILITIES_OUTPUT)])
    path = export_trainer_model(str(root / "export" / "model"), tft_output, CLASSES, limits, model=model)
    return tf.saved_model.load(path).signatures, tft_output, model


def rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024


def call(signatures, signature, images):
    """(outputs or None, error message or None, seconds, peak resident growth in MB) of one request."""
    inputs = {k: tf.constant(v) for k, v in request_inputs(signature, images).items()}
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set, to the current one
    before, started = rss_mb("VmRSS"), time.perf_counter()
    try:
        outputs, error = signatures[signature](**inputs), None
    except tf.errors.InvalidArgumentError as e:
        outputs, error = None, e.message
    return outputs, error, time.perf_counter() - started, rss_mb("VmHWM") - before


@functools.lru_cache(maxsize=None)
def full_png_bomb() -> bytes:
    return png_bomb(16000, 16000)  # ~3 s of zlib


BOMBS = {
    "PNG 16000x16000 (746 KB, every row)": (full_png_bomb, "16000x16000 pixels (1 frame(s))"),
    "JPEG declaring 16000x16000": (lambda: jpeg_bomb(16000, 16000), "16000x16000 pixels (1 frame(s))"),
    "GIF screen 16000x16000": (lambda: gif_bomb(16000, 16000), "16000x16000 pixels (1 frame(s))"),
    "GIF 4000x4000, 100 one-pixel frames": (lambda: gif_bomb(4000, 4000, frames=100),
                                             "4000x4000 pixels (99 frame(s))"),  # the first has no 0x00 before it
}


@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_bomb_sent_twice_is_refused_before_decoding_in_bounded_time_and_memory(served, signature, bomb):
    make, declared = BOMBS[bomb]
    call(served[0], signature, [encode("PNG")])  # the first call traces; not the bomb's cost
    outputs, error, seconds, grown = call(served[0], signature, [encode("PNG"), make(), make()])
    assert outputs is None
    assert refusal(error) == f"image 1 declares {declared}, above serving.max_image_pixels=50000000"
    assert seconds < BOMB_SECONDS * 3 and grown < BOMB_MB, (seconds, grown)  # loosely: a shared machine


FUZZ = {  # what: (images, None for an answer, or the start of the refusal / a fragment of the decoder's error)
    "empty bytes": ([b""], REFUSED + "image 0 declares no size"),
    "random bytes": ([np.random.default_rng(1).bytes(5000)], REFUSED + "image 0 declares no size"),
    "garbage then a good image": ([GARBAGE, b""], REFUSED + "image 0 declares no size"),
    "JPEG cut before its frame header": ([encode("JPEG")[:40]], REFUSED + "image 0 declares no size"),
    "JPEG cut in its scan": ([encode("JPEG", size=(64, 64))[:700]], "JPEG"),
    "PNG cut in its header": ([encode("PNG")[:20]], REFUSED + "image 0 declares no size"),
    "PNG cut in its data": ([encode("PNG", size=(64, 64))[:2000]], "PNG"),
    "1x1 PNG": ([encode("PNG", size=(1, 1))], None),
    "1x1 JPEG, GIF, BMP": ([encode("JPEG", size=(1, 1)), encode("GIF", size=(1, 1)), encode("BMP", size=(1, 1))], None),
    "16-bit PNG": ([encode("PNG", mode="I;16")], None),
    "CMYK JPEG": ([encode("JPEG", mode="CMYK")], None),
    "progressive JPEG": ([encode("JPEG", progressive=True)], None),
    "animated GIF": ([animated_gif()], None),
    f"{MAX_BATCH + 1} images, one over serving.max_batch_images": (
        [encode("PNG")] * (MAX_BATCH + 1),
        REFUSED + f"the request holds {MAX_BATCH + 1} images, above serving.max_batch_images={MAX_BATCH}"),
}


@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("case", list(FUZZ))
def test_each_odd_request_gets_an_answer_or_a_clear_error(served, signature, case):
    images, expected = FUZZ[case]
    outputs, error, seconds, grown = call(served[0], signature, images)
    assert seconds < 10 and grown < 300, (seconds, grown)
    if expected is None:
        assert error is None and outputs[features.PROBABILITIES_OUTPUT].shape == (len(images), len(CLASSES))
        assert set(outputs[features.CLASS_NAME_OUTPUT].numpy()) <= {c.encode() for c in CLASSES}
    else:
        assert outputs is None and expected in error, error


def test_a_tf_example_without_its_image_feature_is_a_clear_error(served):
    empty = tf.train.Example().SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="image"):
        served[0][features.EXAMPLES_SIGNATURE](**{features.EXAMPLES_INPUT: tf.constant([empty])})


def test_ordinary_images_answer_as_the_trained_model_does_through_both_signatures(served):
    """The guard changes no answer: InfraCheck's skew check compares exactly this."""
    signatures, tft_output, model = served
    images = [encode("PNG", seed=5), encode("JPEG", seed=6), encode("GIF", seed=7), encode("BMP", seed=8)]
    expected = trained_model_probabilities(model, tft_output.transform_features_layer(),
                                           {features.IMAGE_KEY: tft_output.raw_feature_spec()[features.IMAGE_KEY]},
                                           request_inputs(features.EXAMPLES_SIGNATURE, images)[features.EXAMPLES_INPUT])
    for signature in SIGNATURES:
        answer = call(signatures, signature, images)[0][features.PROBABILITIES_OUTPUT].numpy()
        np.testing.assert_allclose(answer, expected, atol=1e-6)


def test_headers_declare_the_size_the_decoder_finds():
    images = [encode("PNG", size=(31, 17)), encode("JPEG", size=(31, 17)), encode("GIF", size=(31, 17)),
              encode("BMP", size=(31, 17)), encode("JPEG", size=(31, 17), progressive=True), animated_gif()]
    sizes = declared_sizes(tf.constant(images)).numpy()
    assert sizes[:5].tolist() == [[31, 17, 1]] * 5
    assert sizes[5].tolist() == [10, 8, 3]
    for image, (width, height, _) in zip(images, sizes):
        assert tf.io.decode_image(image, expand_animations=False).shape[:2] == (height, width)


def test_a_jpeg_that_never_reaches_its_frame_header_declares_nothing():
    endless = b"\xff\xd8" + b"\xff\xe0\x00\x02" * (MAX_JPEG_MARKERS + 10)  # empty APP0 segments
    parse = tf.function(declared_sizes, input_signature=[tf.TensorSpec([None], tf.string)])
    parse(tf.constant([b""]))  # traced once, as a served signature is
    started = time.perf_counter()
    assert parse(tf.constant([endless] * 64)).numpy().tolist() == [[0, 0, 1]] * 64
    assert time.perf_counter() - started < 1
