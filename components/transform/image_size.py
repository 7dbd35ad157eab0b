"""`data.image_size=auto`: the square side images are resized to, chosen from the ingested images.

The rule (docs/real_data.md): take the median short side of the ingested images,
round it UP to a multiple of 4 (the model downsamples by powers of two, and small
images keep a full-resolution stem, so two halvings divide it evenly; rounding
up never throws away a pixel row), and clamp it to
[data.image_size_auto_min, data.image_size_auto_max]. The cap bounds cost: compute
grows with the square of the side, and photos rarely need more than 128 px
to be told apart by a small CNN. A Keras applications backbone raises the floor
to its own (schemas/backbones.py, docs/model.md#backbones), above the cap if need be.

ImageExampleGen records the short-side histogram in its manifest.json; the
Transform executor (components/transform/executor.py) applies this rule when
the graph is built, because the graph needs the size as a constant.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

from schemas.backbones import BACKBONES, RESNET_CNN, auto_size_floor
from schemas.config import AUTO

SIZE_MULTIPLE = 4
UPSCALE_REPORTED = 2.0    # resizing up by more than this invents pixels: said in the run summary
DOWNSCALE_REPORTED = 4.0  # resizing down by more than this loses detail finer than ~4 source pixels


@dataclass(frozen=True)
class SizeChoice:
    size: int
    source: str                 # "auto" or "data.image_size"
    median_short_side: int      # 0 when no image size was recorded
    note: str                   # "" or one line on heavy up/downsampling, for the run summary

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def median_short_side(histogram: Mapping[Any, int]) -> int:
    """The median of a {short side: image count} histogram (keys may be JSON strings)."""
    counts = sorted((int(side), int(n)) for side, n in histogram.items() if int(n) > 0)
    total = sum(n for _, n in counts)
    if not total:
        return 0
    seen = 0
    for side, n in counts:
        seen += n
        if 2 * seen >= total:
            return side
    return counts[-1][0]


def auto_size(median: int, lowest: int, highest: int) -> int:
    """The rule itself: the median short side rounded up to a multiple of 4, clamped to [lowest, highest]."""
    rounded = -(-median // SIZE_MULTIPLE) * SIZE_MULTIPLE
    return max(lowest, min(highest, rounded))


def choose_image_size(setting: Any, histogram: Mapping[Any, int], lowest: int, highest: int,
                      backbone: str = RESNET_CNN) -> SizeChoice:
    """`setting` is data.image_size ("auto" or an int); `histogram` the ingested short sides."""
    median = median_short_side(histogram)
    lowest = auto_size_floor(backbone, lowest)
    if setting == AUTO:
        if not median:
            raise ValueError("data.image_size=auto needs the image sizes ImageExampleGen records in "
                             "manifest.json, and found none; set data.image_size to an integer")
        size, source = auto_size(median, lowest, highest), AUTO
    else:
        size, source = int(setting), "data.image_size"
    return SizeChoice(size, source, median, resize_note(size, median, lowest if source == AUTO else None, backbone))


def resize_note(size: int, median: int, auto_floor: Optional[int] = None, backbone: str = RESNET_CNN) -> str:
    """One line when the typical image is blown up more than 2x or shrunk more than 4x; else "".
    `auto_floor`: the floor when `auto` chose the size (then only the floor upsamples)."""
    if not median:
        return ""
    if size > UPSCALE_REPORTED * median:
        why = _floor_reason(auto_floor, backbone)
        return (f"images are upsampled {size / median:.1f}x (median short side {median} px -> {size} px): "
                f"training pays for pixels that carry no detail; {why}")
    if median > DOWNSCALE_REPORTED * size:
        return (f"images are downsampled {median / size:.1f}x (median short side {median} px -> {size} px): "
                f"detail finer than ~{median / size:.0f} source pixels is lost; raise data.image_size "
                f"(or data.image_size_auto_max) if the classes differ in fine detail")
    return ""


def _floor_reason(auto_floor: Optional[int], backbone: str) -> str:
    if auto_floor is None:
        return "data.image_size=auto picks a size near the images' own"
    if auto_floor == BACKBONES[backbone].auto_floor:
        return (f"data.image_size=auto never goes below {auto_floor} px for model.backbone={backbone}, "
                "whose ImageNet features fade on smaller images")
    return (f"data.image_size=auto never goes below data.image_size_auto_min={auto_floor} "
            "(docs/real_data.md: tiny images lose accuracy below it)")


def read_size_choice(transform_graph_uri: str) -> Optional[SizeChoice]:
    """The choice the Transform executor recorded in its graph (`image_size.json`), None before Transform ran.
    The summary's fallback where an orchestrator passes the artifact without its custom properties."""
    from components.fs import read_json
    from components.transform.spec import IMAGE_SIZE_FILE
    found = read_json(f"{transform_graph_uri.rstrip('/')}/{IMAGE_SIZE_FILE}") if transform_graph_uri else None
    return SizeChoice(**found) if found else None
