"""`python -m newsrag`: the same command line as the `newsrag` script."""

from newsrag.ui.cli import main

if __name__ == "__main__":
    main()
