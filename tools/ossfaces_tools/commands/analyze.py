"""``ossfaces analyze``: the local engine on files or folders, JSON Lines on stdout."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per network (default: the CPUs this process may use, as the function does).",
)
@click.option(
    "--min-face-px",
    type=int,
    default=None,
    help="Smallest face side reported, in pixels [default: the function's default for OSSFACES_MIN_FACE_PX].",
)
@click.option(
    "--score-threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Detector confidence below which a face is dropped [default: the function's default for OSSFACES_SCORE_THRESHOLD].",
)
def analyze(
    paths: tuple[str, ...],
    models_dir: Path | None,
    threads: int | None,
    min_face_px: int | None,
    score_threshold: float | None,
) -> None:
    """Run the local face engine on files or folders; one JSON document per image on stdout (JSON Lines)."""
    from ossfaces.errors import ConfigError
    from ossfaces.settings import DEFAULT_MIN_FACE_PX, DEFAULT_SCORE_THRESHOLD
    from ossfaces.vision import FaceAnalyzer
    from ossfaces_tools.analyze import analyze_paths

    try:
        analyzer = FaceAnalyzer.load(
            models_dir,
            threads=threads,
            min_face_px=min_face_px or DEFAULT_MIN_FACE_PX,
            score_threshold=DEFAULT_SCORE_THRESHOLD if score_threshold is None else score_threshold,
        )
    except ConfigError as exc:
        raise click.ClickException(exc.message) from exc
    for doc in analyze_paths(analyzer, paths):
        click.echo(doc.decode("utf-8"))
