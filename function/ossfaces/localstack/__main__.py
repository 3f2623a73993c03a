"""``python -m ossfaces.localstack``: the same as ``ossfaces up`` (the whole local stack in the foreground)."""

from ossfaces.cli import up

if __name__ == "__main__":
    up(prog_name="python -m ossfaces.localstack")
