"""``python -m pytest_imagesize.cli``: the ``pytest-imagesize`` command."""

import sys

from . import main

sys.exit(main())
