"""Image health checks: unreadable images and unpaired markers by line, exact and near duplicates, sizes, and image
tokens per example: tests/test_vision.py."""

import json

from studio.tasks.vision.health import check_images
from studio.tasks.vision.intake import load


def test_image_findings_name_their_lines(tmp_path):
    from PIL import Image, ImageDraw

    def picture(name, size=(64, 48), box=(8, 8, 30, 30), fmt=None):
        im = Image.new("RGB", size, (240, 240, 240))
        ImageDraw.Draw(im).rectangle([int(v * size[0] / 64) for v in box], fill=(20, 20, 160))
        im.save(tmp_path / name, format=fmt)

    picture("a.png")
    picture("b.png", box=(34, 20, 60, 44))           # another picture
    picture("a_small.jpg", size=(128, 96), fmt="JPEG")  # a resized, re-encoded copy of a.png
    (tmp_path / "a_copy.png").write_bytes((tmp_path / "a.png").read_bytes())
    Image.new("RGB", (3, 3), (0, 0, 0)).save(tmp_path / "dot.png")

    def row(images, text="<image> What is this?"):
        return {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "A box."}],
                "images": images}

    rows = [row(["a.png"]), row(["b.png"]), row(["a_small.jpg"]), row(["a_copy.png"]), row(["dot.png"]),
            row(["gone.png"]), row(["a.png"], "<image> and <image>?")]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = check_images(load(tmp_path / "d.jsonl"))
    found = {f.check: f.records for f in report.findings}
    assert found["image_unreadable"] == [6]
    assert found["image_markers"] == [7]
    assert found["image_duplicates"] == [4]
    assert found["image_near_duplicates"] == [3]  # b.png (line 2) is another picture; line 4 is an exact copy
    assert found["image_size"] == [5]
    assert report.rows == 5 and report.malformed == 2


def test_the_check_command_hands_image_data_to_its_task(tmp_path, capsys):
    from PIL import Image

    from studio.cli.main import main

    Image.new("RGB", (64, 48), (200, 20, 20)).save(tmp_path / "red.png")
    rows = [{"messages": [{"role": "user", "content": "<image> What colour?"}, {"role": "assistant", "content": "Red."}],
             "images": ["red.png"]}, {"messages": [{"role": "user", "content": "<image> And now?"},
                                                   {"role": "assistant", "content": "Red."}], "images": ["gone.png"]}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["check", str(tmp_path / "d.jsonl"), "--images", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 1 and any(f["check"] == "image_unreadable" for f in report["findings"])
    assert main(["check", str(tmp_path / "d.jsonl"), "--json"]) == 0  # without --images: the common text report
    assert "images" not in json.loads(capsys.readouterr().out)
