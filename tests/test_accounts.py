"""Accounts on a shared studio: names a join code cannot take, runs owned by account ids (not reusable names),
sign-ins that end when the users file says so, limited sign-in tries, and the users CLI without a terminal."""

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from studio.core.errors import StudioError
from studio.server.runs import RunStore
from studio.ui.access import Access
from studio.ui.attempts import AttemptLimit
from studio.ui.sign_in import session_token
from studio.server.users import UserBook
from tests.test_isolation import alice_run, handler, serve, text_of

gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")


def later(monkeypatch, seconds: float) -> None:
    now = time.time() + seconds
    monkeypatch.setattr(time, "time", lambda: now)


def test_a_join_code_cannot_take_an_admins_or_a_users_name(tmp_path):
    book = UserBook(tmp_path / "users.json")
    book.add("ana", "ana-password")
    access = Access("users", book, admins=("teacher", "ana"))
    code, helper = book.make_codes(1, hours=1)[0], book.make_codes(1, hours=1, admin=True)[0]
    for name in ("teacher", "Teacher", "ana", "ANA"):  # an admin named by the operator, a password user
        assert not access.sign_in(name, code), name
    assert access.sign_in("kim", code)
    assert not access.identity(SimpleNamespace(username="kim")).admin
    assert access.identity(SimpleNamespace(username="ana")).admin  # admin by name: a password user
    who = access.identity(SimpleNamespace(username="teacher"))  # the name alone, with no account, is nobody
    assert not who.admin and who.id is None
    assert access.sign_in("helper", helper) and access.identity(SimpleNamespace(username="helper")).admin
    with pytest.raises(StudioError, match="only an admin"):
        access.all_runs(RunStore(tmp_path / "runs"), SimpleNamespace(username="kim"))


def test_a_reused_name_gets_a_new_account_and_none_of_the_old_runs(tmp_path, monkeypatch):
    book = UserBook(tmp_path / "users.json")
    access = Access("users", book)
    store = RunStore(tmp_path / "runs")
    book.add("lee", "lee-password")
    old_lee = book.holder("lee").id
    book.add("lee", "new-password")  # a new password keeps the account
    assert book.holder("lee").id == old_lee
    alice_run(store, owner=old_lee)
    book.remove("lee")
    book.add("lee", "lee-password")
    assert book.holder("lee").id != old_lee
    assert access.runs(store, SimpleNamespace(username="lee")).list() == []
    assert book.label(old_lee) == "removed: lee" and book.label(book.holder("lee").id) == "lee"

    first = book.make_codes(1, hours=1)[0]
    assert access.sign_in("kim", first)
    kim = book.holder("kim").id
    kim_dir = access.runs(store, SimpleNamespace(username="kim")).data_dir
    later(monkeypatch, 3601)  # the first code expires; the next one picks the same name
    assert book.account(kim) is None and not access.sign_in("kim", first)
    more = book.make_codes(1, hours=1)[0]  # clears the expired code out, keeping its name for the Admin tab
    assert access.sign_in("kim", more)
    new_kim = access.runs(store, SimpleNamespace(username="kim"))
    assert new_kim.owner != kim and new_kim.data_dir != kim_dir
    assert book.label(kim) == "removed: kim"


def test_entries_without_an_id_keep_their_name_as_id(tmp_path):
    book = UserBook(tmp_path / "users.json")
    book.add("ana", "ana-password")
    data = json.loads(book.path.read_text())
    del data["users"]["ana"]["id"]  # a users file written before account ids
    book.path.write_text(json.dumps(data))
    store = RunStore(tmp_path / "runs")
    run_id, _ = alice_run(store, owner="ana")  # a run started then: its owner is the name
    access = Access("users", book)
    assert access.sign_in("ana", "ana-password")
    assert [r.id for r in access.runs(store, SimpleNamespace(username="ana")).list()] == [run_id]


def test_users_add_without_a_terminal_says_what_to_do(tmp_path):
    out = subprocess.run([sys.executable, "-m", "studio", "users", "--file", str(tmp_path / "u.json"), "add", "ana"],
                         stdin=subprocess.DEVNULL, text=True, capture_output=True, timeout=60, check=False)
    assert out.returncode == 2, out
    assert "--password-stdin" in out.stderr and "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "u.json").exists()


def test_attempts_wait_longer_after_each_failure_and_a_success_resets():
    clock = [0.0]
    limit = AttemptLimit(free_per_name=2, free_per_address=4, first_wait=5, max_wait=12, clock=lambda: clock[0])
    assert limit.start("ana", "a") == 0 and limit.start("ana", "a") == 0  # two tries sent together: both counted
    assert limit.start("Ana", "b") == 5  # per name, whatever the address; refused tries do not count
    clock[0] = 5
    assert limit.start("ana", "a") == 0
    assert limit.start("ana", "a") == 10  # doubled
    clock[0] = 15
    assert limit.start("ana", "a") == 0
    assert limit.start("ana", "a") == 12  # the cap
    limit.succeeded("ana", "a")
    assert limit.start("ana", "c") == 0
    for name in ("b1", "b2", "b3"):  # one address trying many names
        assert limit.start(name, "x") == 0
    limit.succeeded("b3", "x")  # a right password takes back only its own try
    assert limit.start("b4", "x") == 0 and limit.start("b5", "x") == 0
    assert limit.start("b6", "x") == 5 and limit.start("b6", "y") == 0


@pytest.fixture(scope="module")
def studio(tmp_path_factory):

    root = tmp_path_factory.mktemp("accounts")
    book = UserBook(root / "users.json")
    for name in ("teach", "ana", "bob", "cy"):
        book.add(name, f"{name}-password", admin=name == "teach")
    store = RunStore(root / "runs", launcher="inline")
    run_id, _ = alice_run(store, owner=book.holder("ana").id)
    access = Access("users", book, attempts=AttemptLimit(free_per_name=3, first_wait=1.5, max_wait=3))
    demo, url = serve(root / "runs", access, store)
    yield {"url": url, "demo": demo, "store": store, "book": book, "run_id": run_id,
           "access": access}
    demo.close()


def client(studio, name, password=None):
    return gradio_client.Client(studio["url"], auth=(name, password or f"{name}-password"), verbose=False)


def test_an_admin_hands_a_run_over(studio):
    book, rid = studio["book"], studio["run_id"]
    bob = book.holder("bob").id
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio: cy was offered no runs
        client(studio, "cy").predict(rid, bob, api_name="/admin_hand_over")
    assert "only an admin" in text_of(handler(studio["demo"], "admin_hand_over")(rid, bob, request=SimpleNamespace(
        username="cy")))
    assert studio["store"].info(rid).owner == book.holder("ana").id
    teach = client(studio, "teach")
    rows, _, _, to = teach.predict(None, api_name="/admin_runs")
    assert "ana" in text_of(rows) and bob in text_of(to)
    assert "now belongs to **bob**" in text_of(teach.predict(rid, bob, api_name="/admin_hand_over"))
    assert studio["store"].info(rid).owner == bob
    table, _ = client(studio, "bob").predict(None, api_name="/list_runs")
    assert rid in text_of(table)
    table, _ = client(studio, "ana").predict(None, api_name="/list_runs")
    assert rid not in text_of(table)


def test_a_removed_user_is_signed_out_at_the_next_call(studio):
    cy = client(studio, "cy")
    cy.predict(None, api_name="/list_runs")
    token = session_token(cy.cookies)
    assert token in studio["demo"].server_app.tokens
    studio["book"].remove("cy")
    with pytest.raises(httpx.HTTPStatusError, match="401"):  # Gradio no longer knows the session
        cy.predict(None, api_name="/list_runs")
    assert token not in studio["demo"].server_app.tokens
    with httpx.Client() as web:  # a browser: its cookie is dropped
        assert web.post(studio["url"] + "login", data={"username": "bob", "password": "bob-password"}).is_success
        studio["book"].remove("bob")
        answer = web.get(studio["url"] + "config")
        assert answer.status_code == 401 and "Max-Age=0" in answer.headers["set-cookie"]
        assert not [c for c in web.cookies.jar if c.name.startswith("access-token") and not c.secure]
    studio["book"].add("bob", "bob-password")
    studio["book"].add("cy", "cy-password")  # a new cy: a new account, and a new sign-in works
    client(studio, "cy").predict(None, api_name="/list_runs")


def test_a_handler_refuses_a_session_whose_account_ended(studio):
    access, book = studio["access"], studio["book"]
    code = book.make_codes(1, hours=1)[0]
    assert access.sign_in("dee", code)
    access.remember("dee-token", book.holder("dee").id)
    request = SimpleNamespace(username="dee", cookies={"access-token-x": "dee-token"})
    show = handler(studio["demo"], "show_run")
    assert "no run named" in text_of(show(studio["run_id"], request=request))  # dee is signed in; not her run
    data = json.loads(book.path.read_text())
    next(c for c in data["codes"] if c.get("user") == "dee")["expires"] = time.time() - 1  # the code expires
    book.path.write_text(json.dumps(data))
    assert "sign in again" in text_of(show(studio["run_id"], request=request))
    assert access.identity(request).ended


def test_sign_in_tries_are_limited_on_the_login_route(studio):
    login = studio["url"] + "login"
    with httpx.Client() as web:
        for _ in range(2):
            assert web.post(login, data={"username": "ana", "password": "wrong"}).status_code == 400
        form = {"username": (None, "ana"), "password": (None, "wrong")}  # as the page sends it: multipart
        assert web.post(login, files=form).status_code == 400
        refused = web.post(login, data={"username": "ana", "password": "ana-password"})
        assert refused.status_code == 429 and "wait 2 seconds" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "2"
        other = web.post(login, data={"username": "bob", "password": "bob-password"})  # another name is not held up
        assert other.status_code == 200
        time.sleep(1.6)
        assert web.post(login, data={"username": "ana", "password": "ana-password"}).status_code == 200
        assert web.post(login, data={"username": "ana", "password": "wrong"}).status_code == 400  # reset: no wait
        assert web.post(login, data={"username": "ana", "password": "ana-password"}).status_code == 200
    assert "Sign-in is limited" in studio["demo"].auth_message

    def wrong(_):
        with httpx.Client() as web:
            return web.post(login, data={"username": "eve", "password": "wrong"}).status_code

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:  # tries sent together: only the free ones reach the password check
        codes = list(pool.map(wrong, range(8)))
    assert sorted(codes) == [400] * 3 + [429] * 5, codes


def test_an_expired_codes_session_never_opens_the_next_holder_of_its_name(studio):
    book = studio["book"]
    first, second = book.make_codes(2, hours=1)
    old = client(studio, "kim", first)
    old.predict(None, api_name="/list_runs")
    data = json.loads(book.path.read_text())
    next(c for c in data["codes"] if c.get("user") == "kim")["expires"] = time.time() - 1
    book.path.write_text(json.dumps(data))
    new = client(studio, "kim", second)  # the same name, a new account
    new.predict(None, api_name="/list_runs")
    with pytest.raises(httpx.HTTPStatusError, match="401"):  # the cookie's name is "kim"; its account is gone
        old.predict(None, api_name="/list_runs")
    assert "kim" in [n for n, _ in studio["access"].signed_in()]
