"""Who is signed in (the banner above the tabs) and the Admin tab: every run with its owner, state, device, place
in the queue, time and disk; stop, delete or hand over any run; who is signed in. The tab is built only on a
shared studio, shown only to admins, and every one of its handlers checks on the server that the caller is an
admin."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from studio.ui.common import STATE_ICONS, error_md, esc, explain, ok_md, short_model

TITLE = "Admin"
COLUMNS = ("Run", "Owner", "State", "Steps", "Device", "Queue", "Elapsed", "Disk", "Model")
OPEN_WARNING = ("This studio is open to anyone who can reach this address, with no sign-in: everyone sees and can "
                "stop everyone's runs. For a shared server, start it with STUDIO_USERS=FILE (python -m studio users add "
                "NAME) or serve it on 127.0.0.1.")


def banner(ctx) -> None:
    """Above the tabs: who is signed in and the limits here, or a warning on an open server."""
    box = gr.Markdown(elem_id="studio-banner")
    if ctx.access.mode == "hf":
        gr.LoginButton()

    def fill(request: gr.Request = None):
        lines = []
        if ctx.access.mode == "single":
            if ctx.host not in ("127.0.0.1", "localhost", "::1"):
                lines.append(f"**⚠ {esc(OPEN_WARNING)}**")
        else:
            who = ctx.access.identity(request)
            if who.ended:
                lines.append("**Your sign-in has ended** (the account was removed or its join code expired). "
                             "[Sign in again](/logout).")
            elif who.id:
                out = " · [Sign out](/logout)" if ctx.access.mode == "users" else ""
                lines.append(f"Signed in as **{esc(who.name)}**{' (admin)' if who.admin else ''}{out}. "
                             "Your runs and files are yours alone.")
            else:
                lines.append("**Sign in with Hugging Face** (the button above) to train, chat and export.")
        limits = ctx.access.policy.lines(shared=ctx.access.shared)
        if limits:
            lines.append("Limits here: " + "; ".join(esc(x) for x in limits) + ".")
        return "\n\n".join(lines)

    ctx.on_load.append((fill, [], [box]))


def _elapsed(info, events: list[dict]) -> str:
    starts = [e for e in events if e.get("type") == "start"]
    if info.state == "queued" or not starts:
        return ""
    logs = [e for e in events if e.get("type") == "log"]
    seconds = (logs[-1].get("elapsed") if logs else 0) or (time.time() - info.created if info.state == "running" else 0)
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _disk(path: str) -> str:
    total = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return f"{total / 1e6:.0f} MB" if total < 1e9 else f"{total / 1e9:.1f} GB"


def admin_rows(runs, owner_label=lambda owner: owner or "(none)") -> list[list]:
    rows = []
    for r in runs.list():
        folder = runs.folder(r.id)
        status = folder.read_status()
        devices = ",".join(str(d) for d in (status.get("launch") or {}).get("devices") or []) or \
            ("cpu" if r.state == "running" else "")
        position = runs.store.queue_position(r.id) if r.state == "queued" else None
        rows.append([r.id, owner_label(r.owner), f"{STATE_ICONS.get(r.state, '')} {r.state}",
                     f"{r.step}/{r.max_steps}" if r.max_steps else str(r.step), devices, position or "",
                     _elapsed(r, folder.read_events(("start", "log"))), _disk(r.path), short_model(r.model)])
    return rows


def build(ctx):
    gr.Markdown("### Admin\nEvery run on this studio, whoever started it. Stop, delete or hand over any run; see who is "
                "signed in.")
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Run", scale=4, elem_id="admin-pick")
        refresh = gr.Button("↻ Refresh", scale=1, elem_id="admin-refresh")
    table = gr.Dataframe(headers=list(COLUMNS), value=[], interactive=False, wrap=True, elem_id="admin-table")
    with gr.Row():
        stop = gr.Button("■ Stop", variant="stop", elem_id="admin-stop")
        delete = gr.Button("Delete run", elem_id="admin-delete")
    with gr.Row():
        to = gr.Dropdown(choices=[], label="Hand the run over to", scale=4, elem_id="admin-to")
        hand = gr.Button("Hand over", scale=1, elem_id="admin-hand-over")
    message = gr.Markdown(elem_id="admin-message")
    people = gr.Markdown(elem_id="admin-people")

    def listing(current=None, request: gr.Request = None):
        try:
            runs = ctx.access.all_runs(ctx.store, request)
            rows = admin_rows(runs, ctx.access.owner_label)
        except Exception as err:  # noqa: BLE001 - not an admin, or an unreadable folder
            return [], gr.update(choices=[], value=None), explain(err), gr.update(choices=[], value=None)
        ids = [row[0] for row in rows]
        seen = ctx.access.signed_in()
        who = ", ".join(f"{esc(n)} ({int((time.time() - t) // 60)} min ago)" for n, t in seen) or "nobody in the last 10 minutes"
        return (rows, gr.update(choices=ids, value=current if current in ids else None), f"**Signed in:** {who}",
                gr.update(choices=ctx.access.accounts(), value=None))

    listed = [table, pick, people, to]
    refresh.click(listing, [pick], listed, api_name="admin_runs")

    def do(action: str, run_id, request: gr.Request = None):
        try:
            runs = ctx.access.all_runs(ctx.store, request)
            if not run_id:
                return "Pick a run first."
            if action == "stop":
                runs.stop(run_id)
                return ok_md(f"Stopping **{esc(run_id)}** after its current step.")
            ctx.chats.drop(run_id)
            runs.delete(run_id)
            return ok_md(f"Deleted **{esc(run_id)}** and its folder.")
        except Exception as err:  # noqa: BLE001
            return explain(err)

    def stop_any(run_id, request: gr.Request = None):
        return do("stop", run_id, request)

    def delete_any(run_id, request: gr.Request = None):
        return do("delete", run_id, request)

    def hand_over(run_id, account_id, request: gr.Request = None):
        try:
            runs = ctx.access.all_runs(ctx.store, request)
            if not run_id or not account_id:
                return "Pick a run and the account to hand it over to."
            account = ctx.access.users.account(account_id) if ctx.access.users else None
            if account is None:
                return error_md(f"no account '{account_id}' may sign in now", "pick one from the list (↻ Refresh)")
            runs.hand_over(run_id, account.id)
            return ok_md(f"**{esc(run_id)}** now belongs to **{esc(account.name)}**.")
        except Exception as err:  # noqa: BLE001
            return explain(err)

    stop.click(stop_any, pick, message, api_name="admin_stop").then(
        listing, [pick], listed, api_visibility="private")
    delete.click(delete_any, pick, message, api_name="admin_delete").then(
        listing, [pick], listed, api_visibility="private")
    hand.click(hand_over, [pick, to], message, api_name="admin_hand_over").then(
        listing, [pick], listed, api_visibility="private")

    def show_tab(request: gr.Request = None):
        return gr.Tab(visible=ctx.access.identity(request).admin)

    ctx.on_load.append((show_tab, [], [ctx.tabs_by_id["admin"]]))
    ctx.on_load.append((listing, [pick], listed))
    return {"table": table, "pick": pick, "stop": stop, "delete": delete, "to": to, "hand_over": hand}
