"""``toolbox eskiz balance`` and ``toolbox eskiz test-sms PHONE``."""

from __future__ import annotations

import typer

eskiz_app = typer.Typer(help="Eskiz SMS: balance and a test message.", no_args_is_help=True)


def _runtime():
    from toolbox_core.api import Toolbox
    from toolbox_eskiz.runtime import service_of

    toolbox = Toolbox.create()
    return toolbox, service_of(toolbox)


@eskiz_app.command("balance")
def balance() -> None:
    """Print the Eskiz account balance."""
    from toolbox_eskiz.errors import EskizError

    toolbox, service = _runtime()
    try:
        typer.echo(f"Eskiz balance: {service.client.balance()}")
    except EskizError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        toolbox.close()


@eskiz_app.command("test-sms")
def test_sms(phone: str, locale: str = typer.Option("ru", help="ru or uz")) -> None:
    """Send Eskiz's fixed test text to PHONE now (works on a test account too)."""
    from toolbox_core.api import InvalidInput, PermanentFailure, RetryLater, normalize_phone
    from toolbox_eskiz.service import TEST_TEXTS, Outgoing

    toolbox, service = _runtime()
    try:
        number = normalize_phone(phone)
        text = TEST_TEXTS.get(locale, TEST_TEXTS["ru"])
        row_id = service.send(Outgoing(phone=number, text=text, template="eskiz.test", locale=locale), retried=False)
        typer.echo(f"sent: record {row_id} to {number}")
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (PermanentFailure, RetryLater) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        toolbox.close()
