"""``python -m studio users``: who may sign in to a shared studio (the users file, ``STUDIO_USERS``).

    python -m studio users add NAME [--admin] [--password-stdin]
    python -m studio users remove NAME
    python -m studio users list          (name, kind, account id: runs belong to the id)
    python -m studio users codes --count 20 --hours 4
"""

from __future__ import annotations

import getpass
import os
import sys
import time


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "users", help="manage who may sign in to a shared studio (the users file)",
        description="Edit the users file that turns on sign-in. Start the studio with STUDIO_USERS=FILE to use it. "
                    "Passwords are read without echo (or from stdin with --password-stdin) and stored only as "
                    "salted hashes.")
    p.add_argument("--file", default=os.environ.get("STUDIO_USERS") or "users.json",
                   help="the users file (default: $STUDIO_USERS, else ./users.json)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    a = verbs.add_parser("add", help="add a user or change their password")
    a.add_argument("name")
    a.add_argument("--admin", action="store_true", help="may see and stop everyone's runs (the Admin tab)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin (for scripts)")
    r = verbs.add_parser("remove", help="remove a user (their runs stay)")
    r.add_argument("name")
    verbs.add_parser("list", help="list users and join codes in use")
    c = verbs.add_parser("codes", help="print join codes for a workshop: each signs in one person, with a name they choose")
    c.add_argument("--count", type=int, default=20, help="how many codes (default 20)")
    c.add_argument("--hours", type=float, default=4.0, help="how long they work (default 4 hours)")
    c.add_argument("--admin", action="store_true", help="codes for helpers who may see everyone's runs")
    p.set_defaults(func=run)


NO_TERMINAL = ("no terminal to type the password in (stdin is not a terminal: a script or a container); nothing was "
               "changed. Pass the password on stdin instead: printf '%s\\n' \"$PASSWORD\" | "
               "python -m studio users add {name} --password-stdin")


def _password(args) -> str:
    from studio.core.errors import StudioError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not (sys.stdin and sys.stdin.isatty()):
        raise StudioError(NO_TERMINAL.format(name=args.name))
    try:
        first = getpass.getpass(f"password for {args.name}: ")
        again = getpass.getpass("again: ")
    except EOFError:
        raise StudioError(NO_TERMINAL.format(name=args.name)) from None
    if again != first:
        raise StudioError("the two passwords differ; nothing was changed")
    return first


def run(args) -> int:
    from studio.server.users import UserBook, check_name

    book = UserBook(args.file)
    if args.verb == "add":
        check_name(args.name)
        book.add(args.name, _password(args), admin=args.admin)
        print(f"{args.name} can sign in{' (admin)' if args.admin else ''}; start the studio with STUDIO_USERS={args.file}")
    elif args.verb == "remove":
        book.remove(args.name)
        print(f"{args.name} removed; their runs stay in the runs folder")
    elif args.verb == "list":
        for u in book.users():
            until = f", until {time.strftime('%Y-%m-%d %H:%M', time.localtime(u['expires']))}" if "expires" in u else ""
            print(f"{u['name']}\t{u['kind']}{' (admin)' if u['admin'] else ''}{until}\t{u['id']}")
    else:
        codes = book.make_codes(args.count, args.hours, admin=args.admin)
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() + args.hours * 3600))
        print(f"# {len(codes)} join codes, each for one person, valid until {until}.")
        print("# Sign in with any name (letters, digits, . _ -) as the username and a code as the password.")
        print("\n".join(codes))
    return 0
