"""Small data says so: one line in the run summary and the HTML report below the measured per-class floor."""
from components.trainer.small_data import MIN_TRAIN_IMAGES_PER_CLASS, small_data_line
from pipeline.history.report.render import render
from pipeline.history.summary import RunSummary, format_summary

ENOUGH = MIN_TRAIN_IMAGES_PER_CLASS


def test_the_line_names_the_smallest_class_the_floor_and_both_remedies():
    line = small_data_line({"cat": ENOUGH * 3, "dog": ENOUGH - 1, "fox": ENOUGH * 2})
    assert line == (f"Small data: class 'dog' has {ENOUGH - 1} training image(s); below {ENOUGH} per class the CNN "
                    "trained from scratch is unreliable (docs/model.md#small-data): add images, or fine-tune a "
                    "pretrained backbone (--set model.backbone=mobilenet_v3_small).")


def test_no_line_when_every_class_reaches_the_floor_or_nothing_was_counted():
    assert small_data_line({"cat": ENOUGH, "dog": ENOUGH + 5}) == ""
    assert small_data_line({}) == ""


def test_no_line_when_a_pretrained_backbone_is_the_network_already():
    assert small_data_line({"cat": 3, "dog": 4}, backbone="mobilenet_v3_small") == ""
    assert small_data_line({"cat": 3, "dog": 4}, backbone="resnet_cnn").startswith("Small data: class 'cat' has 3 ")


def test_the_summary_prints_the_line_once_after_the_data_warnings():
    line = small_data_line({"a": 10, "b": 12})
    lines = format_summary(RunSummary(run_id="r", data_warnings=["[x] y"], small_data=line)).splitlines()
    assert lines.count(line) == 1 and lines.index(line) == lines.index("Data warning: [x] y") + 1
    assert not any(l.startswith("Small data") for l in format_summary(RunSummary(run_id="r")).splitlines())


def test_the_report_shows_the_line_under_the_verdict():
    line = small_data_line({"a": 10, "b": 12})
    summary = {"blessed": True, "forced": False, "force_reason": "", "accuracy": 0.9, "baseline_accuracy": None,
               "baseline_source": "", "pushed_path": "/s/1", "error": "", "split_sizes": {"train": 22},
               "infra_check": None, "data_warnings": [], "small_data": line}
    facts = {"run_id": "r", "pipeline_name": "imgpipe", "decision": {"blocked_by": "", "summary": summary}}
    html = render(facts)
    assert html.index('<p class="verdict ok">Blessed</p>') < html.index(
        "Small data: class &#x27;a&#x27; has 10 training image(s)")
