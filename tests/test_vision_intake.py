"""Reading conversations with images: every format keeps every image, and broken ones are named by record."""

import base64
import io
import json
import zipfile

import pytest

from studio.core.errors import StudioError
from studio.tasks.vision.intake import load


def _png(colour=(200, 30, 30), size=(20, 16)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _user_parts(url):
    return [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "What is it?"}]


def test_openai_image_url_parts_path_file_url_and_data_uri(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(_png())
    data_uri = "data:image/png;base64," + base64.b64encode(_png((0, 0, 255), (30, 10))).decode()
    rows = [{"messages": [{"role": "user", "content": _user_parts(url)}, {"role": "assistant", "content": "A square."}]}
            for url in ("pics/a.png", (tmp_path / "pics" / "a.png").as_uri(), data_uri)]
    ds = load(_jsonl(tmp_path / "d.jsonl", rows))
    assert len(ds.records) == 3 and not ds.malformed
    assert [r["image_sizes"] for r in ds.records] == [[[20, 16]], [[20, 16]], [[30, 10]]]
    assert ds.records[0]["images"] == ds.records[1]["images"] == [{"path": str((tmp_path / "pics" / "a.png").resolve())}]
    assert ds.records[0]["messages"][0]["content"] == [{"type": "image"}, {"type": "text", "text": "What is it?"}]


def test_sharegpt_images_column_with_markers_and_broken_images_by_line(tmp_path):
    for name in ("1.png", "2.png", "3.png"):
        (tmp_path / name).write_bytes(_png())
    (tmp_path / "broken.png").write_bytes(_png()[:40])  # cut short: the header reads, the pixels do not
    (tmp_path / "text.png").write_text("not an image")

    def row(value, images):
        return {"conversations": [{"from": "human", "value": value}, {"from": "gpt", "value": "Two pictures."}],
                "images": images}

    rows = [row("<image>Compare with <image>", ["1.png", "2.png"]),   # line 1: kept, images where the markers are
            row("<image><image> Same?", ["1.png"]),                      # line 2: two markers, one image
            row("<image> this", ["missing.png"]),                        # line 3: no such file
            row("<image> this", ["broken.png"]),                         # line 4: truncated
            row("<image> this", ["text.png"]),                           # line 5: not an image
            row("No marker here", ["3.png"])]                            # line 6: kept, the image leads the turn
    ds = load(_jsonl(tmp_path / "share.jsonl", rows))
    assert ds.lines == [1, 6]
    first = ds.records[0]["messages"][0]["content"]
    assert [p["type"] for p in first] == ["image", "text", "image"] and first[1]["text"] == "Compare with"
    assert [r["images"][0]["path"].rsplit("/", 1)[-1] for r in ds.records] == ["1.png", "3.png"]
    assert len(ds.records[0]["images"]) == 2
    problems = dict(ds.malformed)
    assert sorted(problems) == [2, 3, 4, 5]
    assert "2 <image> markers but the record has 1 image" in problems[2]
    assert "not found" in problems[3] and "missing.png" in problems[3]
    assert "not a readable image" in problems[4] and "not a readable image" in problems[5]


def test_parquet_with_image_bytes_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = [{"bytes": _png((i * 40, 0, 0)), "path": f"img{i}.png"} for i in range(3)]
    images[2] = {"bytes": b"garbage", "path": "bad.png"}
    table = pa.table({"question": ["What colour?"] * 3, "answer": ["Red."] * 3, "image": images})
    pq.write_table(table, tmp_path / "d.parquet")
    ds = load(tmp_path / "d.parquet")
    assert len(ds.records) == 2 and all("bytes" in r["images"][0] for r in ds.records)
    assert ds.malformed[0][0] == 3 and "image 1" in ds.malformed[0][1]

    # TRL's vision layout: image parts without a value place the images column's pictures, in order
    messages = [[{"role": "user", "content": [{"type": "text", "text": "Left or right?"}, {"type": "image", "text": None},
                                              {"type": "image", "text": None}]},
                 {"role": "assistant", "content": [{"type": "text", "text": "Left.", "image": None}]}]]
    pq.write_table(pa.table({"messages": messages, "images": [[images[0], images[1]]]}), tmp_path / "trl.parquet")
    rec = load(tmp_path / "trl.parquet").records[0]
    assert [p["type"] for p in rec["messages"][0]["content"]] == ["text", "image", "image"]
    assert [r["bytes"] for r in rec["images"]] == [images[0]["bytes"], images[1]["bytes"]]


def test_zip_with_data_and_images_relative_to_the_data_file(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "<image>What is it?"}, {"role": "assistant", "content": "A dot."}],
             "images": [f"images/{i}.png"]} for i in range(3)]
    zpath = tmp_path / "upload.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("set/data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        for i in range(3):
            z.writestr(f"set/images/{i}.png", _png((0, i * 50, 0)))
    ds = load(zpath)
    assert len(ds.records) == 3 and all(r["image_sizes"] == [[20, 16]] for r in ds.records)
    assert len(load(zpath).records) == 3  # read again from the folder already unpacked
    assert (tmp_path / "upload.zip.unpacked" / "set" / "images" / "2.png").exists()


def test_zip_cannot_write_or_read_outside_its_folder_and_is_size_capped(tmp_path):
    from studio.tasks.vision.archive import unpack

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.txt", "x")
        z.writestr("data.jsonl", "{}\n")
    with pytest.raises(StudioError, match="outside its folder"):
        unpack(evil)
    assert not (tmp_path / "outside.txt").exists()

    peek = tmp_path / "peek.zip"  # a data file inside a zip may not point at files beside the zip
    (tmp_path / "secret.png").write_bytes(_png())
    row = {"messages": [{"role": "user", "content": "<image>?"}, {"role": "assistant", "content": "ok"}],
           "images": ["../secret.png"]}
    with zipfile.ZipFile(peek, "w") as z:
        z.writestr("data.jsonl", json.dumps(row) + "\n")
    with pytest.raises(StudioError, match="outside the data's folder"):
        load(peek)

    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("data.jsonl", "{}\n" * 200_000)
    with pytest.raises(StudioError, match="over the 0 MB limit"):
        unpack(big, max_bytes=1000)


def test_web_addresses_are_not_fetched(tmp_path):
    rows = [{"messages": [{"role": "user", "content": _user_parts("https://example.org/cat.png")},
                          {"role": "assistant", "content": "A cat."}]}]
    with pytest.raises(StudioError, match="web address"):
        load(_jsonl(tmp_path / "d.jsonl", rows))


def test_csv_and_json_in_zips(tmp_path):
    for kind, data in (("csv", "question,answer,image\nWhat is it?,A dot.,p/0.png\nAnd this?,A line.,p/1.png\n"),
                       ("json", json.dumps([{"prompt": "What?", "completion": "A dot.", "images": ["p/0.png", "p/1.png"]}]))):
        zpath = tmp_path / f"{kind}.zip"
        with zipfile.ZipFile(zpath, "w") as z:
            z.writestr(f"qa.{kind}", data)
            z.writestr("p/0.png", _png())
            z.writestr("p/1.png", _png((1, 2, 3), (8, 8)))
        ds = load(zpath)
        assert sum(len(r["images"]) for r in ds.records) == 2 and not ds.malformed


def test_a_shared_studio_run_reads_no_image_beside_its_data(tmp_path):
    """A run someone started on a shared studio (its config has an owner) reads images inside its data's folder only."""
    from studio.core.config import StudioConfig
    from studio.tasks.vision import TASK

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "theirs.png").write_bytes(_png())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "ok.png").write_bytes(_png())
    rows = [{"messages": [{"role": "user", "content": "<image>?"}, {"role": "assistant", "content": "A."}],
             "images": [image]} for image in ("ok.png", "../other/theirs.png", str(tmp_path / "other" / "theirs.png"))]
    data = _jsonl(tmp_path / "mine" / "d.jsonl", rows)
    cfg = StudioConfig.from_dict({"task": "vision", "data": {"train": str(data), "eval_fraction": 0}, "owner": "bob"})
    train, _, info = TASK.load_splits(cfg)
    assert len(train) == 1 and info["malformed_rows"] == 2
    cfg.owner = ""  # on one's own machine the paths are one's own
    assert len(TASK.load_splits(cfg)[0]) == 3
