"""``python -m wheelfix``."""

from wheelfix.cli import main

if __name__ == "__main__":
    main()
