"""A shared studio where a session id or a file address reaches nothing of another person's.

Alice loads a data file with a secret in it. Bob, signed in as himself, uses her session id (seen in a proxy log),
her uploaded file's address and her export's address, and calls every public endpoint of the app with them: he
gets nothing of hers, and nothing of hers changes. Refusals read the same whether or not the thing exists, and no
page, config or refusal names a path on the server."""

import json
import re
from pathlib import Path

import httpx
import pytest

from studio.server.runs import RunStore
from studio.server.users import UserBook

gradio_client = pytest.importorskip("gradio_client")

SECRET = "ALICE-SESSION-SECRET-5519"  # in Alice's uploaded data, her run and her export: must never reach Bob



@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from test_isolation import alice_run, serve

    from studio.ui.access import Access

    root = tmp_path_factory.mktemp("sessions")
    book = UserBook(root / "users.json")
    for name in ("alice", "bob"):
        book.add(name, f"{name}-password")
    store = RunStore(root / "runs", launcher="inline")
    run_id, _ = alice_run(store, owner=book.holder("alice").id)
    export = store.root / run_id / "export"
    export.mkdir()
    (export / "README.md").write_text(f"# {SECRET}\n")
    (store.root / run_id / "export.zip").write_text(SECRET)
    demo, url = serve(root / "runs", Access("users", book), store)
    alice = client(url, "alice")
    upload = root / "alice-upload.jsonl"
    upload.write_text("".join(json.dumps({"prompt": f"{SECRET} question {i}", "completion": f"answer {i}"}) + "\n"
                              for i in range(4)) + json.dumps({"prompt": f"{SECRET} question 0",
                                                               "completion": "answer 0"}) + "\n")
    cached = httpx.post(f"{url}gradio_api/upload", files={"files": upload.open("rb")}, cookies=alice.cookies).json()[0]
    out = alice.predict(gradio_client.handle_file(str(upload)), api_name="/load_upload")
    assert "Loaded 5 records" in out[0], out[0]
    try:
        yield {"url": url, "demo": demo, "store": store, "root": root, "run_id": run_id, "alice": alice,
               "cached": cached, "book": book}
    finally:
        demo.close()


def client(url, name):
    return gradio_client.Client(url, auth=(name, f"{name}-password"), verbose=False)


def text_of(result) -> str:
    return json.dumps(result, default=str)


def alice_sees_her_data(shared) -> bool:
    return SECRET in text_of(shared["alice"].predict(1, api_name="/preview_example"))


def test_alice_sees_her_own_data_so_the_secret_would_show(shared):
    assert alice_sees_her_data(shared)
    page = httpx.get(f"{shared['url']}gradio_api/file={shared['cached']}", cookies=shared["alice"].cookies)
    assert page.status_code == 200 and SECRET in page.text
    link = f"{shared['url']}studio/download/{shared['run_id']}/export/README.md"
    assert SECRET in httpx.get(link, cookies=shared["alice"].cookies).text


def test_another_persons_session_id_opens_an_empty_session(shared):
    bob = client(shared["url"], "bob")
    bob.session_hash = shared["alice"].session_hash  # seen in a proxy log
    for api_name, args in (("/reload_data", ("auto", "", "", "", "")), ("/preview_example", (1,)),
                           ("/apply_fixes", (["drop_duplicates"],)), ("/fill_placeholders", ("", "", "", "", "", "")),
                           ("/train_estimate", ()), ("/model_estimate", ("lora",))):
        try:
            out = text_of(bob.predict(*args, api_name=api_name))
        except Exception as err:  # noqa: BLE001 - a refusal is fine; her data in it is not
            out = str(err)
        assert SECRET not in out and "alice-upload" not in out, (api_name, out[:300])
    assert not list((shared["store"].user_dir("bob") / "versions").glob("*")), "her records were written to his folder"
    assert alice_sees_her_data(shared)  # her session is still hers
    bob.predict("pirate_style.jsonl", api_name="/load_sample")  # the id works for him as a session of his own
    assert "capital of France" in text_of(bob.predict(1, api_name="/preview_example"))
    assert alice_sees_her_data(shared) and "capital of France" not in text_of(
        shared["alice"].predict(1, api_name="/preview_example"))


def test_a_session_state_serves_only_the_person_it_was_made_for():
    """Below the per-person session ids: a session's state, reached by anyone else, is a fresh empty one."""
    import gradio as gr
    from gradio.state_holder import SessionState

    from studio.ui.sessions import bind

    with gr.Blocks() as blocks:
        data = gr.State({})
    state = SessionState(blocks)
    assert bind(state, "alice", blocks) is state
    state[data._id] = {"path": SECRET}
    assert bind(state, "alice", blocks) is state and state[data._id] == {"path": SECRET}
    other = bind(state, "bob", blocks)
    assert other is not state and other[data._id] == {}
    assert bind(state, None, blocks) is not state  # nobody signed in: not hers either


def test_deep_links_are_off(shared):
    """Gradio's deep link copies a session's whole page to whoever opens the link: none is made, none is loaded."""
    from pathlib import Path

    url, cookies = shared["url"], client(shared["url"], "bob").cookies
    assert httpx.get(f"{url}gradio_api/deep_link", params={"session_hash": shared["alice"].session_hash},
                     cookies=cookies).json() == ""
    own = httpx.get(f"{url}gradio_api/deep_link", params={"session_hash": shared["alice"].session_hash},
                    cookies=shared["alice"].cookies).json()
    assert own == ""  # not even her own: a link in a log would copy her page to whoever opens it
    saved = Path(shared["demo"].server_app.uploaded_file_dir) / "deep_links" / "alices-page"
    saved.mkdir(parents=True, exist_ok=True)  # as Gradio stores one
    (saved / "state.json").write_text(json.dumps([{"id": 1, "type": "markdown", "props": {"value": SECRET}}]))
    for page in ("config", ""):
        answer = httpx.get(f"{url}{page}", params={"deep_link": "alices-page"}, cookies=cookies)
        assert answer.status_code == 200 and SECRET not in answer.text


def test_the_file_cache_serves_each_person_only_their_own(shared):
    url, bob = shared["url"], client(shared["url"], "bob")
    theirs = httpx.get(f"{url}gradio_api/file={shared['cached']}", cookies=bob.cookies)
    missing = shared["cached"].rsplit("/", 1)[0] + "/no-such-file.jsonl"
    nothing = httpx.get(f"{url}gradio_api/file={missing}", cookies=bob.cookies)
    assert theirs.status_code == nothing.status_code == 403 and SECRET not in theirs.text
    assert theirs.json()["detail"].replace(shared["cached"], "X") == nothing.json()["detail"].replace(missing, "X")


def test_a_file_two_people_upload_stays_each_ones(tmp_path):
    """Gradio stores the same upload once: both people who sent it may fetch it, nobody else."""
    from studio.ui.served import FileBook

    book, path = FileBook(), tmp_path / "same.jsonl"
    book.record(path, "alice")
    book.record(path, "bob")
    assert book.owns(path, "alice") and book.owns(path, "bob") and not book.owns(path, "carol")
    assert not book.owns(path, None) and not book.owns(tmp_path / "other.jsonl", "alice")


def test_uploads_are_accepted_only_from_the_callers_own(shared):
    from types import SimpleNamespace

    from test_isolation import handler

    demo, as_bob = shared["demo"], SimpleNamespace(username="bob")
    theirs = text_of(handler(demo, "load_upload")(shared["cached"], "smollm2", 256, {}, request=as_bob)[0])
    missing = shared["cached"].rsplit("/", 1)[0] + "/alice-upload.jsonl-gone"
    nothing = text_of(handler(demo, "load_upload")(missing, "smollm2", 256, {}, request=as_bob)[0])
    name = shared["cached"].rsplit("/", 1)[1]
    assert f"no file named '{name}'" in theirs and SECRET not in theirs
    assert theirs.replace(name, "X") == nothing.replace("alice-upload.jsonl-gone", "X")
    own = text_of(handler(demo, "load_upload")(shared["cached"], "smollm2", 256, {},
                                               request=SimpleNamespace(username="alice"))[0])
    assert "Loaded 5 records" in own


def test_downloads_are_per_person_and_refusals_all_alike(shared):
    url, rid = shared["url"], shared["run_id"]
    bob = client(url, "bob").cookies
    answers = [httpx.get(f"{url}studio/download/{r}/{p}", cookies=c) for r, p, c in (
        (rid, "export/README.md", bob), (rid, "export.zip", bob), (rid, "export/nothing.md", bob),
        ("no-such-run", "export/README.md", bob), (rid, "config.yaml", shared["alice"].cookies),
        (rid, "export%2F..%2F..%2F..%2Fusers.json", shared["alice"].cookies))]
    assert {a.status_code for a in answers} == {404} and len({a.text for a in answers}) == 1
    assert SECRET not in "".join(a.text for a in answers)
    assert httpx.get(f"{url}studio/download/{rid}/export.zip").status_code in (401, 403, 404)  # not signed in


def test_model_paths_in_the_runs_folder_read_alike(shared):
    """Another person's model folder reads exactly like a folder that does not exist."""
    from types import SimpleNamespace

    from test_isolation import handler

    demo, root = shared["demo"], shared["store"].root
    describe = handler(demo, "describe_model")

    def said(path):
        out = describe("Local folder or .gguf file", "smollm2", "", str(path), "lora", {},
                       request=SimpleNamespace(username="bob"))
        return text_of(out[0]).replace(path.name, "X")

    assert said(root / shared["run_id"] / "model") == said(root / "20990101-no-such-run" / "model")
    assert said(root / shared["run_id"]) == said(root / "20990101-no-such-run")
    bob = shared["store"].for_user("bob")  # the run store's own check, below the tab's

    def refused(path):
        with pytest.raises(Exception) as err:
            bob.check_model(str(path))
        return str(err.value).replace(path.name, "X")

    assert refused(root / shared["run_id"] / "model") == refused(root / "20990101-no-such-run" / "model")


REPO = str(Path(__file__).resolve().parents[1])
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:tmp|home|root|data|app|var|work|usr|etc|opt|srv)/[\w.\-/]+")


def test_no_server_path_in_the_config_or_in_refusals(shared):
    url, bob = shared["url"], client(shared["url"], "bob")
    config = httpx.get(f"{url}config", cookies=bob.cookies).text
    assert not ABSOLUTE.findall(config), ABSOLUTE.findall(config)[:5]
    root = str(shared["root"])
    for api_name, args in (("/load_sample", ("pirate_style.jsonl",)),
                           ("/describe_model", ("Local folder or .gguf file", "smollm2", "",
                                                f"{shared['store'].root}/{shared['run_id']}/model", "lora"))):
        out = text_of(bob.predict(*args, api_name=api_name))
        assert root not in out and "/tmp/" not in out, (api_name, out[:300])


def every_endpoint(api) -> dict:
    return api["named_endpoints"]


def test_every_endpoint_with_her_session_and_her_file_addresses(shared):
    """Bob calls every public endpoint (listed from the app's API, so a new one is covered too) with his own
    session and with hers, each string parameter set in turn to her file addresses: nothing of hers comes back,
    and her session and files are unchanged."""
    bob = client(shared["url"], "bob")
    rid = shared["run_id"]
    probes = [shared["cached"], f"{shared['store'].root}/{rid}/export.zip", f"/gradio_api/file={shared['cached']}"]
    endpoints = every_endpoint(bob.view_api(return_format="dict", print_info=False))
    assert {"/reload_data", "/preview_example", "/apply_fixes", "/train_estimate", "/load_upload"} <= set(endpoints)
    skip = {"/start_training"}  # trains: covered by test_isolation's run started from the page
    no_text = {"/chat"}  # its first text is a message both models answer (slow): called without one
    calls = 0
    for session in (bob.session_hash, shared["alice"].session_hash):
        bob.session_hash = session
        for name, info in endpoints.items():
            if name in skip:
                continue
            params = info["parameters"]
            slots = [i for i, p in enumerate(params) if (p.get("python_type") or {}).get("type") == "str"]
            probed = [] if name in no_text else [(s, p) for s in slots[:1] for p in probes]
            for slot, probe in [(None, None)] + probed:
                args = [p["parameter_default"] if p.get("parameter_has_default") else None for p in params]
                if slot is not None:
                    args[slot] = probe
                try:
                    out = text_of(bob.predict(*args, api_name=name))
                except Exception as err:  # noqa: BLE001 - a refusal is fine; her data in it is not
                    out = str(err)
                calls += 1
                assert SECRET not in out, (name, session, probe, out[max(0, out.find(SECRET) - 300):][:600])
                said = out.replace(json.dumps(probe)[1:-1], "") if probe else out  # his own words echoed back
                for server_path in (str(shared["root"]), REPO):  # neither the runs folder nor the studio's own
                    assert server_path not in said, (name, probe, said[max(0, said.find(server_path) - 200):][:400])
    assert calls > 30
    assert alice_sees_her_data(shared)
    assert (shared["store"].root / rid / "export.zip").read_text() == SECRET
    assert shared["store"].info(rid).state == "finished"


def test_session_ids_are_read_per_person_with_hugging_face_sign_in_too():
    """On a Space the person comes from the sign-in session, not Gradio's cookie: the same session id sent by two
    people reaches Gradio as two sessions, and unchanged before anyone signs in."""
    import asyncio
    import time
    from types import SimpleNamespace

    from studio.ui.access import Access
    from studio.ui.served import FileBook, PersonalRoutes

    seen = []

    async def gradio(scope, receive, send):
        seen.append(json.loads((await receive())["body"])["session_hash"])

    app = SimpleNamespace(uploaded_file_dir="/nonexistent-cache", auth_dependency=None, cookie_id="c", tokens={})
    routes = PersonalRoutes(gradio, gradio_app=app, ctx=SimpleNamespace(access=Access("hf"), files=FileBook()))

    def join(name):
        body = json.dumps({"data": [], "session_hash": "same-id"}).encode()
        info = {"userinfo": {"preferred_username": name}, "expires_at": time.time() + 600} if name else {}
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "query_string": b"",
                 "headers": [(b"content-length", str(len(body)).encode())], "session": {"oauth_info": info}}

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        asyncio.run(routes(scope, receive, None))

    for name in ("alice", "bob", "alice", None):
        join(name)
    assert seen[0] == seen[2] != seen[1] and len({seen[0], seen[1], seen[3]}) == 3 and seen[3] == "same-id"


def test_a_finished_run_names_its_model_folder_without_the_server_path(tmp_path):
    """The run view's "Model saved in" line: relative to the runs folder for its owner on a shared studio, whole
    in single-user mode and the Admin tab."""
    from test_isolation import alice_run

    from studio.ui.runview import snapshot

    store = RunStore(tmp_path / "runs", launcher="inline")
    run_id, _ = alice_run(store, owner="alice-id")
    mine = snapshot(store.for_user("alice-id"), run_id, figure=False).status_md
    assert f"`{run_id}/model`" in mine and str(tmp_path) not in mine
    everyone = store.for_user(None, admin=True)  # single-user mode and the Admin tab
    assert f"{store.root}/{run_id}/model" in snapshot(everyone, run_id, figure=False).status_md
