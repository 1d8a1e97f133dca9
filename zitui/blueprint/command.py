"""`zitui apply FILE.toml`: check the file, apply it in one transaction, hand out credentials."""

from __future__ import annotations

import sys
from pathlib import Path

from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.credentials import CredentialsFile, to_json
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import load
from zitui.blueprint.specs import Blueprint
from zitui.blueprint.state import Outcome
from zitui.config import Settings
from zitui.core.services import open_services
from zitui.runner import first_run_line


async def run_apply(settings: Settings, blueprint_path: Path, out: Path | None) -> int:
    """Exit 0 once applied; refusals raise a ZituiError naming the file and the place.

    The whole file is checked before the store is opened, and the `--out` target before
    anything is applied; the credentials are written only after the transaction commits.
    """
    source = str(blueprint_path)
    try:
        blueprint = load(blueprint_path)
    except BlueprintError as exc:
        raise exc.in_file(source) from None
    target = CredentialsFile.prepare(out) if out is not None else None
    try:
        outcome = await _apply(settings, blueprint_path, blueprint)
    except BaseException:
        if target is not None:
            target.discard()
        raise
    if target is not None:
        target.write(outcome.credentials)
    else:
        sys.stdout.write(to_json(outcome.credentials))
    _report(source, outcome, target)
    return 0


async def _apply(settings: Settings, path: Path, blueprint: Blueprint) -> Outcome:
    services, setup = await open_services(settings)
    try:
        if setup.generated_password:
            print(first_run_line(setup), file=sys.stderr, flush=True)
        return await apply_blueprint(services, blueprint)
    except BlueprintError as exc:
        raise exc.in_file(str(path)) from None
    finally:
        await services.close()


def _report(source: str, outcome: Outcome, target: CredentialsFile | None) -> None:
    """What changed, one line each; on standard error when the credentials use stdout."""
    stream = sys.stdout if target is not None else sys.stderr
    for line in outcome.lines:
        print(line, file=stream)
    summary = f"zitui: applied {source}: {outcome.created} created, {outcome.changed} changed"
    if target is not None:
        summary += f"; credentials of this run in {target.target}"
    print(summary, file=stream, flush=True)
