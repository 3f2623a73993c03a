"""``python -m ossfaces_tools.commands``: the same as the ``ossfaces`` console script."""

from ossfaces_tools.commands import main

if __name__ == "__main__":
    main(prog_name="ossfaces")
