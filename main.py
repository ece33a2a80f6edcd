"""Start CNN Explorer's window: `python main.py [--model NAME] [--image PATH] ...` (see --help)."""

import sys

from explorer.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
