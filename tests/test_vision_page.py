"""The Data tab with pictures: a zip of image conversations is read by the vision task's intake, its images checked
(a broken one named by its line), previewed with small inline thumbnails, and the Train tab trains the vision task
on it; on a shared studio nobody else reaches the images and no server path is shown."""

import io
import json
import re
import zipfile
from types import SimpleNamespace

import pytest

from studio.server.runs import RunStore


def _png(colour, size=(40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(path, broken: bool = True):
    """Four conversations about coloured pictures; with ``broken``, line 3's image is missing from the zip."""
    rows, files = [], {}
    for i, (name, colour) in enumerate([("red", (220, 20, 20)), ("green", (20, 200, 20)), ("blue", (20, 20, 220)),
                                        ("grey", (128, 128, 128))], 1):
        files[f"images/{name}.png"] = _png(colour)
        rows.append({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"images/{name}.png"}},
                                                               {"type": "text", "text": "What colour is this?"}]},
                                  {"role": "assistant", "content": f"It is {name}."}]})
    if broken:
        del files["images/blue.png"]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        for name, data in files.items():
            zf.writestr(name, data)
    return str(path)


def handler(demo, api_name):
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def named(demo, fn_name):
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == fn_name)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    from studio.tasks.vision.tiny import build

    return build(tmp_path_factory.mktemp("vlm") / "tiny-vlm")


def test_a_vision_model_picks_the_vision_task_not_chat(tiny_vlm):
    from studio import tasks
    from studio.core import models

    info = models.describe(tiny_vlm)
    assert not tasks.get("chat").suits_model(info)
    assert tasks.for_model(info).name == "vision"
    assert tasks.for_model(models.describe("smollm2")).name == "chat"


def test_upload_a_zip_see_findings_thumbnails_and_train_it(tmp_path, tiny_vlm):
    from studio.ui.app import build_app
    from studio.ui.train_tab import build_config

    demo = build_app(tmp_path / "runs")
    zipped = make_zip(tmp_path / "colours.zip")
    out = handler(demo, "load_upload")(zipped, tiny_vlm, 256, {}, request=None)
    message, summary, report, flagged, preview, data = out[0], out[1], out[9], out[11], out[16], out[17]
    assert "Loaded 3 records" in message
    assert "4 records: 3 usable, 1 left out" in summary and "3 images" in summary
    assert "image_unreadable" in report and "line 3" in report  # the broken image, named by its line
    assert "line 3" in flagged and "images/blue.png" in flagged and str(tmp_path) not in summary + report + flagged
    thumbs = re.findall(r'<img src="data:image/png;base64,([^"]+)"', preview)
    assert len(thumbs) == 1 and "It is red." in preview
    from PIL import Image
    import base64

    small = Image.open(io.BytesIO(base64.b64decode(thumbs[0])))
    assert max(small.size) <= 96 and small.getpixel((5, 5))[:3] == (220, 20, 20)
    assert "image_tokens" in report  # a vision model: its processor counts the image tokens
    assert data["format"] == "vision" and data["task"] == "vision" and data["path"].endswith("colours.zip")
    assert "`media`" not in report  # not counted as media left out
    second = handler(demo, "preview_example")({"ds": None}, 1, 256)
    assert second == ""
    from studio.core import models

    task = named(demo, "task_from")(data, models.describe(tiny_vlm))
    cfg = build_config({"task": task}, tiny_vlm, data, task=task)
    assert cfg.task == "vision" and cfg.data.train == data["path"] and cfg.data.format == "vision"


def test_the_chat_tab_loads_a_vision_base_model_alone(tmp_path, tiny_vlm):
    from studio.ui.caches import ChatCache

    store = RunStore(tmp_path / "runs")
    chat = ChatCache().get(store.for_user(None), base_source=tiny_vlm)
    assert getattr(chat, "takes_images", False) and chat.tuned is None
    picture = tmp_path / "p.png"
    picture.write_bytes(_png((10, 10, 10)))
    reply = "".join(chat.stream([{"role": "user", "content": "What is it?"}], tuned=False, images=[str(picture)],
                                sampling=None))
    assert isinstance(reply, str)


def test_a_shared_studio_limits_the_zip_and_hides_paths(tmp_path):
    from studio.server.policy import Policy
    from studio.ui.access import Access
    from studio.ui.app import build_app
    from studio.ui.data_tab import analyse

    assert Policy().unzip_bytes(shared=True) == 200_000_000 and Policy().unzip_bytes(shared=False) is None
    policy = Policy(upload_mb=0.0002)  # 200 bytes: unpacked, the zip may hold 400
    demo = build_app(tmp_path / "runs", access=Access("users", policy=policy), store=RunStore(tmp_path / "runs"))
    ctx = demo.studio
    with pytest.raises(Exception, match=r"over the 0 MB limit|unpacks to"):
        analyse(ctx, make_zip(tmp_path / "big.zip"), "auto", None, "smollm2", 256)
    ctx.access.policy = Policy()
    runs = SimpleNamespace(shared=True, admin=False, store=SimpleNamespace(root=tmp_path / "runs"))
    loaded = analyse(ctx, make_zip(tmp_path / "small.zip"), "auto", None, "smollm2", 256, runs)
    text = json.dumps(loaded["report"]) + json.dumps(loaded["ds"].malformed)
    assert "blue.png" in text and str(tmp_path) not in text
    with pytest.raises(Exception) as refused:  # a JSONL whose image lies outside its folder: named without a path
        analyse(ctx, _outside(tmp_path), "auto", None, "smollm2", 256, runs)
    assert "outside the data's folder" in str(refused.value)


def _outside(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.png").write_bytes(_png((1, 2, 3)))
    (tmp_path / "mine").mkdir()
    row = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "../elsewhere/x.png"}},
                                                     {"type": "text", "text": "?"}]},
                        {"role": "assistant", "content": "x"}]}
    path = tmp_path / "mine" / "d.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return str(path)


def test_on_a_shared_studio_only_the_uploader_sees_the_pictures(tmp_path):
    """Alice uploads a zip of pictures: her preview carries them inline; Bob reaches neither her upload nor the
    unpacked images by their addresses, and his own session has nothing of hers."""
    import httpx
    from test_isolation import serve

    from studio.server.users import UserBook
    from studio.ui.access import Access

    gradio_client = pytest.importorskip("gradio_client")
    book = UserBook(tmp_path / "users.json")
    for name in ("alice", "bob"):
        book.add(name, f"{name}-password")
    store = RunStore(tmp_path / "runs", launcher="inline")
    demo, url = serve(tmp_path / "runs", Access("users", book), store)
    try:
        alice = gradio_client.Client(url, auth=("alice", "alice-password"), verbose=False)
        zipped = make_zip(tmp_path / "alice-pictures.zip")
        cached = httpx.post(f"{url}gradio_api/upload", files={"files": open(zipped, "rb")}, cookies=alice.cookies).json()[0]
        out = json.dumps(alice.predict(gradio_client.handle_file(zipped), api_name="/load_upload"), default=str)
        assert "Loaded 3 records" in out and out.count("data:image/png;base64,") == 1
        assert str(tmp_path) not in out and "images/blue.png" in out  # the missing image, by its name in the zip
        unpacked = next(store.root.rglob("alice-pictures.zip.unpacked"))
        image = unpacked / "images" / "red.png"
        assert image.exists()
        assert httpx.get(f"{url}gradio_api/file={cached}", cookies=alice.cookies).status_code == 200  # hers
        bob = gradio_client.Client(url, auth=("bob", "bob-password"), verbose=False)
        for path in (cached, str(image)):
            assert httpx.get(f"{url}gradio_api/file={path}", cookies=bob.cookies).status_code in (403, 404)
        assert httpx.get(f"{url}gradio_api/file={image}", cookies=alice.cookies).status_code in (403, 404)  # inline only
        mine = json.dumps(bob.predict(1, api_name="/preview_example"), default=str)
        assert "data:image" not in mine
    finally:
        demo.close()


def test_a_jsonl_with_image_parts_is_read_as_pictures_not_as_media(tmp_path):
    """A JSONL whose records hold image parts (images next to it, or inline data: URIs) goes to the vision reader."""
    import base64

    from studio.ui.app import build_app
    from studio.ui.data_tab import analyse

    (tmp_path / "a.png").write_bytes(_png((200, 0, 0)))
    inline = "data:image/png;base64," + base64.b64encode(_png((0, 0, 200))).decode()
    rows = [{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                       {"type": "text", "text": "Colour?"}]},
                          {"role": "assistant", "content": "A colour."}]} for url in ("a.png", inline)]
    path = tmp_path / "pics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    demo = build_app(tmp_path / "runs")
    loaded = analyse(demo.studio, str(path), "auto", None, "smollm2", 256)
    assert loaded["ds"].format == "vision" and len(loaded["ds"].records) == 2 and loaded["images"] == "conversations with 2 images"
    assert not any(f["check"] == "media" for f in loaded["report"]["findings"])
    (tmp_path / "a.png").unlink()  # uploaded alone, without its image: what to do instead
    path.write_text(json.dumps(rows[0]) + "\n")
    out = handler(demo, "load_upload")(str(path), "smollm2", 256, {}, request=None)
    assert "image file not found: a.png" in out[0] and "upload a .zip" in out[0] and str(tmp_path) not in out[0]
