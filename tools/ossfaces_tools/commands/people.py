"""``ossfaces people``: flags into calls of :mod:`ossfaces_tools.people.service`.

``ossfaces people BUCKET …`` runs the update (the group's default command, also ``people update``); the edits are
``people name|merge|split|hide|forget BUCKET ID …``.
"""

from __future__ import annotations

from typing import Any

import click

from ossfaces_tools.commands._shared import bucket_access, oss_options, output_option


class _DefaultToUpdate(click.Group):
    """``people BUCKET`` means ``people update BUCKET``; a known subcommand name goes to that subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["update", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToUpdate)
def people() -> None:
    """Faces clustered into people across a prefix, with stable ids: `ossfaces people BUCKET [--prefix P]`.

    The people file lives in the bucket at <prefix>/.ossfaces/people.json. Edits: name, merge, split, hide, forget.
    """


@people.command("update")
@oss_options
@click.option(
    "--max-distance",
    type=click.FloatRange(0.05, 1.5),
    default=None,
    help="Cosine distance within which faces count as similar [default: the people file's, else 0.5].",
)
@click.option(
    "--min-faces",
    type=click.IntRange(1),
    default=None,
    help="Similar seeding faces needed to found a person [default: the people file's, else 3].",
)
@click.option("--rebuild", is_flag=True, help="Re-cluster every face from scratch; named people keep their ids/names.")
@click.option(
    "--discard-unreadable",
    is_flag=True,
    help="A people file that cannot be read is moved to <prefix>/.ossfaces/unreadable/ and the run goes on without it "
    "(from an older readable copy, or from scratch).",
)
@click.option("--workers", type=click.IntRange(1, 256), default=16, show_default=True, help="Concurrent reads.")
@output_option("--html", "Write a page of people.")
@click.option("--json", "as_json", is_flag=True, help="Print the update and the people as JSON on stdout.")
def update_command(**options: Any) -> None:
    """Read every result under --prefix, place new faces with people (new people where enough similar faces), save."""
    from ossfaces_tools.people.service import PeopleRequest, run_people

    raise SystemExit(run_people(PeopleRequest(bucket_access(options), **options)))


def _edit(options: dict[str, Any], change: Any) -> None:
    from ossfaces_tools.people.service import edit_people

    options.pop("progress")
    click.echo(edit_people(bucket_access(options), options["prefix"], change))


@people.command("name")
@oss_options
@click.argument("person", type=int)
@click.argument("name")
def name_command(person: int, name: str, **options: Any) -> None:
    """Give PERSON a NAME ("" removes it). Names stay through every later run, --rebuild included."""
    from ossfaces_tools.people import model

    _edit(
        options,
        lambda state: f"person {model.name(state, person, name)} named" if name else f"person {person}: name removed",
    )


@people.command("merge")
@oss_options
@click.argument("persons", type=int, nargs=-1, required=True)
@click.option("--into", "into", type=int, required=True, help="The person they become.")
def merge_command(persons: tuple[int, ...], into: int, **options: Any) -> None:
    """Merge PERSONS into --into: their faces move there for good; their ids point to it from now on."""
    from ossfaces_tools.people import model

    _edit(
        options, lambda state: f"merged {', '.join(map(str, persons))} into {model.merge(state, list(persons), into)}"
    )


@people.command("split")
@oss_options
@click.argument("person", type=int)
@click.option("--photo", "photos", multiple=True, help="Move PERSON's face(s) in this photo out (repeatable).")
@click.option("--faces", "faces", multiple=True, metavar="KEY#INDEX", help="Move these faces out (repeatable).")
def split_command(person: int, photos: tuple[str, ...], faces: tuple[str, ...], **options: Any) -> None:
    """Move some of PERSON's faces to a new person (pinned there: later runs do not merge them back)."""
    from ossfaces_tools.people import model
    from ossfaces_tools.people.faces import FaceRef

    if not photos and not faces:
        raise click.UsageError("give --photo KEY or --faces KEY#INDEX")
    try:
        refs = [FaceRef.parse(text) for text in faces]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faces") from exc

    def change(state: Any) -> str:
        moved = refs + [ref for key in photos for ref in model.faces_in_photo(state, person, key)]
        return f"moved {len(moved)} face(s) of {person} to new person {model.split(state, person, moved)}"

    _edit(options, change)


@people.command("hide")
@oss_options
@click.argument("person", type=int)
@click.option("--unhide", is_flag=True, help="Show the person again.")
def hide_command(person: int, unhide: bool, **options: Any) -> None:
    """Leave PERSON out of the page (kept in the file and in the statistics)."""
    from ossfaces_tools.people import model

    _edit(options, lambda state: f"person {model.hide(state, person, not unhide)} {'shown' if unhide else 'hidden'}")


@people.command("forget")
@oss_options
@click.argument("person", type=int, required=False)
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.option("--check", is_flag=True, help="Only check: list every forgotten face whose result still identifies it.")
def forget_command(person: int | None, yes: bool, check: bool, **options: Any) -> None:
    """Delete PERSON: name and faces out of the people file, identities (embeddings) out of their results, for good.

    Resumable: without PERSON (or with one already forgotten) it finishes a forget that was cut short. --check lists
    what is left (exit 1 if anything is).
    """
    from ossfaces_tools.people.forget import check_forgotten, forget_person

    options.pop("progress")
    access = bucket_access(options)
    if check:
        problems = check_forgotten(access, options["prefix"])
        for line in problems:
            click.echo(line)
        click.echo(f"{len(problems)} problem(s)" if problems else "every forgotten face is without identity and marked")
        raise SystemExit(1 if problems else 0)
    if person is not None and not yes:
        click.confirm(f"forget person {person} and strip their face embeddings from the results?", abort=True)
    done = forget_person(access, options["prefix"], person)
    if person is None:
        click.echo(f"finished: identities removed from {done.documents} result document(s)")
    elif done.already:
        click.echo(f"person {person} was already forgotten; identities removed from {done.documents} more result(s)")
    else:
        click.echo(
            f"forgot person {person}: {done.faces} face(s), embeddings removed from {done.documents} result document(s)"
        )
