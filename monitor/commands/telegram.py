"""`outwatch telegram login -c FILE`: the one interactive step, creating the session file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from pathlib import Path

from monitor import config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("telegram", help="Telegram user account tools")
    actions = p.add_subparsers(dest="telegram_action", metavar="ACTION", required=True)
    login = actions.add_parser(
        "login",
        help="log in (phone, code, 2FA password) and write the session file, mode 0600",
        description="Log the Telegram user account in, interactively, and save the session "
        "file named by sources.telegram.session. The daemon never prompts; it uses this file.",
    )
    login.add_argument("-c", "--config", required=True, help="config file")
    login.set_defaults(func=run_login)


def session_files(session: str) -> list[Path]:
    """The files Telethon keeps for a session name (it adds `.session` when missing)."""
    path = Path(session)
    base = path if path.suffix == ".session" else path.with_name(path.name + ".session")
    return [base, base.with_name(base.name + "-journal")]


def secure(session: str) -> None:
    """Make the session files readable by their owner only: they grant the whole account."""
    for path in session_files(session):
        with contextlib.suppress(FileNotFoundError):
            path.chmod(0o600)


def run_login(args: argparse.Namespace) -> int:
    """Prompt for the login and save the session; exit 2 when the config has no Telegram."""
    cfg = config.load(args.config)
    tg = cfg.sources.telegram
    if tg is None:
        print(
            f"{args.config}: sources.telegram is not configured "
            "(set api_id, api_hash and channels first)",
            file=sys.stderr,
        )
        return 2
    Path(tg.session).parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)  # the file is born private, not just chmod-ed afterwards
    try:
        name = asyncio.run(_login(tg.session, tg.api_id, tg.api_hash.get_secret_value()))
    except EOFError:
        print("outwatch: telegram login needs an interactive terminal", file=sys.stderr)
        return 2
    finally:
        os.umask(old)
        secure(tg.session)
    print(f"logged in as {name}; session saved to {session_files(tg.session)[0]} (mode 0600)")
    return 0


async def _login(session: str, api_id: int, api_hash: str) -> str:
    from telethon import TelegramClient

    client = TelegramClient(session, api_id, api_hash)
    try:
        await client.start(
            phone=lambda: input("Phone number (international format, e.g. +380...): "),
            code_callback=lambda: input("Login code sent by Telegram: "),
            password=lambda: getpass.getpass("Two-step verification password: "),
        )
        me = await client.get_me()
        return f"@{me.username}" if me.username else f"user id {me.id}"
    finally:
        await client.disconnect()
