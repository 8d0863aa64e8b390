"""``python -m qframe``: the ``qframe`` command."""

from .cli import main

if __name__ == "__main__":
    main()
