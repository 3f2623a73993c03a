"""``python -m ossfaces.commands``: the same as the ``ossfaces`` console script."""

from ossfaces.commands import main

if __name__ == "__main__":
    main(prog_name="ossfaces")
