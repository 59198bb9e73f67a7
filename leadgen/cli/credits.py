"""``leadgen credits grant`` and ``leadgen credits show``: top up a balance, read them all."""

import argparse

from leadgen import constants as c
from leadgen.cli import exit_codes
from leadgen.cli.jobs import refused, send
from leadgen.cli.render.console import show_credits
from leadgen.cli.terminal import Terminal
from leadgen.ids import new_id
from leadgen.messages.commands import GrantCredits
from leadgen.settings import Settings
from leadgen.worker.backends import opened_store


async def grant(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Publish a grant and say what it did: the new balance and the jobs it resumed."""
    command = GrantCredits(
        customer_id=args.customer,
        feature_id=args.feature,
        amount=args.amount,
        grant_id=args.grant_id or new_id(),
        auto_resume=args.auto_resume,
    )
    answer = await send(settings, args, c.GRANT_KEY, command)
    console = term.console
    if answer is None:
        console.out(f"grant of {command.amount} {command.feature_id} to {command.customer_id} sent")
        return exit_codes.OK
    if not answer.accepted:
        return refused(term, f"grant {command.grant_id}", answer)
    body = answer.body
    done = "was already applied" if body.get("already") else "applied"
    console.out(
        f"grant {command.grant_id} {done}: {command.customer_id} has"
        f" {body['balance']} {command.feature_id}"
    )
    if body["resumed_jobs"]:
        console.out(f"resumed: {', '.join(body['resumed_jobs'])}")
    return exit_codes.OK


async def show(args: argparse.Namespace, settings: Settings, term: Terminal) -> int:
    """Print the customer's balances."""
    async with opened_store(settings) as store:
        balances = await store.balances(args.customer)
    show_credits(term.console, args.customer, balances)
    return exit_codes.OK
